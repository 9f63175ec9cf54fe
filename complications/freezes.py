"""Data freezes: a department head freezes a named selection for publication.

The registry stores, at the moment of the freeze, the statistics API's rates and
cohort answers for the selection and its CSV tables (files under MEDIA_ROOT with
their SHA-256): later edits of the clinical records change none of them. A
freeze prints a citable line (name, date, hash, counts) and may be signed
electronically by a head who re-enters their password, with the meaning
``SIGNATURE_MEANING`` (21 CFR Part 11, section 11.50).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from complications.exports import Selection, exporter_for
from complications.exports.selection import filters_from_json, filters_to_json
from complications.exports.tables import TABLES
from complications.models import DataFreeze, ExportJob
from complications.stats.cohort import cohort
from complications.stats.rates import rates
from registry import roles
from registry.scoping import visible_departments

SIGNATURE_MEANING = gettext_noop("I approve this dataset for publication")


def may_freeze(user: Any) -> bool:
    return bool(
        user.is_authenticated
        and (user.is_superuser or user.groups.filter(name=roles.DEPARTMENT_HEAD).exists())
    )


def freeze_dir(freeze: DataFreeze) -> Path:
    return Path(settings.MEDIA_ROOT) / "freezes" / str(freeze.pk)


def _json(value: Any) -> Any:
    """The answer as the API sends it (dates as ISO strings, decimals as numbers)."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


@transaction.atomic
def freeze_create(*, user: Any, name: str, filters: dict[str, Any]) -> DataFreeze:
    """Freeze the selection ``filters`` (validated statistics filters) under ``name``."""
    if not may_freeze(user):
        raise PermissionDenied(_("Only a department head may freeze a dataset."))
    name = name.strip()
    if not name:
        raise ValidationError({"name": [_("Name the freeze.")]})
    stored = filters_to_json(filters)
    selection = filters_from_json(stored)
    departments = sorted(
        [selection["department"]]
        if selection.get("department")
        else visible_departments(user).values_list("pk", flat=True)
    )
    freeze = DataFreeze(
        name=name,
        filters=stored,
        departments=departments,
        created_by=user,
        rates=_json(rates(user=user, **selection)),
        cohort=_json(cohort(user=user, **selection)),
    )
    freeze.save()
    folder = freeze_dir(freeze)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    export = Selection.for_user(user, selection, departments=departments)
    for kind in TABLES:
        path = folder / f"{kind}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            for chunk in exporter_for(ExportJob.Format.CSV, export, kind=kind).chunks():
                handle.write(chunk)
        files.append({"name": path.name, "sha256": sha256_of(path)})
    freeze.files = files
    freeze.save(update_fields=["files"])
    return freeze


@transaction.atomic
def freeze_sign(*, freeze: DataFreeze, user: Any, password: str) -> DataFreeze:
    """The head's electronic signature: their password re-entered, the meaning recorded."""
    if not may_freeze(user):
        raise PermissionDenied(_("Only a department head may sign a freeze."))
    if not user.check_password(password):
        raise ValidationError({"password": [_("The password is not correct.")]})
    if freeze.signed_at is not None:
        raise ValidationError({"non_field_errors": [_("This freeze is already signed.")]})
    freeze.signed_by = user
    freeze.signed_at = timezone.now()
    freeze.signature_meaning = SIGNATURE_MEANING
    freeze._change_reason = SIGNATURE_MEANING  # type: ignore[attr-defined]
    freeze.save(update_fields=["signed_by", "signed_at", "signature_meaning"])
    return freeze


def freezes_for(user: Any) -> QuerySet[DataFreeze]:
    """The freezes whose departments are all the user's."""
    mine = set(visible_departments(user).values_list("pk", flat=True))
    rows = DataFreeze.objects.select_related("created_by", "signed_by")
    return rows.filter(pk__in=[f.pk for f in rows if set(f.departments) <= mine])


def citation(freeze: DataFreeze) -> str:
    """The line a methods section cites: name, date, hash, counts."""
    digest = hashlib.sha256("".join(f["sha256"] for f in freeze.files).encode()).hexdigest()
    fractures = freeze.cohort.get("fractures", "?")
    patients = freeze.cohort.get("patients", "?")
    return _(
        "%(name)s, PIGSF registry data freeze of %(date)s, SHA-256 %(hash)s "
        "(%(patients)s patients, %(fractures)s fractures)"
    ) % {
        "name": freeze.name,
        "date": freeze.created_at.date().isoformat(),
        "hash": digest[:16],
        "patients": patients,
        "fractures": fractures,
    }
