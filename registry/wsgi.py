import os

from django.core.management import call_command
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
application = get_wsgi_application()
# gunicorn runs no system checks: serve nothing that ``manage.py check`` refuses.
call_command("check")
