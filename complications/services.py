"""Writes of complications: record, update, override, re-derive, regrade.

The grade, severity, window and hours after the end are derived here from the
recorded facts and times by the pure core (``complications.ctcae``), never typed
in, and re-derived whenever the facts, the onset or the procedure times change.
Every write happens in one transaction; errors are ``ValidationError`` with a
dict of field -> messages.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from complications import ctcae, grading_text
from complications.live import bump_stats_version
from complications.models import ComplicationEvent, CtcaeTerm, Outcome
from complications.outcomes.refresh import outcomes_refresh
from registry.audit import change_reason
from registry.models import Fracture, Procedure
from registry.services import (
    after_death,
    in_the_future,
    refuse_unknown_fields,
    resolve_fractures,
)
from registry.verification import ensure_unlocked

ONSET_FIELDS = ("onset_at", "onset_date", "during_procedure")


# --- the catalogue ------------------------------------------------------------


def core_term(term: CtcaeTerm) -> ctcae.Term:
    """The pure core's view of a stored term."""
    return ctcae.Term(
        code=term.code, name=term.name, soc=term.soc, grades=term.grades, definition=term.definition
    )


def get_term(code: str, *, field: str = "term") -> CtcaeTerm:
    try:
        return CtcaeTerm.objects.get(code=str(code).strip())
    except CtcaeTerm.DoesNotExist:
        raise ValidationError(
            {
                field: [
                    _("%(code)s is not a CTCAE v5.0 term code of this registry.") % {"code": code}
                ]
            }
        ) from None


@transaction.atomic
def catalogue_sync(*, terms: Iterable[ctcae.Term], curated: bool) -> dict[str, int]:
    """Create or update stored terms; returns counts. A curated flag is never removed by a full import.

    The complications of every term whose text changed are re-graded in the same
    transaction; a change that would leave one of them fitting no grade is refused
    as a whole, naming them (a data manager corrects those first, or the
    catalogue's change is reconsidered), so no stored grade ever disagrees with
    the catalogue.
    """
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    existing = {t.code: t for t in CtcaeTerm.objects.all()}
    updated: list[str] = []
    for term in terms:
        values: dict[str, Any] = {
            "name": term.name,
            "soc": term.soc,
            "definition": term.definition,
            **{f"grade_{g}": term.grades.get(g) for g in range(1, 6)},
        }
        stored = existing.get(term.code)
        if stored is None:
            CtcaeTerm.objects.create(code=term.code, curated=curated, **values)
            counts["created"] += 1
            continue
        if curated:
            values["curated"] = True
        changed = {k: v for k, v in values.items() if getattr(stored, k) != v}
        if changed:
            CtcaeTerm.objects.filter(pk=stored.pk).update(**changed)
            counts["updated"] += 1
            updated.append(stored.code)
        else:
            counts["unchanged"] += 1
    if updated:
        complications_rederive(
            events=ComplicationEvent.objects.filter(term__code__in=updated), field="terms"
        )
    return counts


# --- derivation -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Derived:
    auto_grade: int
    rationale: str
    window: str
    hours_after_end: float | None
    grades_available: tuple[int, ...]


def _grade(
    term: CtcaeTerm, facts: Mapping[str, Any] | None, *, sex: str | None
) -> ctcae.GradeResult:
    core = core_term(term)
    try:
        parsed = ctcae.parse_facts(dict(facts or {}), core)
    except ctcae.FactsError as exc:
        raise ValidationError(
            {
                "facts": [
                    f"{key}: {message}"
                    for key, messages in exc.errors.items()
                    for message in messages
                ]
            }
        ) from None
    try:
        return ctcae.grade(core, parsed, sex=sex)
    except ctcae.GradingError as exc:
        raise ValidationError({"facts": [grading_text.refusal(exc)]}) from None


def _timing(
    procedure: Procedure,
    *,
    onset_at: datetime | None,
    onset_date: date | None,
    during_procedure: bool,
) -> ctcae.Timing:
    try:
        return ctcae.classify_onset(
            started_at=procedure.started_at,
            ended_at=procedure.ended_at,
            time_zone=procedure.patient.department.time_zone,
            onset_at=onset_at,
            onset_date=onset_date,
            during_procedure=during_procedure,
        )
    except ctcae.TimingError as exc:
        raise ValidationError({exc.field: [str(exc)]}) from None


def grading_preview(
    *, term: str, facts: Mapping[str, Any] | None, sex: str | None = None
) -> ctcae.GradeResult:
    """Grade facts without saving anything (the case form's live grade, the preview endpoint)."""
    return _grade(get_term(term), facts, sex=sex)


def _future_onset_errors(event: ComplicationEvent) -> dict[str, list[str]]:
    patient = event.procedure.patient
    zone = patient.department.time_zone
    for field in ("onset_at", "onset_date"):
        value = getattr(event, field)
        if value is not None and in_the_future(value, time_zone=zone):
            return {field: [_("The onset is in the future.")]}
        if value is not None and after_death(value, patient=patient):
            return {
                field: [
                    _("The onset is after the patient's death (%(date)s).")
                    % {"date": patient.death_date}
                ]
            }
    return {}


def _check_outcome(event: ComplicationEvent, *, grade: int, errors: dict[str, list[str]]) -> None:
    """CTCAE grade 5 is death related to the event: the grade and the outcome say the same."""
    dead = event.outcome == Outcome.DEATH
    if dead == (grade == 5):
        return
    outcome = dict(Outcome.choices).get(event.outcome, event.outcome) or _("not given")
    message = (
        _("The outcome is “%(outcome)s” but the grade is %(grade)s: a death is grade 5.")
        if dead
        else _("The grade is 5 (death) but the outcome is “%(outcome)s”: it must be “death”.")
    )
    errors.setdefault("outcome", []).append(message % {"outcome": outcome, "grade": grade})


# The free-text fields a user writes; their length limits are the model's (max_length).
TEXT_FIELDS = ("specify", "override_reason", "description")


def _text_length_errors(event: ComplicationEvent) -> dict[str, list[str]]:
    """Each free-text field longer than its limit, named (whatever door the write came in by)."""
    others = [f.name for f in ComplicationEvent._meta.fields if f.name not in TEXT_FIELDS]
    try:
        event.clean_fields(exclude=others)
    except ValidationError as exc:
        return dict(exc.message_dict)
    return {}


def complication_derive(event: ComplicationEvent) -> None:
    """Set every derived field of ``event`` from its facts, term, onset and procedure."""
    procedure = event.procedure
    errors: dict[str, list[str]] = _text_length_errors(event)
    try:
        result = _grade(event.term, event.facts, sex=procedure.patient.sex)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        result = None
    try:
        timing = _timing(
            procedure,
            onset_at=event.onset_at,
            onset_date=event.onset_date,
            during_procedure=event.during_procedure,
        )
    except ValidationError as exc:
        errors.update(exc.message_dict)
        timing = None
    # An onset in the future has no window to speak of: say that instead.
    errors.update(_future_onset_errors(event))
    if core_term(event.term).is_other_specify and not event.specify.strip():
        errors["specify"] = [
            _("Say what the event is: “%(term)s” needs a specifying text.")
            % {"term": event.term.name}
        ]
    if event.grade_override is not None:
        available = core_term(event.term).grades_available
        if event.grade_override not in available:
            errors["grade_override"] = [
                _("%(term)s has no grade %(grade)s; its grades are %(grades)s.")
                % {
                    "term": event.term.name,
                    "grade": event.grade_override,
                    "grades": ", ".join(map(str, available)),
                }
            ]
        if not event.override_reason.strip():
            errors["override_reason"] = [_("An override needs a written reason.")]
    elif event.override_reason.strip():
        errors["override_reason"] = [_("A reason is only kept with a grade override.")]
    if event.outcome_facts:
        try:
            outcome = ctcae.OutcomeFacts(**event.outcome_facts)
        except (TypeError, ValueError) as exc:
            errors["outcome_facts"] = [str(exc)]
        else:
            event.cirse_grade = ctcae.cirse_grade(outcome)
            event.sir_class = ctcae.sir_class(outcome)
    else:  # derived from the outcome facts alone: none once they are cleared
        event.cirse_grade, event.sir_class = None, ""
    if result is not None:
        _check_outcome(event, grade=event.grade_override or result.grade, errors=errors)
    if errors:
        raise ValidationError(errors)
    assert result is not None and timing is not None
    event.auto_grade = result.grade
    event.grade_rationale = result.rationale + "".join(f" Note: {w}" for w in result.warnings)
    event.window = timing.window
    event.hours_after_end = timing.hours_after_end


def _set_onset(
    event: ComplicationEvent,
    *,
    onset_at: datetime | None,
    onset_date: date | None,
    during_procedure: bool,
) -> None:
    given = [onset_at is not None, onset_date is not None, bool(during_procedure)]
    if sum(given) != 1:
        raise ValidationError(
            {
                "non_field_errors": [
                    _(
                        "Give exactly one of: the onset time, the onset date (time unknown), or “during the procedure”."
                    )
                ]
            }
        )
    event.onset_at, event.onset_date, event.during_procedure = (
        onset_at,
        onset_date,
        bool(during_procedure),
    )


def _save(
    event: ComplicationEvent, fractures: Iterable[Fracture | int] | None, *, replace_fractures: bool
) -> ComplicationEvent:
    covered = None
    if replace_fractures:
        event.all_fractures, covered = resolve_fractures(
            procedure=event.procedure, fractures=fractures
        )
    complication_derive(event)
    event.save()
    if covered is not None:
        event.fractures.set(covered)
    outcomes_refresh(procedure_ids=[event.procedure_id])
    bump_stats_version()
    return event


# --- writes -----------------------------------------------------------------------


@transaction.atomic
def complication_record(
    *,
    procedure: Procedure,
    term: str | CtcaeTerm,
    facts: Mapping[str, Any] | None = None,
    onset_at: datetime | None = None,
    onset_date: date | None = None,
    during_procedure: bool = False,
    fractures: Iterable[Fracture | int] | None = None,
    specify: str = "",
    grade_override: int | None = None,
    override_reason: str = "",
    outcome: str = "",
    relatedness: str = "",
    description: str = "",
    outcome_facts: Mapping[str, Any] | None = None,
    actor: Any = None,
) -> ComplicationEvent:
    """Record a complication of ``procedure``; grade and window are derived, never given."""
    term_obj = term if isinstance(term, CtcaeTerm) else get_term(term)
    event = ComplicationEvent(
        procedure=procedure,
        term=term_obj,
        facts=dict(facts or {}),
        specify=specify.strip(),
        grade_override=grade_override,
        override_reason=override_reason.strip(),
        outcome=outcome,
        relatedness=relatedness,
        description=description,
        outcome_facts=dict(outcome_facts or {}),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    _set_onset(event, onset_at=onset_at, onset_date=onset_date, during_procedure=during_procedure)
    event._change_reason = change_reason(event.override_reason)
    return _save(event, fractures, replace_fractures=True)


# What a complication update may change, in the order a form shows it (the admin uses it too).
UPDATABLE = (
    "term",
    "specify",
    *ONSET_FIELDS,
    "facts",
    "grade_override",
    "override_reason",
    "outcome",
    "relatedness",
    "description",
    "outcome_facts",
)


@transaction.atomic
def complication_update(
    *,
    event: ComplicationEvent,
    fractures: Iterable[Fracture | int] | None = None,
    reason: str = "",
    **changes: Any,
) -> ComplicationEvent:
    """Change a complication and re-derive its grade and window.

    Giving any onset field replaces the onset as a whole (the others are cleared),
    so a PATCH from a date to a time needs only the new time. ``reason`` is the
    audit trail's why; a change of the override, whichever path makes it, records
    the override's written reason when no other is given.
    """
    ensure_unlocked(event)
    refuse_unknown_fields(changes, allowed=UPDATABLE)
    if "term" in changes and not isinstance(changes["term"], CtcaeTerm):
        changes["term"] = get_term(changes["term"])
    onset = {k: changes.pop(k) for k in ONSET_FIELDS if k in changes}
    for name, value in changes.items():
        setattr(
            event,
            name,
            value.strip() if isinstance(value, str) and name != "description" else value,
        )
    if onset:
        _set_onset(
            event,
            onset_at=onset.get("onset_at"),
            onset_date=onset.get("onset_date"),
            during_procedure=bool(onset.get("during_procedure", False)),
        )
    event._change_reason = change_reason(
        reason or (event.override_reason if "grade_override" in changes else "")
    )
    return _save(event, fractures, replace_fractures=fractures is not None)


@transaction.atomic
def complication_override(
    *, event: ComplicationEvent, grade: int | None, reason: str
) -> ComplicationEvent:
    """Override the automatic grade with a written reason (or clear the override with grade=None).

    Both grades are kept: ``auto_grade`` stays the grading service's.
    """
    return complication_update(
        event=event,
        grade_override=grade,
        override_reason=reason if grade is not None else "",
        reason=reason,
    )


def _describe(event: ComplicationEvent) -> str:
    """“complication #12 (Anemia, 2020-03-04)”: the onset's local day, or the procedure's."""
    zone = ZoneInfo(event.procedure.patient.department.time_zone)
    when = event.onset_at or (None if event.onset_date else event.procedure.started_at)
    day = event.onset_date or (when.astimezone(zone).date() if when else None)
    return _("complication #%(id)s (%(term)s, %(date)s)") % {
        "id": event.pk,
        "term": event.term.name,
        "date": day.isoformat() if day else "?",
    }


@transaction.atomic
def complications_rederive(*, events: Iterable[ComplicationEvent], field: str | None = None) -> int:
    """Re-derive the grade and window of complications after something they depend on changed.

    The one rule for every such change (procedure times, the patient's sex or
    department, a department's time zone, the term catalogue): each complication
    is re-derived in the caller's transaction; if any would then fit no grade or
    no window, the change is refused as a whole, naming them. The messages go
    under ``field`` (the changed field) when given, else under the complication's
    own fields (``onset_at``, ``facts``...). Returns how many were re-derived.
    """
    if hasattr(events, "select_related"):
        events = events.select_related("term", "procedure__patient__department").order_by("pk")
    errors: dict[str, list[str]] = {}
    procedure_ids: set[int] = set()
    count = 0
    for event in events:
        try:
            complication_derive(event)
        except ValidationError as exc:
            for own_field, messages in exc.message_dict.items():
                fits = (
                    _("would no longer fit a window")
                    if own_field in ONSET_FIELDS
                    else _("would no longer fit a grade")
                )
                errors.setdefault(field or own_field, []).extend(
                    f"{_describe(event)} {fits}: {message}" for message in messages
                )
            continue
        event.save()
        procedure_ids.add(event.procedure_id)
        count += 1
    if errors:
        raise ValidationError(errors)
    outcomes_refresh(procedure_ids=procedure_ids)
    bump_stats_version()
    return count


def complications_rederive_for_procedure(*, procedure: Procedure, field: str | None = None) -> int:
    """Re-derive every complication of ``procedure`` after its times or patient changed (or refuse)."""
    events = list(procedure.complications.select_related("term", "procedure__patient__department"))
    for event in events:
        event.procedure = procedure
    return complications_rederive(events=events, field=field)


def complications_regrade(*, events: Iterable[ComplicationEvent] | None = None) -> dict[str, int]:
    """Re-derive every stored complication: the repair pass. Idempotent: a second run changes nothing.

    ``catalogue_sync`` already re-grades what a catalogue change concerns (or is
    refused), so this finds work only where rows were written behind the
    services' back (a restore, raw SQL). A complication that fits no grade keeps
    its stored one and is counted as ``failed`` (listed for a data manager),
    never silently regraded: a pass over everything must not stop at one record.
    """
    queryset = (
        events
        if events is not None
        else ComplicationEvent.objects.select_related(
            "term", "procedure__patient__department"
        ).order_by("pk")
    )
    counts = {"checked": 0, "changed": 0, "grades_changed": 0, "failed": 0}
    for event in queryset.iterator(chunk_size=500) if hasattr(queryset, "iterator") else queryset:
        counts["checked"] += 1
        before = (event.auto_grade, event.grade_rationale, event.window, event.hours_after_end)
        try:
            with transaction.atomic():
                complication_derive(event)
                if (
                    event.auto_grade,
                    event.grade_rationale,
                    event.window,
                    event.hours_after_end,
                ) != before:
                    event.save()
                    outcomes_refresh(procedure_ids=[event.procedure_id])
                    bump_stats_version()
                    counts["changed"] += 1
                    counts["grades_changed"] += event.auto_grade != before[0]
        except ValidationError:
            counts["failed"] += 1
    return counts
