"""The rates selector equals a naive recomputation from the raw rows, after random writes.

The selector reads an outcome summary kept at write time (complications.outcomes)
with conditional aggregates; anything tuned can drift from the rule it implements.
So a seeded random sequence of writes goes through the real services (record,
update the facts, correct a specifying text, override, move a procedure, add
follow-up contacts, change which fractures a complication concerns, delete
complications and contacts, correct a fracture's type or site, add a fracture
(mostly after contacts and complications recorded for all the fractures, which
then cover it), change the guidance, move a patient to another department,
change a department's time zone), in two departments in different time zones, and after it the selector's
numbers must equal those of the naive Python below, which reads the raw rows and
applies docs/domain.md section 4 (and section 2 for the windows) literally, one unit
at a time (dates are local to each procedure's department; a contact or
complication recorded for all the fractures covers the procedure's current
ones), for every unit, every window, by term (each screw-fixation event of an
"Other, specify" term, as the core's ``event_of`` reads it, a term of its own)
and by SOC, over several selections
and two users (one scoped to a department). It runs on SQLite and PostgreSQL
alike: nothing here needs either.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from complications import services as complication_services
from complications.ctcae.pigsf import MUSCULOSKELETAL_OTHER, PROCEDURAL_OTHER, event_of
from complications.models import ComplicationEvent, CtcaeTerm
from complications.outcomes.check import outcomes_differences
from complications.stats.rates import rates
from registry import services as registry_services
from registry.models import Department, FollowUp, Fracture, Patient, Procedure

UNITS = ("fracture", "procedure", "patient")
WINDOWS = ("per_procedural", "early", "delayed")
DAY = timedelta(hours=24)
MAJOR = 3

# (term, facts, specifying text): real CTCAE v5.0 terms of the curated catalogue, graded
# by the service; "Other, specify" ones with a screw-fixation event (each counted as a term
# of its own) or with free text.
ENTRIES: list[tuple[str, dict[str, Any], str]] = [
    ("10033371", {"symptoms": "mild"}, ""),
    ("10033371", {"symptoms": "severe", "adl": "self_care"}, ""),
    ("10048038", {"intervention": "oral"}, ""),
    ("10048038", {"intervention": "iv"}, ""),
    ("10061017", {"intervention": "iv"}, ""),
    ("10016558", {"temperature_c": 38.5}, ""),
    ("10040047", {"life_threatening": True}, ""),
    ("10011914", {"death": True}, ""),
    (MUSCULOSKELETAL_OTHER, {"symptoms": "mild"}, "Screw migration or back-out: S1"),
    (MUSCULOSKELETAL_OTHER, {"hospitalization": True}, "screw migration or back-out"),
    (MUSCULOSKELETAL_OTHER, {"hospitalization": True}, "Screw loosening"),
    (MUSCULOSKELETAL_OTHER, {"symptoms": "mild"}, "Screw migration requiring revision"),
    (PROCEDURAL_OTHER, {"symptoms": "mild"}, "Cement leakage: into the foramen"),
]
# What a complication's specifying text may become (a correction of the text alone).
SPECIFY_TEXTS = [specify for _, _, specify in ENTRIES if specify]
FRACTURE_TYPES = ("insufficiency", "pathological", "impending")
SITES = ("sacrum", "acetabulum", "iliac")


# --- the naive recomputation ---------------------------------------------------------


def _window(onset: datetime, start: datetime, end: datetime) -> str:
    """docs/domain.md section 2, for an instant."""
    assert onset >= start, "the services refuse an onset before the start"
    if onset <= end:
        return "per_procedural"
    if onset < end + DAY:
        return "early"
    return "delayed"


def naive_window(event: dict[str, Any], procedure: dict[str, Any], zone: str) -> str:
    """The window from the onset and the procedure's current times (never the stored one)."""
    if event["during_procedure"]:
        return "per_procedural"
    start, end = procedure["started_at"], procedure["ended_at"]
    if event["onset_at"] is not None:
        return _window(event["onset_at"], start, end)
    tz = ZoneInfo(zone)
    first = datetime.combine(event["onset_date"], time(0), tzinfo=tz)
    last = datetime.combine(event["onset_date"] + timedelta(days=1), time(0), tzinfo=tz)
    opening = _window(first, start, end)
    assert opening == _window(last - timedelta(microseconds=1), start, end), "straddling day"
    return opening


def naive_rates(
    *,
    departments: set[int],
    unit: str,
    fracture_type: str | None = None,
    site: str | None = None,
    guidance: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> dict[str, Any]:
    """docs/domain.md section 4, unit by unit, from plain rows.

    The selection is the selector's documented one: the fractures matching the
    filters; the procedures and patients of those fractures; for the procedure
    and patient units, every complication and contact of a selected procedure.
    """
    zone_of = dict(Department.objects.values_list("pk", "time_zone"))
    patients = {p["pk"]: p for p in Patient.objects.values("pk", "department_id")}
    procedures = {
        p["pk"]: p
        for p in Procedure.objects.values("pk", "patient_id", "started_at", "ended_at", "guidance")
    }

    def department_of(procedure_id: int) -> int:
        return patients[procedures[procedure_id]["patient_id"]]["department_id"]

    def selected(fracture: dict[str, Any]) -> bool:
        procedure = procedures[fracture["procedure_id"]]
        zone = ZoneInfo(zone_of[department_of(fracture["procedure_id"])])
        day = procedure["started_at"].astimezone(zone).date()
        return (
            department_of(fracture["procedure_id"]) in departments
            and (fracture_type is None or fracture["type"] == fracture_type)
            and (site is None or fracture["site"] == site)
            and (guidance is None or procedure["guidance"] == guidance)
            and (date_from is None or day >= date_from)
            and (date_to is None or day <= date_to)
        )

    fractures = [
        f for f in Fracture.objects.values("pk", "procedure_id", "type", "site") if selected(f)
    ]
    selected_procedures = {f["procedure_id"] for f in fractures}
    unit_of_procedure = {pk: procedures[pk]["patient_id"] for pk in selected_procedures}
    if unit == "fracture":
        units = {f["pk"] for f in fractures}
    elif unit == "procedure":
        units = set(selected_procedures)
    else:
        units = set(unit_of_procedure.values())

    terms = {t["code"]: t for t in CtcaeTerm.objects.values("code", "name", "soc")}
    # Recorded for all the fractures: the procedure's current ones; otherwise
    # those named (the link rows, of which a deleted fracture's are gone).
    of_procedure: dict[int, list[int]] = defaultdict(list)
    for pk, procedure_id in Fracture.objects.values_list("pk", "procedure_id"):
        of_procedure[procedure_id].append(pk)
    links: dict[int, list[int]] = defaultdict(list)
    for event_id, fracture_id in ComplicationEvent.fractures.through.objects.values_list(
        "complicationevent_id", "fracture_id"
    ):
        links[event_id].append(fracture_id)
    for pk, procedure_id in ComplicationEvent.objects.filter(all_fractures=True).values_list(
        "pk", "procedure_id"
    ):
        links[pk] = of_procedure[procedure_id]
    # Per unit and window: the grades of its complications there (with their terms, a
    # screw-fixation event being a term of its own).
    grades: dict[tuple[int, str], list[tuple[int, tuple[str, str | None]]]] = defaultdict(list)
    for event in ComplicationEvent.objects.values(
        "pk",
        "procedure_id",
        "term_id",
        "specify",
        "onset_at",
        "onset_date",
        "during_procedure",
        "auto_grade",
        "grade_override",
    ):
        procedure = procedures[event["procedure_id"]]
        window = naive_window(event, procedure, zone_of[department_of(event["procedure_id"])])
        grade = (
            event["grade_override"] if event["grade_override"] is not None else event["auto_grade"]
        )
        if unit == "fracture":
            concerned = [f for f in links[event["pk"]] if f in units]
        elif event["procedure_id"] not in selected_procedures:
            concerned = []
        elif unit == "procedure":
            concerned = [event["procedure_id"]]
        else:
            concerned = [unit_of_procedure[event["procedure_id"]]]
        for u in concerned:
            pigsf = event_of(event["term_id"], event["specify"])
            term = (event["term_id"], None if pigsf is None else pigsf.code)
            grades[(u, window)].append((grade, term))

    covered: dict[int, list[int]] = defaultdict(list)
    for follow_up_id, fracture_id in FollowUp.fractures.through.objects.values_list(
        "followup_id", "fracture_id"
    ):
        covered[follow_up_id].append(fracture_id)
    for pk, procedure_id in FollowUp.objects.filter(all_fractures=True).values_list(
        "pk", "procedure_id"
    ):
        covered[pk] = of_procedure[procedure_id]
    after_end: set[int] = set()
    beyond_24h: set[int] = set()
    for contact in FollowUp.objects.values("pk", "procedure_id", "contact_at"):
        end = procedures[contact["procedure_id"]]["ended_at"]
        if unit == "fracture":
            reached = [f for f in covered[contact["pk"]] if f in units]
        elif contact["procedure_id"] not in selected_procedures:
            reached = []
        elif unit == "procedure":
            reached = [contact["procedure_id"]]
        else:
            reached = [unit_of_procedure[contact["procedure_id"]]]
        for u in reached:
            if contact["contact_at"] > end:
                after_end.add(u)
            if contact["contact_at"] > end + DAY:
                beyond_24h.add(u)

    windows = {}
    for window in WINDOWS:
        with_event = {u for u in units if grades[(u, window)]}
        if window == "per_procedural":
            at_risk = units
        elif window == "early":
            # A complication in a window is evidence of follow-up up to it.
            at_risk = {
                u for u in units if u in after_end or grades[(u, "early")] or grades[(u, "delayed")]
            }
        else:
            at_risk = {u for u in units if u in beyond_24h or grades[(u, "delayed")]}
        major = {u for u in with_event if max(g for g, _ in grades[(u, window)]) >= MAJOR}
        windows[window] = (len(with_event), len(at_risk), len(with_event) - len(major), len(major))

    by_term: dict[tuple[str, tuple[str, str | None]], dict[int, int]] = defaultdict(dict)
    by_soc: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for (u, window), items in grades.items():
        for grade, term in items:
            soc = terms[term[0]]["soc"]
            for key, table in (((window, term), by_term), ((window, soc), by_soc)):
                table[key][u] = max(grade, table[key].get(u, 0))
    return {
        "windows": windows,
        "by_term": {
            (
                w,
                t,
                pigsf,
                terms[t]["name"],
                terms[t]["soc"],
                len(us),
                sum(g < MAJOR for g in us.values()),
                sum(g >= MAJOR for g in us.values()),
            )
            for (w, (t, pigsf)), us in by_term.items()
        },
        "by_soc": {
            (
                w,
                soc,
                len(us),
                sum(g < MAJOR for g in us.values()),
                sum(g >= MAJOR for g in us.values()),
            )
            for (w, soc), us in by_soc.items()
        },
    }


def selector_counts(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "windows": {
            w: (v["events"], v["at_risk"], v["minor"], v["major"])
            for w, v in result["windows"].items()
        },
        "by_term": {
            (
                r["window"],
                r["term"],
                r["pigsf_event"],
                r["term_name"],
                r["soc"],
                r["events"],
                r["minor"],
                r["major"],
            )
            for r in result["by_term"]
        },
        "by_soc": {
            (r["window"], r["soc"], r["events"], r["minor"], r["major"]) for r in result["by_soc"]
        },
    }


# --- the random writes -----------------------------------------------------------------


class Cohort:
    """A small registry built and changed only through the services."""

    def __init__(self, rng: random.Random, departments: list[Department]) -> None:
        self.rng = rng
        self.procedures: list[Procedure] = []
        self.events: list[ComplicationEvent] = []
        base = datetime(2019, 3, 4, 9, 0, tzinfo=UTC)
        for number in range(14):
            department = departments[number % len(departments)]
            patient = registry_services.patient_create(
                department=department,
                registry_id=f"R{number:03d}",
                sex=rng.choice(("female", "male")),
                birth_date=date(1940 + number, 5, 17),
            )
            for _ in range(rng.choice((1, 1, 2))):
                # Any hour: near midnight UTC, New York's and Paris's dates differ.
                start = base + timedelta(days=rng.randint(0, 900), hours=rng.randint(-9, 14))
                procedure = registry_services.procedure_create(
                    patient=patient,
                    started_at=start,
                    ended_at=start + timedelta(minutes=rng.randint(30, 150)),
                    guidance="ct",
                    anesthesia="general",
                )
                for _ in range(rng.choice((1, 1, 2, 3))):
                    registry_services.fracture_create(
                        procedure=procedure,
                        type=rng.choice(FRACTURE_TYPES),
                        site=rng.choice(SITES),
                        side="left",
                    )
                self.procedures.append(procedure)

    def fresh(self, procedure: Procedure) -> Procedure:
        return Procedure.objects.select_related("patient__department").get(pk=procedure.pk)

    def some_fractures(self, procedure: Procedure) -> list[int] | None:
        """None (all of them, the default), or a random non-empty subset."""
        ids = list(procedure.fractures.values_list("pk", flat=True))
        if self.rng.random() < 0.5:
            return None
        return self.rng.sample(ids, self.rng.randint(1, len(ids)))

    def record(self) -> None:
        procedure = self.fresh(self.rng.choice(self.procedures))
        term, facts, specify = self.rng.choice(ENTRIES)
        kind = self.rng.choice(("during", "inside", "early", "delayed", "date"))
        onset: dict[str, Any]
        if kind == "during":
            onset = {"during_procedure": True}
        elif kind == "inside":
            onset = {
                "onset_at": procedure.started_at + (procedure.ended_at - procedure.started_at) / 2
            }
        elif kind == "early":
            onset = {"onset_at": procedure.ended_at + timedelta(hours=self.rng.uniform(0.01, 23.9))}
        elif kind == "delayed":
            onset = {
                "onset_at": procedure.ended_at + timedelta(hours=self.rng.choice((24, 30, 400)))
            }
        else:
            zone = ZoneInfo(procedure.patient.department.time_zone)
            day = procedure.ended_at.astimezone(zone).date() + timedelta(
                days=self.rng.randint(2, 40)
            )
            onset = {"onset_date": day}
        event = complication_services.complication_record(
            procedure=procedure,
            term=term,
            facts=facts,
            specify=specify,
            fractures=self.some_fractures(procedure),
            **onset,
        )
        self.events.append(event)

    def update_facts(self) -> None:
        event = self._event()
        if event is not None:
            term, facts, specify = self.rng.choice(ENTRIES)
            complication_services.complication_update(
                event=event, term=term, facts=facts, specify=specify
            )

    def respecify(self) -> None:
        """Correct the specifying text alone: into another event, or free text."""
        event = self._event()
        if event is not None and event.specify:
            complication_services.complication_update(
                event=event, specify=self.rng.choice(SPECIFY_TEXTS)
            )

    def override(self) -> None:
        event = self._event()
        if event is None:
            return
        if event.grade_override is not None and self.rng.random() < 0.3:
            complication_services.complication_override(event=event, grade=None, reason="")
            return
        available = [g for g, text in event.term.grades.items() if text]
        complication_services.complication_override(
            event=event, grade=self.rng.choice(available), reason="Reviewed at the M&M meeting."
        )

    def refocus(self) -> None:
        """Change which fractures a complication concerns (an empty list: all of them)."""
        event = self._event()
        if event is not None:
            fractures = self.some_fractures(event.procedure) or []
            complication_services.complication_update(event=event, fractures=fractures)

    def move(self) -> None:
        """Shift a procedure; its complications' windows are re-derived (or the move refused)."""
        procedure = self.fresh(self.rng.choice(self.procedures))
        shift = timedelta(hours=self.rng.choice((-30, -6, -1, 1, 5, 26)))
        longer = timedelta(minutes=self.rng.choice((0, 20, 600)))
        registry_services.procedure_update(
            procedure=procedure,
            started_at=procedure.started_at + shift,
            ended_at=procedure.ended_at + shift + longer,
        )

    def contact(self) -> None:
        procedure = self.fresh(self.rng.choice(self.procedures))
        hours = self.rng.choice((-0.2, 0.0, 2, 23.9, 24.0, 24.5, 72, 2000))
        registry_services.follow_up_create(
            procedure=procedure,
            contact_at=procedure.ended_at + timedelta(hours=hours),
            kind=self.rng.choice(("clinical", "phone", "imaging")),
            fractures=self.some_fractures(procedure),
        )

    def delete_event(self) -> None:
        event = self._event()
        if event is not None:
            pk = event.pk
            registry_services.record_delete(record=event, reason="Entered twice.")
            self.events = [e for e in self.events if e.pk != pk]

    def delete_contact(self) -> None:
        contact = FollowUp.objects.order_by("?").first()
        if contact is not None:
            registry_services.record_delete(record=contact, reason="Wrong patient.")

    def retype(self) -> None:
        """Correct a fracture's type or site (the selection it belongs to changes)."""
        fracture = Fracture.objects.order_by("?").first()
        registry_services.fracture_update(
            fracture=fracture, type=self.rng.choice(FRACTURE_TYPES), site=self.rng.choice(SITES)
        )

    def add_fracture(self) -> None:
        """A fracture recorded late, mostly on a procedure that already has contacts or
        complications recorded for all its fractures (which then cover it)."""
        covered = {
            *FollowUp.objects.filter(all_fractures=True).values_list("procedure_id", flat=True),
            *ComplicationEvent.objects.filter(all_fractures=True).values_list(
                "procedure_id", flat=True
            ),
        }
        candidates = [p for p in self.procedures if p.pk in covered and self.rng.random() < 0.8]
        registry_services.fracture_create(
            procedure=self.fresh(self.rng.choice(candidates or self.procedures)),
            type=self.rng.choice(FRACTURE_TYPES),
            site=self.rng.choice(SITES),
            side="right",
        )

    def reguide(self) -> None:
        registry_services.procedure_update(
            procedure=self.fresh(self.rng.choice(self.procedures)),
            guidance=self.rng.choice(("ct", "fluoroscopy")),
        )

    def rehome(self) -> None:
        """A patient recorded in the wrong department moves (their units move with them)."""
        patient = self.fresh(self.rng.choice(self.procedures)).patient
        others = Department.objects.exclude(pk=patient.department_id)
        registry_services.patient_update(
            patient=patient, department=others.order_by("?").first(), reason="Wrong department."
        )

    def rezone(self) -> None:
        """A department's time zone changes: date-only onsets are re-classified."""
        department = Department.objects.order_by("?").first()
        zone = "America/New_York" if department.time_zone != "America/New_York" else "UTC"
        registry_services.department_update(department=department, time_zone=zone)

    def _event(self) -> ComplicationEvent | None:
        if not self.events:
            return None
        pk = self.rng.choice(self.events).pk
        return ComplicationEvent.objects.select_related(
            "term", "procedure__patient__department"
        ).get(pk=pk)


@pytest.mark.django_db
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rates_equal_a_naive_recomputation_after_random_writes(
    seed, department, other_department, head, admin_user
):
    rng = random.Random(seed)
    cohort = Cohort(rng, [department, other_department])
    operations = [
        (cohort.record, 12),
        (cohort.update_facts, 3),
        (cohort.respecify, 2),
        (cohort.override, 3),
        (cohort.refocus, 2),
        (cohort.move, 3),
        (cohort.contact, 8),
        (cohort.delete_event, 1),
        (cohort.delete_contact, 1),
        (cohort.retype, 2),
        (cohort.add_fracture, 3),
        (cohort.reguide, 1),
        (cohort.rehome, 1),
        (cohort.rezone, 1),
    ]
    applied = refused = 0
    for _ in range(60):
        operation = rng.choices([o for o, _ in operations], [w for _, w in operations])[0]
        try:
            operation()
            applied += 1
        except ValidationError:
            # A refused write (an onset the move would put before the start, a
            # contact before it) must leave nothing behind: the check below
            # covers that too.
            refused += 1
        # Each write leaves the summary as a rebuild from scratch would compute it.
        differences = outcomes_differences()
        assert not any(differences.values()), (operation.__name__, differences)
    assert applied >= 40, f"only {applied} writes applied ({refused} refused)"
    assert ComplicationEvent.objects.count() >= 10

    both = {department.pk, other_department.pk}
    years = {"date_from": date(2019, 6, 1), "date_to": date(2020, 12, 31)}
    selections = [
        (admin_user, both, {}),
        (head, {department.pk}, {}),
        (admin_user, both, {"fracture_type": "pathological"}),
        (head, {department.pk}, years),
        # Dates inside months: whole months from the rollup, the days at the ends
        # from the summary rows; and a range inside one month (no whole month).
        (head, {department.pk}, {"date_from": date(2019, 6, 17), "date_to": date(2020, 11, 3)}),
        (admin_user, both, {"date_from": date(2019, 9, 2), "date_to": date(2019, 9, 29)}),
        (admin_user, both, {"date_to": date(2020, 5, 14)}),
        # A whole year inside: one year row, the months around it, the days at the ends.
        (admin_user, both, {"date_from": date(2019, 5, 20), "date_to": date(2021, 2, 10)}),
        (head, {department.pk}, {"date_from": date(2020, 1, 1)}),
        (admin_user, both, {"site": "acetabulum"}),
        (admin_user, both, {"fracture_type": "insufficiency", "site": "sacrum"}),
        (head, {department.pk}, {"guidance": "fluoroscopy"}),
    ]
    # Days at the edges of procedures' local dates: the UTC date of a start and
    # the days around it (a New York evening is the next UTC day).
    for procedure in rng.sample(cohort.procedures, 4):
        day = Procedure.objects.get(pk=procedure.pk).started_at.astimezone(UTC).date()
        selections += [
            (admin_user, both, {"date_from": day, "date_to": day}),
            (admin_user, both, {"date_from": day - timedelta(days=1), "date_to": day}),
            (admin_user, both, {"date_from": day, "date_to": day + timedelta(days=1)}),
            (admin_user, both, {"date_to": day}),
            (admin_user, both, {"date_from": day}),
        ]
    pigsf_events = set()
    for user, departments, filters in selections:
        for unit in UNITS:
            expected = naive_rates(departments=departments, unit=unit, **filters)
            got = selector_counts(rates(user=user, unit=unit, **filters))
            pigsf_events |= {row[2] for row in got["by_term"]}
            context = f"seed={seed} user={user.username} unit={unit} filters={filters}"
            assert got["windows"] == expected["windows"], context
            assert got["by_term"] == expected["by_term"], context
            assert got["by_soc"] == expected["by_soc"], context
    # The rows of screw-fixation events and the free-text rows were compared too.
    assert len(pigsf_events - {None}) >= 2 and None in pigsf_events, pigsf_events


def test_the_naive_window_follows_domain_section_2():
    start = datetime(2020, 1, 6, 9, 0, tzinfo=UTC)
    end = start + timedelta(hours=1)
    assert _window(start, start, end) == "per_procedural"
    assert _window(end, start, end) == "per_procedural"
    assert _window(end + timedelta(seconds=1), start, end) == "early"
    assert _window(end + DAY - timedelta(seconds=1), start, end) == "early"
    assert _window(end + DAY, start, end) == "delayed"
