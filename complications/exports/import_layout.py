"""The selection in the import layout itself (../shared/docs/import-format.md):
a workbook a department can import into another installation.

It carries registry ids, so only a user holding ``registry.export_identifiers``
may write it. Sheets and columns come from ``complications.imports.layout``
(the importer's own table), so what this writes the importer reads: times as
ISO 8601 with the department's offset, dates as ``YYYY-MM-DD``, codes as the API's.
Grades and windows are not written: an import derives them again.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from openpyxl import Workbook

from complications.exports.base import Exporter, Tick, register
from complications.exports.xlsx import _xlsx_cell
from complications.imports import layout
from complications.models import ComplicationEvent, ExportJob
from registry.models import FollowUp, Fracture, Patient, Procedure

CHUNK = 2000


def _time(value: datetime | None, zone: str) -> str:
    return "" if value is None else value.astimezone(ZoneInfo(zone)).isoformat()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _sites(record: Any) -> str:
    """The fractures a follow-up or complication concerns; where the procedure
    has two of one site and side, which one (``pubic_ramus/left/2``)."""
    if record.all_fractures:
        return ""
    numbered: dict[int, str] = {}
    counts: dict[tuple[str, str], int] = {}
    for fracture in sorted(record.procedure.fractures.all(), key=lambda f: f.pk):
        key = (fracture.site, fracture.side)
        counts[key] = counts.get(key, 0) + 1
        numbered[fracture.pk] = f"{fracture.site}/{fracture.side}/{counts[key]}"
    names = []
    for fracture in sorted(record.fractures.all(), key=lambda f: f.pk):
        name = numbered[fracture.pk]
        site, side, _nth = name.split("/")
        names.append(name if counts[(site, side)] > 1 else f"{site}/{side}")
    return ";".join(names)


@register
class ImportLayoutExporter(Exporter):
    identifier = ExportJob.Format.IMPORT
    extension = "xlsx"
    content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = "import-layout"
    needs_identifiers = True

    def _procedures(self) -> Any:
        ids = self.selection.fractures().values("procedure_id")
        return Procedure.objects.filter(pk__in=ids)

    def _querysets(self) -> dict[str, Any]:
        procedures = self._procedures()
        return {
            "patients": Patient.objects.filter(pk__in=procedures.values("patient_id"))
            .select_related("department")
            .order_by("pk"),
            "procedures": procedures.select_related("patient__department").order_by("pk"),
            "fractures": self.selection.fractures()
            .select_related("procedure__patient__department")
            .order_by("pk"),
            "follow_ups": FollowUp.objects.filter(procedure__in=procedures)
            .select_related("procedure__patient__department")
            .prefetch_related("fractures", "procedure__fractures")
            .order_by("pk"),
            "complications": self.selection.complications()
            .select_related("term", "procedure__patient__department")
            .prefetch_related("fractures", "procedure__fractures")
            .order_by("pk"),
        }

    def count(self) -> int:
        return sum(qs.count() for qs in self._querysets().values())

    @staticmethod
    def _patients(p: Patient) -> dict[str, Any]:
        row = {"registry_id": p.registry_id, "sex": p.sex, "birth_date": p.birth_date}
        for name in ("death_date", "death_related"):
            row[name] = getattr(p, name, None)
        return row

    @staticmethod
    def _procedures_row(p: Procedure) -> dict[str, Any]:
        zone = p.patient.department.time_zone
        row = {
            "registry_id": p.patient.registry_id,
            "started_at": _time(p.started_at, zone),
            "ended_at": _time(p.ended_at, zone),
            "guidance": p.guidance,
            "anesthesia": p.anesthesia,
            "operator": p.operator,
        }
        for name in ("follow_up_status", "follow_up_closed_on"):
            row[name] = getattr(p, name, None)
        return row

    @staticmethod
    def _fractures(f: Fracture) -> dict[str, Any]:
        p = f.procedure
        return {
            "registry_id": p.patient.registry_id,
            "procedure_started_at": _time(p.started_at, p.patient.department.time_zone),
            "site": f.site,
            "side": f.side,
            "type": f.type,
            "screws": f.screws,
            "cement_augmented": f.cement_augmented,
        }

    @staticmethod
    def _follow_ups(u: FollowUp) -> dict[str, Any]:
        p = u.procedure
        zone = p.patient.department.time_zone
        return {
            "registry_id": p.patient.registry_id,
            "procedure_started_at": _time(p.started_at, zone),
            "contact_at": _time(u.contact_at, zone),
            "kind": u.kind,
            "fracture_sites": _sites(u),
            "notes": u.notes,
        }

    @staticmethod
    def _complications(e: ComplicationEvent) -> dict[str, Any]:
        p = e.procedure
        zone = p.patient.department.time_zone
        facts = dict(e.facts or {})
        row = {
            "registry_id": p.patient.registry_id,
            "procedure_started_at": _time(p.started_at, zone),
            "term": e.term.code,
            "onset_at": _time(e.onset_at, zone),
            "onset_date": e.onset_date,
            "during_procedure": True if e.during_procedure else None,
            "specify": e.specify,
            "fracture_sites": _sites(e),
            "grade_override": e.grade_override,
            "override_reason": e.override_reason,
            "outcome": e.outcome,
            "description": e.description,
        }
        for name in layout.FACT_NAMES:
            value = facts.get(name)
            row[name] = " | ".join(value) if name == "criteria" and value else value
        return row

    def write(self, path: Path, *, tick: Tick | None = None) -> None:
        if not self.selection.identifiers:
            raise PermissionDenied("The import layout carries registry ids.")
        workbook = Workbook(write_only=True)
        for name, queryset in self._querysets().items():
            sheet_spec = layout.BY_NAME[name]
            sheet = workbook.create_sheet(title=name)
            sheet.append(list(sheet_spec.names))
            method = "_procedures_row" if name == "procedures" else f"_{name}"
            for record in queryset.iterator(chunk_size=CHUNK):
                row = getattr(self, method)(record)
                sheet.append([_xlsx_cell(sheet, _cell(row.get(c))) for c in sheet_spec.names])
                if tick:
                    tick()
        workbook.save(path)
