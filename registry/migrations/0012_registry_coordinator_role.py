"""Add the read-only "registry coordinator" role: no permission on any clinical model, only
``registry.view_all_aggregates`` (every department's aggregates by name).

The table is frozen here: every role as ``registry.roles`` declared it when this
migration was written (``tests/registry/test_migrations_frozen.py``).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

_CLINICAL = {
    "registry": ("patient", "procedure", "fracture", "followup"),
    "complications": ("complicationevent",),
}


def _on_clinical(*actions):
    return tuple(
        f"{app}.{action}_{model}"
        for app, models in _CLINICAL.items()
        for model in models
        for action in actions
    )


ROLES = {
    "radiologist": _on_clinical("view", "add", "change", "delete"),
    "department_head": _on_clinical("view")
    + ("registry.manage_quality_targets", "registry.export_data"),
    "data_manager": _on_clinical("view", "add", "change", "delete") + ("registry.export_data",),
    "api_client": _on_clinical("view") + ("registry.export_data",),
    "registry_coordinator": ("registry.view_all_aggregates",),
}


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, permissions in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for perm in permissions:
            app_label, codename = perm.split(".")
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)


def remove_coordinator(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="registry_coordinator").delete()


class Migration(migrations.Migration):
    dependencies = [("registry", "0011_department_view_all_aggregates")]
    operations = [migrations.RunPython(create_roles, remove_coordinator)]
