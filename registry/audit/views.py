"""The audit trail's pages: one record's history, and the CSV export for data managers."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from registry import roles, spreadsheets
from registry.audit import selectors
from registry.scoping import visible_departments

PAGE_SIZE = 20
EXPORT_COLUMNS = [
    "department",
    "model",
    "record_id",
    "history_id",
    "date",
    "user",
    "type",
    "reason",
    "changes",
]


@require_GET
def record(request: HttpRequest, model: str, pk: int) -> HttpResponse:
    """``/audit/<model>/<pk>/``: the record's entries, newest first, each with its diff.

    A record of another department answers 404, exactly like one that never existed.
    """
    try:
        history = selectors.record_history(user=request.user, model_name=model, pk=pk)
    except LookupError:
        raise Http404 from None
    page = Paginator(history, PAGE_SIZE).get_page(request.GET.get("page"))
    if not page.object_list:
        raise Http404
    rows = list(page.object_list)
    # The entry just before this page's last one, so that the last one has its diff too.
    older = history[page.end_index()] if page.has_next() else None
    return render(
        request,
        "registry/audit_record.html",
        {
            "model_name": model,
            "model_label": selectors.audited_model(model)._meta.verbose_name,
            "pk": pk,
            "page": page,
            "entries": selectors.entries_with_changes(model, rows, older),
            "deleted": rows[0].history_type == "-" and page.number == 1,
        },
    )


class _Echo:
    """A file-like object whose ``write`` hands the line back, for streaming csv rows."""

    def write(self, value: str) -> str:
        return value


def _may_export(user) -> bool:  # type: ignore[no-untyped-def]
    """Data managers with the export permission, and administrators."""
    if user.is_superuser:
        return True
    return (
        user.has_perm("registry.export_data")
        and user.groups.filter(name=roles.DATA_MANAGER).exists()
    )


def _parse_date(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be a date (YYYY-MM-DD), not {value!r}.") from None


@require_GET
def export(request: HttpRequest) -> HttpResponse:
    """``/audit/export.csv?department=&date_from=&date_to=``: every entry of the user's departments.

    Streamed, so a large history never sits in memory; one row per entry with its
    changes as JSON ``{field: [before, after]}``.
    """
    if not _may_export(request.user):
        raise PermissionDenied
    departments = visible_departments(request.user)
    try:
        if request.GET.get("department"):
            departments = departments.filter(pk=int(request.GET["department"]))
        date_from = _parse_date(request.GET.get("date_from"), "date_from")
        date_to = _parse_date(request.GET.get("date_to"), "date_to")
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain")
    if not departments.exists():
        raise Http404
    entries = selectors.department_entries(
        departments=departments, date_from=date_from, date_to=date_to
    )

    def lines() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield writer.writerow(EXPORT_COLUMNS)
        for department, entry in entries:
            row = [
                department,
                entry.model_name,
                entry.record_id,
                entry.history_id,
                entry.when.isoformat(),
                entry.user,
                entry.type,
                entry.reason,
                json.dumps({c.field: [c.old, c.new] for c in entry.changes}, ensure_ascii=False),
            ]
            yield writer.writerow([spreadsheets.csv_text(cell) for cell in row])

    stamp = timezone.localdate().strftime("%Y%m%d")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="pigsf-audit-{stamp}.csv"'
    return response
