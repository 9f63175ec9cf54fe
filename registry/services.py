"""Writes of the core clinical records.

Each service validates the domain rules of docs/domain.md (which the database
cannot check across tables), then writes inside one transaction, so a write
either fully happens or not at all. Errors are ``ValidationError`` with a dict
of field -> messages, ready for a form or a 400 response.

One module past 600 lines, deliberately: the create, update and delete services of the five
core records share their rules (dates not in the future, no record after a death, locking,
the audit reason, ``clinical_change``), and a reader checks one entity's writes against the
others' in one place. Verification and accounts have their own modules.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from registry import hooks
from registry.audit import change_reason
from registry.models import (
    EARLIEST_BIRTH_DATE,
    Department,
    FollowUp,
    FollowUpStatus,
    Fracture,
    Patient,
    Procedure,
    hash_identifier,
    local_date,
)
from registry.verification import ensure_procedure_unlocked, ensure_unlocked

# Clocks on workstations drift; a clinical "now" may be stamped a little ahead.
CLOCK_SKEW = timedelta(minutes=5)


def in_the_future(value: datetime | date, *, time_zone: str) -> bool:
    """Whether a clinical time or date is later than now: the one rule for every clinical date.

    A time may be up to ``CLOCK_SKEW`` ahead; a date is in the future when it is
    after today in the department's time zone (where the day was lived).
    """
    if isinstance(value, datetime):
        return value > timezone.now() + CLOCK_SKEW
    return value > timezone.localdate(timezone=ZoneInfo(time_zone))


def after_death(value: datetime | date, *, patient: Patient) -> bool:
    """Whether a clinical time or day lies after the patient's recorded death: the one rule
    for contacts, onsets, procedures and closing days. Compared by the local day of the
    department (the death is known to the day)."""
    if patient.death_date is None:
        return False
    if isinstance(value, datetime):
        value = local_date(value, patient.department.time_zone)
    return value > patient.death_date


def _after_death_message(patient: Patient) -> str:
    return _("This is after the patient's death (%(date)s).") % {
        "date": patient.death_date.isoformat() if patient.death_date else ""
    }


def _require_aware(errors: dict[str, list[str]], **values: datetime | None) -> None:
    for field, value in values.items():
        if value is not None and timezone.is_naive(value):
            errors.setdefault(field, []).append(
                _("Give a time zone (e.g. 2020-03-04T09:15:00+01:00).")
            )


def refuse_unknown_fields(fields: Iterable[str], *, allowed: Iterable[str]) -> None:
    """An update naming a field it may not change is refused whole, field by field."""
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ValidationError({f: [_("This field cannot be changed.")] for f in sorted(unknown)})


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def clinical_change(
    *, procedure_ids: Iterable[int] = (), months: Iterable[tuple[int, date]] = ()
) -> None:
    """After a clinical write, inside its transaction: bring the outcome summary of
    the procedures it touched up to date, and move the dashboards' version with it.
    (Public for the admin, whose forms write with the ORM.)"""
    ids = [pk for pk in procedure_ids if pk is not None]
    hooks.outcomes_refresh(procedure_ids=ids, months=months)
    hooks.stats_changed()


def _localise_starts(procedures: models.QuerySet[Procedure]) -> list[int]:
    """Re-derive the local start dates of these procedures, which move when their
    patient changes department or their department changes time zone (a save of
    the procedure itself derives its own); returns the procedures' ids."""
    rows = list(
        procedures.values_list("pk", "started_at", "started_on", "patient__department__time_zone")
    )
    stale = [
        Procedure(pk=pk, started_on=local_date(started_at, zone))
        for pk, started_at, started_on, zone in rows
        if local_date(started_at, zone) != started_on
    ]
    Procedure.objects.bulk_update(stale, ["started_on"], batch_size=500)
    return [row[0] for row in rows]


# --- patients -----------------------------------------------------------------


def _validate_death(*, patient: Patient, errors: dict[str, list[str]]) -> None:
    """The death date: not in the future, not before birth, and nothing clinical after it."""
    death = patient.death_date
    if death is None:
        if patient.death_related is not None:
            errors.setdefault("death_related", []).append(
                _("Say whether the death was related only when a death date is recorded.")
            )
        return
    if in_the_future(death, time_zone=patient.department.time_zone):
        errors.setdefault("death_date", []).append(_("The date of death is in the future."))
    if patient.birth_date is not None and death < patient.birth_date:
        errors.setdefault("death_date", []).append(_("The date of death is before the birth date."))
    if not patient.pk:
        return
    zone = patient.department.time_zone
    later: list[str] = []
    last_start = (
        patient.procedures.order_by("-started_at").values_list("started_at", flat=True).first()
    )
    if last_start is not None and local_date(last_start, zone) > death:
        later.append(_("a procedure (%(date)s)") % {"date": local_date(last_start, zone)})
    last_contact = (
        FollowUp.objects.filter(procedure__patient=patient)
        .order_by("-contact_at")
        .values_list("contact_at", flat=True)
        .first()
    )
    if last_contact is not None and local_date(last_contact, zone) > death:
        later.append(_("a follow-up contact (%(date)s)") % {"date": local_date(last_contact, zone)})
    last_onset = hooks.latest_onset_day(patient=patient)
    if last_onset is not None and last_onset > death:
        later.append(_("a complication onset (%(date)s)") % {"date": last_onset})
    last_closed = (
        patient.procedures.exclude(follow_up_closed_on__isnull=True)
        .order_by("-follow_up_closed_on")
        .values_list("follow_up_closed_on", flat=True)
        .first()
    )
    if last_closed is not None and last_closed > death:
        later.append(_("a follow-up closing day (%(date)s)") % {"date": last_closed})
    if later:
        errors.setdefault("death_date", []).append(
            _("The date of death is before %(records)s recorded for this patient.")
            % {"records": ", ".join(str(item) for item in later)}
        )


def _validate_patient(
    *, birth_date: date, department: Department, patient: Patient | None
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if birth_date < EARLIEST_BIRTH_DATE:
        errors["birth_date"] = [
            _("A birth date before %(year)s is not plausible: check the year.")
            % {"year": EARLIEST_BIRTH_DATE.year}
        ]
    elif in_the_future(birth_date, time_zone=department.time_zone):
        errors["birth_date"] = [_("The birth date is in the future.")]
    elif patient is not None and patient.pk:
        first = (
            patient.procedures.order_by("started_at").values_list("started_at", flat=True).first()
        )
        first_day = local_date(first, department.time_zone) if first is not None else None
        if first_day is not None and birth_date > first_day:
            errors["birth_date"] = [
                _("The birth date is after the patient's procedure of %(date)s.")
                % {"date": first_day.isoformat()}
            ]
    if patient is not None:
        _validate_death(patient=patient, errors=errors)
    return errors


@transaction.atomic
def patient_create(
    *,
    department: Department,
    registry_id: str,
    sex: str,
    birth_date: date,
    hospital_number: str = "",
    death_date: date | None = None,
    death_related: bool | None = None,
) -> Patient:
    errors = _validate_patient(birth_date=birth_date, department=department, patient=None)
    _validate_death(
        patient=Patient(
            department=department,
            birth_date=birth_date,
            death_date=death_date,
            death_related=death_related,
        ),
        errors=errors,
    )
    registry_id = registry_id.strip()
    if Patient.objects.filter(department=department, registry_id=registry_id).exists():
        errors.setdefault("registry_id", []).append(
            _("This registry id is already used in the department.")
        )
    hashed = hash_identifier(hospital_number) if hospital_number.strip() else ""
    if (
        hashed
        and Patient.objects.filter(department=department, hospital_number_hash=hashed).exists()
    ):
        errors.setdefault("hospital_number", []).append(
            _("A patient with this hospital number is already registered in the department.")
        )
    _raise(errors)
    patient = Patient(
        department=department,
        registry_id=registry_id,
        sex=sex,
        birth_date=birth_date,
        hospital_number_hash=hashed,
        death_date=death_date,
        death_related=death_related,
    )
    patient.full_clean()
    patient.save()
    clinical_change()
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, reason: str = "", **fields: Any) -> Patient:
    ensure_unlocked(patient)
    refuse_unknown_fields(
        fields,
        allowed={"registry_id", "sex", "birth_date", "department", "death_date", "death_related"},
    )
    # The sex sets lower limits of normal, the department the time zone of date-only onsets.
    grading_inputs = [
        name
        for name in ("sex", "department")
        if name in fields and fields[name] != getattr(patient, name)
    ]
    for name, value in fields.items():
        setattr(patient, name, value.strip() if name == "registry_id" else value)
    errors = _validate_patient(
        birth_date=patient.birth_date, department=patient.department, patient=patient
    )
    if ("registry_id" in fields or "department" in fields) and Patient.objects.filter(
        department=patient.department, registry_id=patient.registry_id
    ).exclude(pk=patient.pk).exists():
        errors.setdefault("registry_id", []).append(
            _("This registry id is already used in the department.")
        )
    _raise(errors)
    patient.full_clean()
    patient._change_reason = change_reason(reason)
    patient.save()
    if grading_inputs:
        hooks.patient_grading_changed(patient=patient, field=grading_inputs[0])
    procedures = Procedure.objects.filter(patient=patient)
    clinical_change(
        procedure_ids=_localise_starts(procedures)
        if "department" in grading_inputs
        else procedures.values_list("pk", flat=True)
    )
    return patient


# --- procedures ---------------------------------------------------------------


def _validate_closure(
    *, patient: Patient, ended_at: datetime, status: str, closed_on: date | None
) -> dict[str, list[str]]:
    """A closed follow-up has its closing day (not before the end, not in the future, not after
    the death); an open one has none."""
    errors: dict[str, list[str]] = {}
    if status not in FollowUpStatus.values:
        return errors  # the field's own choices say so
    if status == FollowUpStatus.OPEN:
        if closed_on is not None:
            errors["follow_up_closed_on"] = [_("An open follow-up has no closing date.")]
        return errors
    if closed_on is None:
        errors["follow_up_closed_on"] = [_("Give the day the follow-up was closed.")]
        return errors
    zone = patient.department.time_zone
    if in_the_future(closed_on, time_zone=zone):
        errors["follow_up_closed_on"] = [_("The closing date is in the future.")]
    elif timezone.is_aware(ended_at) and closed_on < local_date(ended_at, zone):
        errors["follow_up_closed_on"] = [_("The follow-up cannot close before the procedure ends.")]
    elif after_death(closed_on, patient=patient):
        errors["follow_up_closed_on"] = [_after_death_message(patient)]
    return errors


def _validate_procedure(
    *, patient: Patient, started_at: datetime, ended_at: datetime, procedure: Procedure | None
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    _require_aware(errors, started_at=started_at, ended_at=ended_at)
    if errors:
        return errors
    if after_death(started_at, patient=patient):
        errors.setdefault("started_at", []).append(_after_death_message(patient))
    if ended_at < started_at:
        errors["ended_at"] = [_("The procedure cannot end before it starts.")]
    zone = patient.department.time_zone
    if in_the_future(started_at, time_zone=zone):
        errors.setdefault("started_at", []).append(_("The procedure start is in the future."))
    if in_the_future(ended_at, time_zone=zone):
        errors.setdefault("ended_at", []).append(_("The procedure end is in the future."))
    if (
        patient.birth_date is not None
        and local_date(started_at, patient.department.time_zone) < patient.birth_date
    ):
        errors.setdefault("started_at", []).append(
            _("The procedure starts before the patient's birth date.")
        )
    if procedure is not None and procedure.pk:
        first_contact = (
            procedure.follow_ups.order_by("contact_at").values_list("contact_at", flat=True).first()
        )
        if first_contact is not None and first_contact < started_at:
            errors.setdefault("started_at", []).append(
                _("A follow-up contact of this procedure (%(when)s) would be before its start.")
                % {"when": timezone.localtime(first_contact).isoformat(timespec="minutes")}
            )
    return errors


def case_errors(
    *,
    department: Department,
    patient: Patient | None,
    birth_date: date | None,
    started_at: datetime | None,
    ended_at: datetime | None,
) -> dict[str, list[str]]:
    """What ``patient_create`` and ``procedure_create`` would refuse in a new case's dates, all at
    once and without writing: a form shows every error of the case in one pass. ``patient`` is
    the existing patient, or ``None`` for a new one born on ``birth_date`` (when given)."""
    errors: dict[str, list[str]] = {}
    if patient is None and birth_date is not None:
        errors.update(_validate_patient(birth_date=birth_date, department=department, patient=None))
    if started_at is not None and ended_at is not None:
        subject = patient or Patient(
            department=department,
            birth_date=None if errors else birth_date,  # type: ignore[misc]
        )
        for field, texts in _validate_procedure(
            patient=subject, started_at=started_at, ended_at=ended_at, procedure=None
        ).items():
            errors.setdefault(field, []).extend(texts)
    return errors


@transaction.atomic
def procedure_create(
    *,
    patient: Patient,
    started_at: datetime,
    ended_at: datetime,
    guidance: str,
    anesthesia: str,
    operator: str = "",
    follow_up_status: str = FollowUpStatus.OPEN,
    follow_up_closed_on: date | None = None,
) -> Procedure:
    errors = _validate_procedure(
        patient=patient, started_at=started_at, ended_at=ended_at, procedure=None
    )
    if not errors:
        errors = _validate_closure(
            patient=patient,
            ended_at=ended_at,
            status=follow_up_status,
            closed_on=follow_up_closed_on,
        )
    _raise(errors)
    procedure = Procedure(
        patient=patient,
        started_at=started_at,
        ended_at=ended_at,
        guidance=guidance,
        anesthesia=anesthesia,
        operator=operator.strip(),
        follow_up_status=follow_up_status,
        follow_up_closed_on=follow_up_closed_on,
    )
    procedure.full_clean()
    procedure.save()
    clinical_change()
    return procedure


@transaction.atomic
def procedure_update(*, procedure: Procedure, reason: str = "", **fields: Any) -> Procedure:
    """Update a procedure; when its times or patient change, every complication is re-derived.

    A change that would put an existing complication's onset before the start
    is refused as a whole (the complications service raises, the transaction
    rolls back).
    """
    ensure_unlocked(procedure)
    refuse_unknown_fields(
        fields,
        allowed={
            "patient",
            "started_at",
            "ended_at",
            "guidance",
            "anesthesia",
            "operator",
            "follow_up_status",
            "follow_up_closed_on",
        },
    )
    if (
        fields.get("follow_up_status") == FollowUpStatus.OPEN
        and "follow_up_closed_on" not in fields
    ):
        fields["follow_up_closed_on"] = None  # reopening clears the closing day
    # The times place every onset; another patient brings another sex and department.
    grading_inputs = [
        name
        for name in ("patient", "started_at", "ended_at")
        if name in fields and fields[name] != getattr(procedure, name)
    ]
    for name, value in fields.items():
        setattr(procedure, name, value)
    errors = _validate_procedure(
        patient=procedure.patient,
        started_at=procedure.started_at,
        ended_at=procedure.ended_at,
        procedure=procedure,
    )
    if not errors:
        errors = _validate_closure(
            patient=procedure.patient,
            ended_at=procedure.ended_at,
            status=procedure.follow_up_status,
            closed_on=procedure.follow_up_closed_on,
        )
    _raise(errors)
    procedure.full_clean()
    procedure._change_reason = change_reason(reason)
    procedure.save()
    if grading_inputs:
        # Refusals of a new patient are its; of new times, the onsets' (their fields).
        hooks.procedure_timing_changed(
            procedure=procedure, field="patient" if "patient" in grading_inputs else None
        )
    clinical_change(procedure_ids=[procedure.pk])
    return procedure


# --- fractures and follow-ups -------------------------------------------------


@transaction.atomic
def fracture_create(
    *,
    procedure: Procedure,
    type: str,
    site: str,
    side: str,
    screws: int = 1,
    aetiology: str = "",
    cement_augmented: bool = False,
) -> Fracture:
    # A new fracture would join the locked records that cover all fractures.
    ensure_procedure_unlocked(procedure.pk)
    fracture = Fracture(
        procedure=procedure,
        type=type,
        site=site,
        side=side,
        screws=screws,
        aetiology=aetiology,
        cement_augmented=cement_augmented,
    )
    fracture.full_clean()
    fracture.save()
    all_fractures_cover(procedure_ids=[fracture.procedure_id])
    clinical_change(procedure_ids=[fracture.procedure_id])
    return fracture


def all_fractures_cover(*, procedure_ids: Iterable[int]) -> None:
    """Link every fracture of these procedures to their contacts and complications
    recorded for all the fractures, so a fracture recorded later is covered too.
    (Public for the admin, whose inlines add fractures with the ORM.)"""
    owned: dict[int, set[int]] = {}
    for pk, procedure_id in Fracture.objects.filter(procedure_id__in=procedure_ids).values_list(
        "pk", "procedure_id"
    ):
        owned.setdefault(procedure_id, set()).add(pk)
    ids = list(owned)
    covering = [
        FollowUp.objects.filter(procedure_id__in=ids, all_fractures=True),
        *hooks.all_fractures_records(procedure_ids=ids),
    ]
    for records in covering:
        for record in records.prefetch_related("fractures"):
            missing = owned[record.procedure_id] - {f.pk for f in record.fractures.all()}
            if missing:
                record.fractures.add(*missing)


@transaction.atomic
def fracture_update(*, fracture: Fracture, reason: str = "", **fields: Any) -> Fracture:
    ensure_unlocked(fracture)
    refuse_unknown_fields(fields, allowed=Fracture.CLINICAL_FIELDS)
    for name, value in fields.items():
        setattr(fracture, name, value)
    fracture.full_clean()
    fracture._change_reason = change_reason(reason)
    fracture.save()
    clinical_change(procedure_ids=[fracture.procedure_id])
    return fracture


def resolve_fractures(
    *, procedure: Procedure, fractures: Iterable[Fracture | int] | None, field: str = "fractures"
) -> tuple[bool, list[Fracture]]:
    """Whether a follow-up or complication covers all the procedure's fractures, and
    the fractures it covers now.

    None named (absent or empty) means all of them, including those recorded later
    (``fracture_create`` adds them); naming fractures restricts it to those. Naming
    a fracture of another procedure is an error (never silently dropped).
    """
    own = {f.pk: f for f in procedure.fractures.all()}
    if not fractures:
        return True, list(own.values())
    chosen: list[Fracture] = []
    foreign: list[str] = []
    for item in fractures:
        pk = item.pk if isinstance(item, Fracture) else int(item)
        if pk in own:
            if own[pk] not in chosen:
                chosen.append(own[pk])
        else:
            foreign.append(str(pk))
    if foreign:
        raise ValidationError(
            {
                field: [
                    _("Fracture(s) %(ids)s are not fractures of this procedure.")
                    % {"ids": ", ".join(foreign)}
                ]
            }
        )
    return False, chosen


def _validate_follow_up(*, procedure: Procedure, contact_at: datetime) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    _require_aware(errors, contact_at=contact_at)
    if errors:
        return errors
    if contact_at < procedure.started_at:
        errors["contact_at"] = [_("A follow-up contact cannot be before the procedure start.")]
    elif in_the_future(contact_at, time_zone=procedure.patient.department.time_zone):
        errors["contact_at"] = [_("The follow-up contact is in the future.")]
    elif after_death(contact_at, patient=procedure.patient):
        errors["contact_at"] = [_after_death_message(procedure.patient)]
    return errors


@transaction.atomic
def follow_up_create(
    *,
    procedure: Procedure,
    contact_at: datetime,
    kind: str,
    fractures: Iterable[Fracture | int] | None = None,
    notes: str = "",
) -> FollowUp:
    _raise(_validate_follow_up(procedure=procedure, contact_at=contact_at))
    all_fractures, covered = resolve_fractures(procedure=procedure, fractures=fractures)
    follow_up = FollowUp(
        procedure=procedure,
        contact_at=contact_at,
        kind=kind,
        notes=notes,
        all_fractures=all_fractures,
    )
    follow_up.full_clean()
    follow_up.save()
    follow_up.fractures.set(covered)
    clinical_change(procedure_ids=[procedure.pk])
    return follow_up


@transaction.atomic
def follow_up_update(
    *,
    follow_up: FollowUp,
    fractures: Iterable[Fracture | int] | None = None,
    reason: str = "",
    **fields: Any,
) -> FollowUp:
    """``fractures``: None keeps the covered fractures as they are; empty means all
    of them (``resolve_fractures``)."""
    ensure_unlocked(follow_up)
    refuse_unknown_fields(fields, allowed={"contact_at", "kind", "notes"})
    for name, value in fields.items():
        setattr(follow_up, name, value)
    _raise(_validate_follow_up(procedure=follow_up.procedure, contact_at=follow_up.contact_at))
    covered = None
    if fractures is not None:
        follow_up.all_fractures, covered = resolve_fractures(
            procedure=follow_up.procedure, fractures=fractures
        )
    follow_up.full_clean()
    follow_up._change_reason = change_reason(reason)
    follow_up.save()
    if covered is not None:
        follow_up.fractures.set(covered)
    clinical_change(procedure_ids=[follow_up.procedure_id])
    return follow_up


# --- departments ----------------------------------------------------------------


@transaction.atomic
def department_create(
    *, code: str, name: str, time_zone: str = "Europe/Paris", default_guidance: str = "ct"
) -> Department:
    department = Department(
        code=code.strip(), name=name.strip(), time_zone=time_zone, default_guidance=default_guidance
    )
    department.full_clean()
    department.save()
    return department


@transaction.atomic
def department_update(*, department: Department, **fields: Any) -> Department:
    """Update a department; a new time zone re-derives its complications' windows.

    Date-only onsets are classified by the department's local day, so a time
    zone change can move them (or make one straddle two windows, which refuses
    the whole change).
    """
    refuse_unknown_fields(fields, allowed={"code", "name", "time_zone", "default_guidance"})
    zone_changed = "time_zone" in fields and fields["time_zone"] != department.time_zone
    for name, value in fields.items():
        setattr(department, name, value.strip() if name in ("code", "name") else value)
    department.full_clean()
    department.save()
    if zone_changed:
        hooks.department_zone_changed(department=department)
        # Its procedures' local start dates (and so their months) move with the zone.
        clinical_change(
            procedure_ids=_localise_starts(Procedure.objects.filter(patient__department=department))
        )
    return department


# --- deletion -------------------------------------------------------------------


@transaction.atomic
def record_delete(*, record: models.Model, reason: str = "") -> None:
    """Delete a record (and what cascades from it); refused while protected records depend on it.

    A procedure with complications, or a patient with procedures, is never
    deleted with them: the dependants must be removed deliberately first. A
    fracture that a complication concerns is kept too: deleting it would
    silently take the complication out of the per-fracture rates.
    A record of a verified case is locked (``registry.verification``).
    """
    ensure_unlocked(record)
    if isinstance(record, Fracture) and record.complications.exists():
        raise ValidationError(
            {
                "non_field_errors": [
                    _(
                        "This fracture is concerned by %(n)s complication(s); change or delete them first."
                    )
                    % {"n": record.complications.count()}
                ]
            }
        )
    # A deleted procedure's summary rows go with it; the months that counted it stay.
    months = (
        hooks.outcomes_months(procedure_ids=[record.pk]) if isinstance(record, Procedure) else set()
    )
    try:
        with transaction.atomic():
            record._change_reason = change_reason(reason)  # type: ignore[attr-defined]
            record.delete()
    except models.ProtectedError as exc:
        counts: dict[str, int] = {}
        for obj in exc.protected_objects:
            label = str(obj._meta.verbose_name_plural)
            counts[label] = counts.get(label, 0) + 1
        dependants = ", ".join(f"{count} {label}" for label, count in sorted(counts.items()))
        raise ValidationError(
            {
                "non_field_errors": [
                    _(
                        "This %(record)s cannot be deleted while it has %(dependants)s; delete them first."
                    )
                    % {"record": record._meta.verbose_name, "dependants": dependants}
                ]
            }
        ) from None
    clinical_change(procedure_ids=[getattr(record, "procedure_id", None)], months=months)
