"""Source-data verification and locking: the one rule for which records are locked.

A data manager verifies a case (``procedure_verify``): the procedure gets
``verified_at`` and ``verified_by``, and the case as it stands is locked: the
procedure, its patient, its fractures, and the follow-ups and complications
recorded up to the verification. Follow-ups and complications added later are
unverified and stay editable. Every service that changes or deletes a clinical
record calls ``ensure_unlocked`` first (whatever the entry point: pages, API,
admin, tasks); the API answers ``RecordLocked`` with a 409. ``procedure_unlock``
takes a reason, kept in the audit trail with the unlocking user.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from registry import roles
from registry.audit import change_reason
from registry.models import Fracture, Patient, Procedure
from registry.scoping import scope_to_user


class RecordLocked(ValidationError):
    """A change or deletion of a record of a verified case (the API's 409)."""


def may_verify(user: Any) -> bool:
    """Data managers (and administrators) verify and unlock cases."""
    return bool(
        user.is_authenticated
        and (user.is_superuser or user.groups.filter(name=roles.DATA_MANAGER).exists())
    )


def locking_procedure(record: models.Model) -> Procedure | None:
    """The verified procedure that locks ``record``, or None when it is not locked.

    A procedure locks itself, its fractures, and the follow-ups and complications
    (any record with a ``procedure`` and a ``created_at``) recorded up to its
    verification; a patient is locked by any of its verified procedures. Read
    from the database, so an instance changed in memory cannot unlock itself.
    """
    if record.pk is None:
        return None
    verified = Procedure.objects.filter(verified_at__isnull=False)
    if isinstance(record, Procedure):
        return verified.filter(pk=record.pk).first()
    if isinstance(record, Patient):
        return verified.filter(patient_id=record.pk).order_by("verified_at").first()
    procedure_id = getattr(record, "procedure_id", None)
    if procedure_id is None:
        return None
    procedure = verified.filter(pk=procedure_id).first()
    if procedure is None or procedure.verified_at is None:
        return None
    created_at: datetime | None = getattr(record, "created_at", None)
    if not isinstance(record, Fracture) and created_at is not None:
        if created_at > procedure.verified_at:
            return None  # a follow-up or complication added after the verification
    return procedure


def verification_context(
    user: Any, procedure: Procedure, follow_ups: Iterable[Any], complications: Iterable[Any]
) -> dict[str, Any]:
    """What the case page shows of the verification: whether the case is locked,
    who may verify or unlock it, and the records added since (unverified, editable)."""
    verified_at = procedure.verified_at
    later = (
        set()
        if verified_at is None
        else {
            (type(record).__name__, record.pk)
            for record in [*follow_ups, *complications]
            if record.created_at > verified_at
        }
    )
    return {
        "locked": verified_at is not None,
        "may_verify": may_verify(user),
        "unverified_follow_ups": {pk for kind, pk in later if kind == "FollowUp"},
        "unverified_complications": {pk for kind, pk in later if kind != "FollowUp"},
    }


def is_locked(record: models.Model) -> bool:
    return locking_procedure(record) is not None


def ensure_unlocked(record: models.Model) -> None:
    """Refuse (``RecordLocked``) a change or deletion of a record of a verified case."""
    procedure = locking_procedure(record)
    if procedure is not None and procedure.verified_at is not None:
        raise RecordLocked(
            {
                "non_field_errors": [
                    _(
                        "This %(record)s is locked: its case was verified on %(when)s. "
                        "A data manager must unlock the case before it can be changed."
                    )
                    % {
                        "record": record._meta.verbose_name,
                        "when": timezone.localtime(procedure.verified_at).isoformat(
                            timespec="minutes"
                        ),
                    }
                ]
            }
        )


def ensure_procedure_unlocked(procedure_id: int) -> None:
    """Refuse adding to a verified procedure what would change its locked records
    (a fracture: the follow-ups and complications covering all fractures would change)."""
    procedure = Procedure.objects.filter(pk=procedure_id).first()
    if procedure is not None:
        ensure_unlocked(procedure)


def _refuse_unless_allowed(user: Any) -> None:
    if not may_verify(user):
        raise PermissionDenied(_("Only a data manager may verify or unlock a case."))


@transaction.atomic
def procedure_verify(*, procedure: Procedure, user: Any) -> Procedure:
    """Verify the case against the source records: it is locked as it stands."""
    _refuse_unless_allowed(user)
    procedure = Procedure.objects.select_for_update().get(pk=procedure.pk)
    if procedure.verified_at is not None:
        raise ValidationError({"non_field_errors": [_("This case is already verified.")]})
    procedure.verified_at = timezone.now()
    procedure.verified_by = user
    procedure._change_reason = change_reason(_("Source data verified"))  # type: ignore[attr-defined]
    procedure.save(update_fields=["verified_at", "verified_by"])
    return procedure


@transaction.atomic
def procedure_unlock(*, procedure: Procedure, user: Any, reason: str) -> Procedure:
    """Unlock a verified case; the reason is kept in the audit trail."""
    _refuse_unless_allowed(user)
    if not reason.strip():
        raise ValidationError({"reason": [_("Give the reason for unlocking the case.")]})
    procedure = Procedure.objects.select_for_update().get(pk=procedure.pk)
    if procedure.verified_at is None:
        raise ValidationError({"non_field_errors": [_("This case is not verified.")]})
    procedure.verified_at = None
    procedure.verified_by = None
    procedure._change_reason = change_reason(  # type: ignore[attr-defined]
        _("Unlocked: %(reason)s") % {"reason": reason.strip()}
    )
    procedure.save(update_fields=["verified_at", "verified_by"])
    return procedure


def verified_share(user: Any) -> dict[str, int]:
    """How many of the user's cases are verified, of how many (the dashboard's share)."""
    return scope_to_user(Procedure.objects.all(), user).aggregate(
        verified=Count("pk", filter=Q(verified_at__isnull=False)), total=Count("pk")
    )
