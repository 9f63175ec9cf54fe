"""``python -m tests.oidc_provider.serve PORT``: migrate, create the users and the registry's
client from the environment, then serve on 127.0.0.1:PORT until stopped."""

from __future__ import annotations

import json
import os
import sys

import django


def main() -> None:
    port = sys.argv[1]
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    for username, entry in settings.PROVIDER_USERS.items():
        User.objects.create_user(
            username=username, password=entry["password"], email=entry.get("email", "")
        )
    client = json.loads(os.environ["PROVIDER_CLIENT"])
    Application.objects.create(
        name="registry",
        client_id=client["client_id"],
        client_secret=client["client_secret"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=client["redirect_uri"],
        post_logout_redirect_uris=client["post_logout_redirect_uri"],
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, verbosity=0)


if __name__ == "__main__":
    main()
