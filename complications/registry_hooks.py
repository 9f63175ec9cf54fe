"""What ``complications`` does when a registry write announces a change (``registry.hooks``).

Connected once at start-up by ``ComplicationsConfig.ready``, which also registers
complications' clinical and audited models with registry's roles and audit trail;
each hook runs in the registry service's transaction.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from complications import grading_text, term_translations
from complications.counting import contact_evidence
from complications.ctcae import DELAYED, EARLY
from complications.live import bump_stats_version
from complications.models import ComplicationEvent
from complications.outcomes.refresh import outcomes_months, outcomes_refresh
from complications.services import complications_rederive, complications_rederive_for_procedure
from registry import hooks
from registry.audit.selectors import register_audited
from registry.models import Department, FollowUp, Patient, Procedure, local_date
from registry.roles import register_clinical_models


def _patient_grading_changed(*, patient: Patient, field: str) -> None:
    complications_rederive(
        events=ComplicationEvent.objects.filter(procedure__patient=patient), field=field
    )


def _procedure_timing_changed(*, procedure: Procedure, field: str | None) -> None:
    complications_rederive_for_procedure(procedure=procedure, field=field)


def _department_zone_changed(*, department: Department) -> None:
    complications_rederive(
        events=ComplicationEvent.objects.filter(procedure__patient__department=department)
    )


def _all_fractures_records(*, procedure_ids: list[int]) -> list[QuerySet[Any]]:
    return [ComplicationEvent.objects.filter(procedure_id__in=procedure_ids, all_fractures=True)]


def _case_complications(*, procedure: Procedure) -> list[Any]:
    events = list(procedure.complications.select_related("term").prefetch_related("fractures"))
    names = term_translations.names_by_code(event.term_id for event in events) if events else {}
    for event in events:
        event.term_shown = names.get(event.term_id, event.term.name)  # type: ignore[attr-defined]
        event.rationale_shown = grading_text.recorded_rationale(  # type: ignore[attr-defined]
            event, sex=procedure.patient.sex
        )
    return events


def _follow_up_evidence() -> tuple[Q, Q]:
    contacts = contact_evidence(
        FollowUp.objects.filter(fractures=OuterRef("pk")), OuterRef("procedure__ended_at")
    )
    # An onset in a window is itself evidence of follow-up up to that window.
    events = ComplicationEvent.fractures.through.objects.filter(fracture_id=OuterRef("pk"))
    return (
        Q(contacts["contact_after_end"])
        | Q(Exists(events.filter(complicationevent__window__in=[EARLY, DELAYED]))),
        Q(contacts["contact_beyond_24h"])
        | Q(Exists(events.filter(complicationevent__window=DELAYED))),
    )


def _latest_onset_day(*, patient: Patient) -> date | None:
    zone = patient.department.time_zone
    events = ComplicationEvent.objects.filter(procedure__patient=patient)
    last_at = (
        events.exclude(onset_at__isnull=True)
        .order_by("-onset_at")
        .values_list("onset_at", flat=True)
        .first()
    )
    last_date = (
        events.exclude(onset_date__isnull=True)
        .order_by("-onset_date")
        .values_list("onset_date", flat=True)
        .first()
    )
    days = [d for d in (local_date(last_at, zone) if last_at else None, last_date) if d]
    return max(days) if days else None


def connect() -> None:
    register_clinical_models("complications", ["complicationevent"])
    register_audited("complication", ComplicationEvent)
    hooks.outcomes_refresh.connect(outcomes_refresh)
    hooks.outcomes_months.connect(outcomes_months)
    hooks.stats_changed.connect(bump_stats_version)
    hooks.patient_grading_changed.connect(_patient_grading_changed)
    hooks.procedure_timing_changed.connect(_procedure_timing_changed)
    hooks.department_zone_changed.connect(_department_zone_changed)
    hooks.all_fractures_records.connect(_all_fractures_records)
    hooks.case_complications.connect(_case_complications)
    hooks.follow_up_evidence.connect(_follow_up_evidence)
    hooks.latest_onset_day.connect(_latest_onset_day)
