"""Create the registry's role groups with their permissions (see registry.roles)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from registry.roles import ROLE_ACTIONS, role_permissions


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role in ROLE_ACTIONS:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for perm in role_permissions(role):
            app_label, codename = perm.split(".")
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0002_department_permissions"),
        ("complications", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
