"""Reads of the audit trail: history entries, their differences, and their scope.

Scope
-----
An entry is visible to the users of its record's department, as the rest of
the registry is (``registry.scoping.visible_departments``). A deleted record
has no live row to scope, so the department is read from history: the record's
last historical row names its parent (patient, procedure), whose last
historical row names its own, up to the patient's department. Every clinical
write goes through ``save()``/``delete()`` (the services), so the last
historical row is the record as it is, or was when deleted: for a live record
this is the same department that ``scope_to_user`` uses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db.models import Model, QuerySet
from django.utils import timezone

from registry.models import Department
from registry.scoping import visible_departments

# The URL's model names and the models they stand for; the order is the export's. Another
# app adds its audited models at start-up (``register_audited``): registry names none of them.
AUDITED: dict[str, str] = {
    "patient": "registry.Patient",
    "procedure": "registry.Procedure",
    "fracture": "registry.Fracture",
    "followup": "registry.FollowUp",
}
# Bookkeeping that changes on every save and says nothing about the clinical record (the
# primary key, shown in the page's title, is left out too).
NOISE_FIELDS = ("created_at", "updated_at")
EMPTY = "—"


def register_audited(name: str, model: type[Model]) -> None:
    """Give ``model`` (with history and a ``DEPARTMENT_PATH``) an audit page at ``name``."""
    AUDITED[name] = model._meta.label


def audited_model(name: str) -> type[Model]:
    """The model behind ``name`` (``patient``, ...); ``LookupError`` for any other name."""
    if name not in AUDITED:
        raise LookupError(name)
    return apps.get_model(AUDITED[name])


def audit_name(model: type[Model]) -> str | None:
    """The URL's name for ``model``, or None when the model has no audit page."""
    label = model._meta.label
    return next((name for name, audited in AUDITED.items() if audited == label), None)


def _parent_field(model: type[Model]) -> str:
    """The first step of the model's path to its department (``procedure``, ``patient``...)."""
    return model.DEPARTMENT_PATH.split("__")[0]  # type: ignore[attr-defined]


def department_of(model: type[Model], pk: int) -> int | None:
    """The department (id) of record ``pk`` as last recorded in history; None without history."""
    while True:
        field = model._meta.get_field(_parent_field(model))
        parent_id = (
            model.history.filter(id=pk)  # type: ignore[attr-defined]
            .order_by("-history_date", "-history_id")
            .values_list(field.attname, flat=True)
            .first()
        )
        if parent_id is None or field.related_model is Department:
            return parent_id
        model, pk = field.related_model, parent_id


def _departments_by_record(
    model: type[Model], cache: dict[type[Model], dict[int, int]]
) -> dict[int, int]:
    """Record id -> department id, for every record of ``model`` that has history.

    One query per model on the path, each reading the history in order so the
    last row of each record wins.
    """
    if model in cache:
        return cache[model]
    field = model._meta.get_field(_parent_field(model))
    rows = model.history.order_by("id", "history_date", "history_id").values_list(  # type: ignore[attr-defined]
        "id", field.attname
    )
    last_parent = dict(rows.iterator(chunk_size=2000))
    if field.related_model is Department:
        result = last_parent
    else:
        parents = _departments_by_record(field.related_model, cache)
        result = {pk: parents[parent] for pk, parent in last_parent.items() if parent in parents}
    cache[model] = result
    return result


def record_history(*, user, model_name: str, pk: int) -> QuerySet[Any]:  # type: ignore[no-untyped-def]
    """The history entries of one record, newest first; empty when out of the user's scope.

    ``LookupError`` for a model name without an audit page.
    """
    model = audited_model(model_name)
    entries = model.history.filter(id=pk).select_related("history_user")  # type: ignore[attr-defined]
    if user.is_superuser:
        return entries.order_by("-history_date", "-history_id")
    department = department_of(model, pk)
    if department is None or not visible_departments(user).filter(pk=department).exists():
        return entries.none()
    return entries.order_by("-history_date", "-history_id")


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class Entry:
    """One history entry as the audit page and the export show it."""

    model_name: str
    record_id: int
    history_id: int
    when: datetime
    user: str
    type: str  # "+", "~" or "-"
    reason: str
    changes: list[Change]


def _display(field: Any, value: Any) -> str:
    """A stored value as a person reads it: choice labels, local times, id lists."""
    if value is None or value == "":
        return EMPTY
    if field.many_to_many:
        key = field.m2m_reverse_field_name()
        return ", ".join(str(pk) for pk in sorted(row[key] for row in value)) or EMPTY
    if field.flatchoices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="minutes")
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _fields(model: type[Model]) -> list[Any]:
    """The fields an entry shows: the editable, history-tracked ones, without bookkeeping."""
    tracked = {f.name for f in model.history.model.tracked_fields if f.editable}  # type: ignore[attr-defined]
    m2m = [f for f in model._meta.many_to_many if f.name in _m2m_names(model)]
    return [
        f
        for f in model._meta.concrete_fields
        if f.name in tracked and f.name not in NOISE_FIELDS and not f.primary_key
    ] + m2m


def _m2m_names(model: type[Model]) -> set[str]:
    return {f.name for f in getattr(model.history.model, "_history_m2m_fields", [])}  # type: ignore[attr-defined]


def entry(model_name: str, row: Any, previous: Any | None) -> Entry:
    """``row`` with its changes against ``previous`` (the record's entry just before it).

    A creation lists every value it set; an update or deletion, what differs
    from the previous entry (simple-history's ``diff_against``).
    """
    model = row.instance_type
    fields = {f.name: f for f in _fields(model)}
    if previous is None:
        changes = [
            Change(name, str(field.verbose_name), EMPTY, _display(field, _value(row, field)))
            for name, field in fields.items()
            if _display(field, _value(row, field)) != EMPTY
        ]
    else:
        delta = row.diff_against(previous, included_fields=list(fields))
        changes = [
            Change(
                c.field,
                str(fields[c.field].verbose_name),
                _display(fields[c.field], c.old),
                _display(fields[c.field], c.new),
            )
            for c in delta.changes
        ]
    user = row.history_user.get_username() if row.history_user else ""
    return Entry(
        model_name=model_name,
        record_id=row.id,
        history_id=row.history_id,
        when=row.history_date,
        user=user,
        type=row.history_type,
        reason=row.history_change_reason or "",
        changes=changes,
    )


def _value(row: Any, field: Any) -> Any:
    """What ``row`` stored for ``field``; a many-to-many as the rows ``diff_against`` gives."""
    if field.many_to_many:
        return list(getattr(row, field.name).values(field.m2m_reverse_field_name()))
    return getattr(row, field.attname)


def entries_with_changes(model_name: str, rows: list[Any], older: Any | None) -> list[Entry]:
    """Entries for ``rows`` (one record, newest first); ``older`` is the entry before the last."""
    following = [*rows[1:], older]
    return [entry(model_name, row, previous) for row, previous in zip(rows, following, strict=True)]


def _local_bounds(
    date_from: date | None, date_to: date | None
) -> tuple[datetime | None, datetime | None]:
    zone = ZoneInfo(settings.TIME_ZONE)
    start = datetime.combine(date_from, time.min, tzinfo=zone) if date_from else None
    end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone) if date_to else None
    return start, end


def department_entries(
    *, departments: QuerySet[Department], date_from: date | None = None, date_to: date | None = None
) -> Iterator[tuple[str, Entry]]:
    """Every history entry of the departments' records, as (department code, entry).

    Dates are the entries' local dates (``settings.TIME_ZONE``), both inclusive.
    Per model, by record and time, so that each entry is diffed against the one
    before it (read even when it falls before ``date_from``).
    """
    codes = dict(departments.values_list("pk", "code"))
    start, end = _local_bounds(date_from, date_to)
    cache: dict[type[Model], dict[int, int]] = {}
    for name in AUDITED:
        model = audited_model(name)
        in_scope = {
            pk: dep for pk, dep in _departments_by_record(model, cache).items() if dep in codes
        }
        # Filtered here rather than by ``id__in``: the list could exceed SQLite's bound
        # on query parameters, and the history is read whole for the scope anyway.
        rows = model.history.select_related("history_user")  # type: ignore[attr-defined]
        if end is not None:
            rows = rows.filter(history_date__lt=end)
        previous = None
        for row in rows.order_by("id", "history_date", "history_id").iterator(chunk_size=500):
            if row.id not in in_scope:
                continue
            if previous is not None and previous.id != row.id:
                previous = None
            if start is None or row.history_date >= start:
                yield codes[in_scope[row.id]], entry(name, row, previous)
            previous = row
