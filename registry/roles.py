"""The registry's roles, expressed as Django groups.

The groups and their model permissions are created by a data migration
(``registry/migrations/0003_roles.py``, a frozen table that must equal this module:
``tests/registry/test_migrations_frozen.py``) so that every installation has them.
What a role may see is further limited to its departments by ``registry.scoping``.
"""

from __future__ import annotations

RADIOLOGIST = "radiologist"
DEPARTMENT_HEAD = "department_head"
DATA_MANAGER = "data_manager"
API_CLIENT = "api_client"
# Read-only, registry-wide: sees the aggregates (funnel plots, risk-adjusted ratios) of every
# department by name (``VIEW_ALL_AGGREGATES``), and no patient-level record (no permission on
# any clinical model).
REGISTRY_COORDINATOR = "registry_coordinator"

# app label -> its clinical models (lower-case names). Another app adds its own at start-up
# (``register_clinical_models``, from its ``AppConfig.ready``): registry names none of them.
CLINICAL_MODELS: dict[str, list[str]] = {
    "registry": ["patient", "procedure", "fracture", "followup"],
}


def register_clinical_models(app_label: str, model_names: list[str]) -> None:
    """Give the roles the same actions on another app's clinical models (idempotent)."""
    models = CLINICAL_MODELS.setdefault(app_label, [])
    models.extend(name for name in model_names if name not in models)


# role -> actions on every clinical model
ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    RADIOLOGIST: ("view", "add", "change", "delete"),
    DEPARTMENT_HEAD: ("view",),
    DATA_MANAGER: ("view", "add", "change", "delete"),
    API_CLIENT: ("view",),
    REGISTRY_COORDINATOR: (),
}

# Extra permissions: who may export registry ids (identifiers) and set quality targets.
EXPORT_IDENTIFIERS = "registry.export_identifiers"
VIEW_ALL_AGGREGATES = "registry.view_all_aggregates"
ROLE_EXTRA: dict[str, tuple[str, ...]] = {
    DEPARTMENT_HEAD: ("registry.manage_quality_targets", "registry.export_data"),
    DATA_MANAGER: ("registry.export_data",),
    API_CLIENT: ("registry.export_data",),
    REGISTRY_COORDINATOR: (VIEW_ALL_AGGREGATES,),
}


def role_permissions(role: str) -> list[str]:
    """``app_label.codename`` of every permission the role holds."""
    perms = [
        f"{app}.{action}_{model}"
        for app, models in CLINICAL_MODELS.items()
        for model in models
        for action in ROLE_ACTIONS[role]
    ]
    return perms + list(ROLE_EXTRA.get(role, ()))


def is_registry_coordinator(user: object) -> bool:
    """Superusers and registry coordinators see every department's aggregates by name."""
    has_perm = getattr(user, "has_perm", None)
    return bool(
        getattr(user, "is_authenticated", False) and has_perm and has_perm(VIEW_ALL_AGGREGATES)
    )
