"""The import itself: every row through the write services, in one transaction.

``run_import`` reads the layout sheets in order (patients, procedures,
fractures, follow-ups, complications), reads each cell by its column's kind,
finds the record the row's key names (in the department, or created by an
earlier row), and creates it, updates what differs (the import named as the
audit reason) or leaves it unchanged, each through the service a form or the
API would call: grades and windows are derived exactly as for a case entered by
hand, and a refusal is the service's own error, in the user's language.

A little past 600 lines: the five sheets' row handlers are kept together because each reads
the keys the previous sheets resolved.

Every row is tried, each in a savepoint, so one pass reports every error. The
whole run is one transaction inside ``outcomes_deferred`` (the summary is
refreshed once, at the end); a dry run, or a run with any error, is rolled
back: nothing is written unless every row went through.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from complications import services as complication_services
from complications.imports import layout
from complications.imports.parse import CellError, Row, convert, display, is_empty
from complications.imports.sources import LegacySource, Source
from complications.models import ComplicationEvent, CtcaeTerm
from complications.outcomes.refresh import outcomes_deferred
from registry import services as registry_services
from registry.models import (
    Anesthesia,
    Department,
    FollowUp,
    Fracture,
    Guidance,
    Patient,
    Procedure,
    Sex,
)

STAND_IN_BIRTH_DATE = date(1900, 1, 1)

CREATE, UPDATE, UNCHANGED, ERROR = "create", "update", "unchanged", "error"

# A service's error field -> the import column it concerns, where the names differ.
FIELD_COLUMNS = {"fractures": "fracture_sites", "patient": "registry_id"}


@dataclass
class Report:
    summary: dict[str, dict[str, int]] = field(
        default_factory=lambda: {
            s.name: {CREATE: 0, UPDATE: 0, UNCHANGED: 0} for s in layout.SHEETS
        }
    )
    errors: list[dict[str, Any]] = field(default_factory=list)
    committed: bool = False

    def error(self, sheet: str, row: int, column: str, value: Any, message: str) -> None:
        self.errors.append(
            {
                "sheet": sheet,
                "row": row,
                "column": column,
                "value": display(value),
                "message": str(message),
            }
        )


# sheet, row, action, key, the errors reported since the last call (each with its own place)
RowCallback = Callable[[str, int, str, str, list[dict[str, Any]]], None]


class _Rollback(Exception):
    pass


class _RowFailed(Exception):
    pass


class Importer:
    def __init__(
        self,
        department: Department,
        source: Source,
        *,
        reason: str,
        actor: Any = None,
        tick: Callable[[], None] | None = None,
        on_row: RowCallback | None = None,
    ) -> None:
        self.department, self.source, self.reason, self.actor = department, source, reason, actor
        self.tick = tick or (lambda: None)
        self._on_row = on_row or (lambda *args: None)
        self.report = Report()
        self._reported = 0
        self.terms_by_code: dict[str, Any] = {}
        self.terms_by_name: dict[str, Any] = {}
        self.patients: dict[str, int] = {}
        self.procedures: dict[tuple[int, datetime], int] = {}
        # Two fractures may share a site and side (two left pubic rami): the n-th
        # row of a key is the n-th fracture of that key.
        self.fractures: dict[tuple[int, str, str], list[int]] = {}
        self._fracture_rows: Counter[tuple[int, str, str]] = Counter()
        self.follow_ups: dict[tuple[int, datetime], int] = {}
        self.complications: dict[tuple[Any, ...], int] = {}
        self.failed: set[tuple[Any, ...]] = set()  # keys of rows that failed (no second error)
        self._patient_cache: dict[int, Patient] = {}
        self._procedure_cache: tuple[int, Procedure] | None = None

    def on_row(self, sheet: str, number: int, action: str, key: str) -> None:
        new = self.report.errors[self._reported :]
        self._reported = len(self.report.errors)
        self._on_row(sheet, number, action, key, new)

    # --- the run -----------------------------------------------------------------

    def run(self, *, commit: bool) -> Report:
        for problem in self.source.header_errors():
            self.report.error(problem.sheet, 1, problem.column, problem.column, problem.message)
        if isinstance(self.source, LegacySource):
            for row, column, message in self.source.conflicts:
                self._cell_error(row, column, message)
        if self.report.errors:
            self.on_row("", 1, ERROR, "")
        self._preload()
        try:
            with outcomes_deferred():
                for sheet in layout.SHEETS:
                    handle = getattr(self, f"_{sheet.name}")
                    seen: dict[tuple[Any, ...], int] = {}
                    for row in self.source.rows(sheet):
                        self._row(sheet, row, handle, seen)
                        self.tick()
                if self.report.errors or not commit:
                    raise _Rollback
                self.report.committed = True
        except _Rollback:
            pass
        return self.report

    def _preload(self) -> None:
        for term_pk, code, name in CtcaeTerm.objects.values_list("pk", "code", "name"):
            self.terms_by_code[code] = term_pk
            self.terms_by_name.setdefault(name.lower(), term_pk)
        department = self.department
        self.patients = dict(
            Patient.objects.filter(department=department).values_list("registry_id", "pk")
        )
        for procedure_pk, patient_id, started_at in Procedure.objects.filter(
            patient__department=department
        ).values_list("pk", "patient_id", "started_at"):
            self.procedures[(patient_id, started_at)] = procedure_pk
        for fracture_pk, procedure_id, site, side in (
            Fracture.objects.filter(procedure__patient__department=department)
            .order_by("pk")
            .values_list("pk", "procedure_id", "site", "side")
        ):
            self.fractures.setdefault((procedure_id, site, side), []).append(fracture_pk)
        for follow_up_pk, procedure_id, contact_at in FollowUp.objects.filter(
            procedure__patient__department=department
        ).values_list("pk", "procedure_id", "contact_at"):
            self.follow_ups.setdefault((procedure_id, contact_at), follow_up_pk)
        for event in ComplicationEvent.objects.filter(
            procedure__patient__department=department
        ).values_list(
            "pk", "procedure_id", "term_id", "onset_at", "onset_date", "during_procedure"
        ):
            self.complications.setdefault(tuple(event[1:]), event[0])

    def _row(
        self,
        sheet: layout.Sheet,
        row: Row,
        handle: Callable[[Row, dict[str, Any]], tuple[str, tuple[Any, ...]]],
        seen: dict[tuple[Any, ...], int],
    ) -> None:
        values, ok = self._convert(sheet, row)
        if not ok:
            self.on_row(sheet.name, row.number, ERROR, "")
            self._fail_key(sheet, row, values)
            self._stand_in(sheet, values)
            return
        raw_key = tuple(display(values.get(k)) for k in sheet.key)
        if raw_key in seen and sheet is not layout.FRACTURES:
            column = sheet.key[0]
            self._cell_error(
                row,
                column,
                _("The same %(key)s as row %(row)s: each record once per file.")
                % {"key": " + ".join(sheet.key), "row": seen[raw_key]},
            )
            self.on_row(sheet.name, row.number, ERROR, " ".join(raw_key))
            return
        seen[raw_key] = row.number
        try:
            with transaction.atomic():
                action, key = handle(row, values)
        except (_RowFailed, ValidationError, IntegrityError) as exc:
            if isinstance(exc, ValidationError):
                self._service_errors(sheet, row, exc)
            elif isinstance(exc, IntegrityError):
                self._cell_error(
                    row, "", _("The database refused this row: %(error)s") % {"error": exc}
                )
            self.on_row(sheet.name, row.number, ERROR, " ".join(raw_key))
            self._fail_key(sheet, row, values)
            self._stand_in(sheet, values)
            return
        self.report.summary[sheet.name][action] += 1
        self.on_row(sheet.name, row.number, action, " ".join(raw_key))

    def _stand_in(self, sheet: layout.Sheet, values: Mapping[str, Any]) -> None:
        """A patient or procedure whose row failed is entered with stand-in values
        for its faulty cells, so that the rows that depend on it are still checked
        by the services (every error in one pass). The run has an error by then,
        so it is rolled back: a stand-in is never committed."""
        assert self.report.errors
        try:
            with transaction.atomic():
                if sheet is layout.PATIENTS:
                    self._patient_stand_in(values)
                elif sheet is layout.PROCEDURES:
                    self._procedure_stand_in(values)
        except (ValidationError, IntegrityError, _RowFailed):
            pass  # its dependants say nothing more than that it is missing

    def _patient_stand_in(self, values: Mapping[str, Any]) -> None:
        registry_id = values.get("registry_id")
        if not registry_id or registry_id in self.patients:
            return
        birth_date = values.get("birth_date")
        if not isinstance(birth_date, date) or birth_date > date.today():
            birth_date = STAND_IN_BIRTH_DATE
        sex = str(values["sex"]) if values.get("sex") in Sex.values else Sex.FEMALE.value
        patient = registry_services.patient_create(
            department=self.department, registry_id=registry_id, sex=sex, birth_date=birth_date
        )
        self.patients[registry_id] = patient.pk

    def _procedure_stand_in(self, values: Mapping[str, Any]) -> None:
        pk = self.patients.get(values.get("registry_id") or "")
        started_at = values.get("started_at")
        if pk is None or started_at is None or (pk, started_at) in self.procedures:
            return
        ended_at = values.get("ended_at")
        if ended_at is None or ended_at < started_at:
            ended_at = started_at
        procedure = registry_services.procedure_create(
            patient=Patient.objects.select_related("department").get(pk=pk),
            started_at=started_at,
            ended_at=ended_at,
            guidance=str(values["guidance"]) if values.get("guidance") in Guidance.values else "ct",
            anesthesia=str(values["anesthesia"])
            if values.get("anesthesia") in Anesthesia.values
            else "general",
        )
        self.procedures[(pk, started_at)] = procedure.pk

    def _fail_key(
        self, sheet: layout.Sheet, row: Row, values: Mapping[str, Any] | None = None
    ) -> None:
        """Remember a failed patient or procedure, so its dependants do not each
        report it missing again (their own cells are still checked)."""
        if sheet.name == "patients":
            self.failed.add(("patient", display(row.values.get("registry_id")).strip()))
        elif sheet.name == "procedures":
            started = (values or {}).get("started_at")
            self.failed.add(
                ("procedure", display(row.values.get("registry_id")).strip(), display(started))
            )
            self.failed.add(("patient-procedures", display(row.values.get("registry_id")).strip()))

    # --- cells -------------------------------------------------------------------

    def _cell_error(self, row: Row, column: str, message: str) -> None:
        sheet, number, name = row.where(column) if column else (row.sheet, row.number, "")
        self.report.error(sheet, number, name, row.values.get(column) if column else "", message)

    def _convert(self, sheet: layout.Sheet, row: Row) -> tuple[dict[str, Any], bool]:
        values: dict[str, Any] = {}
        ok = True
        for column in sheet.columns:
            if column.required and column.name not in row.values:
                values[column.name] = None
                ok = False  # a required column missing from the file: reported once, at its header
                continue
            raw = row.values.get(column.name)
            if is_empty(raw):
                values[column.name] = None
                if column.required:
                    self._cell_error(row, column.name, _("This value is required."))
                    ok = False
                continue
            try:
                values[column.name] = convert(column.kind, raw, self.source.formats)
            except CellError as exc:
                values[column.name] = None
                self._cell_error(row, column.name, str(exc))
                ok = False
                continue
            scale = layout.FACT_SCALES.get(column.name)
            if sheet is layout.COMPLICATIONS and scale and values[column.name] not in scale:
                self._cell_error(
                    row,
                    column.name,
                    _("Unknown code; the codes are: %(codes)s.") % {"codes": ", ".join(scale)},
                )
                values[column.name] = None
                ok = False
        return values, ok

    def _service_errors(self, sheet: layout.Sheet, row: Row, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            for message in exc.messages:
                self._cell_error(row, "", message)
            return
        for name, messages in exc.message_dict.items():
            for message in messages:
                column = FIELD_COLUMNS.get(name, name)
                if name == "facts":
                    fact, colon, rest = message.partition(": ")
                    if colon and fact in layout.FACT_NAMES:
                        column, message = fact, rest
                    else:
                        column = ""
                if column not in sheet.names:
                    column = ""
                self._cell_error(row, column, message)

    # --- references --------------------------------------------------------------

    def _patient(self, row: Row, values: Mapping[str, Any]) -> Patient:
        registry_id = values["registry_id"]
        pk = self.patients.get(registry_id)
        if pk is None:
            if ("patient", registry_id) not in self.failed:
                self._cell_error(
                    row,
                    "registry_id",
                    _("No patient with this registry id in the department or the file."),
                )
            raise _RowFailed
        if pk not in self._patient_cache:
            if len(self._patient_cache) > 1000:
                self._patient_cache.clear()
            self._patient_cache[pk] = Patient.objects.select_related("department").get(pk=pk)
        return self._patient_cache[pk]

    def _procedure(self, row: Row, values: Mapping[str, Any]) -> Procedure:
        patient = self._patient(row, values)
        started_at = values["procedure_started_at"]
        pk = self.procedures.get((patient.pk, started_at))
        if pk is None:
            failed = (
                "procedure",
                values["registry_id"],
                display(started_at),
            ) in self.failed
            if not failed:
                self._cell_error(
                    row,
                    "procedure_started_at",
                    _("No procedure of this patient starts at this time."),
                )
            raise _RowFailed
        if self._procedure_cache is None or self._procedure_cache[0] != pk:
            procedure = Procedure.objects.select_related("patient__department").get(pk=pk)
            self._procedure_cache = (pk, procedure)
        return self._procedure_cache[1]

    def _fracture_ids(
        self, row: Row, procedure: Procedure, sites: Iterable[tuple[str, str, int | None]] | None
    ) -> list[int] | None:
        """The fractures a follow-up or complication names (None: all of them)."""
        if not sites:
            return None
        ids: list[int] = []
        missing: list[str] = []
        for site, side, nth in sites:
            pks = self.fractures.get((procedure.pk, site, side)) or []
            chosen = pks if nth is None else pks[nth - 1 : nth]
            if not chosen:
                missing.append(f"{site}/{side}" + (f"/{nth}" if nth else ""))
            ids.extend(pk for pk in chosen if pk not in ids)
        if missing:
            self._cell_error(
                row,
                "fracture_sites",
                _("This procedure has no fracture %(sites)s (in the department or the file).")
                % {"sites": ", ".join(missing)},
            )
            raise _RowFailed
        return ids

    @staticmethod
    def _changes(record: Any, wanted: Mapping[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in wanted.items() if getattr(record, name) != value}

    def _extras(
        self,
        row: Row,
        model: type[Patient] | type[Procedure],
        values: Mapping[str, Any],
        names: Iterable[str],
    ) -> dict[str, Any]:
        """Columns of the layout that this registry may not record yet (a value is an error)."""
        given: dict[str, Any] = {}
        fields = {f.name for f in model._meta.get_fields()}
        for name in names:
            if values.get(name) is None:
                continue
            if name not in fields:
                self._cell_error(row, name, _("This registry does not record this column yet."))
                raise _RowFailed
            given[name] = values[name]
        return given

    # --- sheets --------------------------------------------------------------------

    def _patients(self, row: Row, values: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        registry_id = values["registry_id"]
        extras = self._extras(row, Patient, values, ("death_date", "death_related"))
        wanted = {"sex": values["sex"], "birth_date": values["birth_date"], **extras}
        pk = self.patients.get(registry_id)
        if pk is None:
            patient = registry_services.patient_create(
                department=self.department,
                registry_id=registry_id,
                sex=wanted["sex"],
                birth_date=wanted["birth_date"],
            )
            if extras:
                registry_services.patient_update(patient=patient, reason=self.reason, **extras)
            self.patients[registry_id] = patient.pk
            return CREATE, (registry_id,)
        patient = Patient.objects.select_related("department").get(pk=pk)
        changes = self._changes(patient, wanted)
        if not changes:
            return UNCHANGED, (registry_id,)
        registry_services.patient_update(patient=patient, reason=self.reason, **changes)
        self._patient_cache.pop(pk, None)
        return UPDATE, (registry_id,)

    def _procedures(self, row: Row, values: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        patient = self._patient(row, values)
        extras = self._extras(row, Procedure, values, ("follow_up_status", "follow_up_closed_on"))
        wanted = {
            "ended_at": values["ended_at"],
            "guidance": values["guidance"],
            "anesthesia": values["anesthesia"],
            "operator": values["operator"] or "",
            **extras,
        }
        key = (patient.pk, values["started_at"])
        pk = self.procedures.get(key)
        if pk is None:
            procedure = registry_services.procedure_create(
                patient=patient,
                started_at=values["started_at"],
                ended_at=wanted["ended_at"],
                guidance=wanted["guidance"],
                anesthesia=wanted["anesthesia"],
                operator=wanted["operator"],
            )
            if extras:
                registry_services.procedure_update(
                    procedure=procedure, reason=self.reason, **extras
                )
            self.procedures[key] = procedure.pk
            return CREATE, key
        procedure = Procedure.objects.select_related("patient__department").get(pk=pk)
        changes = self._changes(procedure, wanted)
        if not changes:
            return UNCHANGED, key
        registry_services.procedure_update(procedure=procedure, reason=self.reason, **changes)
        self._procedure_cache = None
        return UPDATE, key

    def _fractures(self, row: Row, values: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        procedure = self._procedure(row, values)
        wanted = {
            "type": values["type"],
            "screws": values["screws"] if values["screws"] is not None else 1,
            "cement_augmented": bool(values["cement_augmented"]),
        }
        key = (procedure.pk, values["site"], values["side"])
        nth = self._fracture_rows[key]
        self._fracture_rows[key] += 1
        known = self.fractures.setdefault(key, [])
        if nth >= len(known):
            fracture = registry_services.fracture_create(
                procedure=procedure, site=values["site"], side=values["side"], **wanted
            )
            known.append(fracture.pk)
            return CREATE, key
        pk = known[nth]
        fracture = Fracture.objects.get(pk=pk)
        changes = self._changes(fracture, wanted)
        if not changes:
            return UNCHANGED, key
        registry_services.fracture_update(fracture=fracture, reason=self.reason, **changes)
        return UPDATE, key

    @staticmethod
    def _same_coverage(record: Any, fracture_ids: list[int] | None) -> bool:
        if fracture_ids is None:
            return bool(record.all_fractures)
        return not record.all_fractures and set(fracture_ids) == {
            f.pk for f in record.fractures.all()
        }

    def _follow_ups(self, row: Row, values: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        procedure = self._procedure(row, values)
        fracture_ids = self._fracture_ids(row, procedure, values["fracture_sites"])
        wanted = {"kind": values["kind"], "notes": values["notes"] or ""}
        key = (procedure.pk, values["contact_at"])
        pk = self.follow_ups.get(key)
        if pk is None:
            follow_up = registry_services.follow_up_create(
                procedure=procedure,
                contact_at=values["contact_at"],
                fractures=fracture_ids,
                **wanted,
            )
            self.follow_ups[key] = follow_up.pk
            return CREATE, key
        follow_up = FollowUp.objects.select_related("procedure__patient__department").get(pk=pk)
        changes = self._changes(follow_up, wanted)
        same_fractures = self._same_coverage(follow_up, fracture_ids)
        if not changes and same_fractures:
            return UNCHANGED, key
        registry_services.follow_up_update(
            follow_up=follow_up,
            reason=self.reason,
            fractures=None if same_fractures else (fracture_ids or []),
            **changes,
        )
        return UPDATE, key

    def _term(self, row: Row, value: str) -> Any:
        pk = self.terms_by_code.get(value) or self.terms_by_name.get(value.lower())
        if pk is None:
            try:
                complication_services.get_term(value)
            except ValidationError as exc:
                for message in exc.messages:
                    self._cell_error(row, "term", message)
            raise _RowFailed
        return pk

    def _complications(self, row: Row, values: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        procedure = self._procedure(row, values)
        term_id = self._term(row, values["term"])
        fracture_ids = self._fracture_ids(row, procedure, values["fracture_sites"])
        facts = {name: values[name] for name in layout.FACT_NAMES if values[name] is not None}
        onset = {
            "onset_at": values["onset_at"],
            "onset_date": values["onset_date"],
            "during_procedure": bool(values["during_procedure"]),
        }
        wanted = {
            "facts": facts,
            "specify": values["specify"] or "",
            "grade_override": values["grade_override"],
            "override_reason": values["override_reason"] or "",
            "outcome": values["outcome"] or "",
            "description": values["description"] or "",
        }
        key = (procedure.pk, term_id, *onset.values())
        pk = self.complications.get(key)
        if pk is None:
            event = complication_services.complication_record(
                procedure=procedure,
                term=CtcaeTerm.objects.get(pk=term_id),
                fractures=fracture_ids,
                actor=self.actor,
                **onset,
                **wanted,
            )
            self.complications[key] = event.pk
            return CREATE, key
        event = ComplicationEvent.objects.select_related(
            "term", "procedure__patient__department"
        ).get(pk=pk)
        changes = self._changes(event, wanted)
        same_fractures = self._same_coverage(event, fracture_ids)
        if not changes and same_fractures:
            return UNCHANGED, key
        complication_services.complication_update(
            event=event,
            reason=self.reason,
            fractures=None if same_fractures else (fracture_ids or []),
            **changes,
        )
        return UPDATE, key


def run_import(
    *,
    department: Department,
    source: Source,
    commit: bool,
    reason: str,
    actor: Any = None,
    tick: Callable[[], None] | None = None,
    on_row: RowCallback | None = None,
) -> Report:
    """Import ``source`` into ``department``: every error of every row, and the
    records written only if ``commit`` and there was none (see the module)."""
    importer = Importer(department, source, reason=reason, actor=actor, tick=tick, on_row=on_row)
    return importer.run(commit=commit)
