"""Queries (data resolution): a data manager asks about a record, or one of its
fields, of a case; the radiologist who entered the case answers; the data manager
closes or reopens it. Every message is a ``QueryMessage`` with its history, so the
thread is in the audit trail.

The record is named by type and id (``RecordType``); complications' model is found
by its audited name (``registry.audit.selectors.audited_model``), never imported.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from registry import roles
from registry.audit.selectors import audited_model
from registry.models import DataQuery, Procedure, QueryMessage, QueryStatus, RecordType
from registry.scoping import scope_to_user

# RecordType -> the audit trail's name of its model.
_AUDIT_NAMES = {
    RecordType.PATIENT: "patient",
    RecordType.PROCEDURE: "procedure",
    RecordType.FRACTURE: "fracture",
    RecordType.FOLLOW_UP: "followup",
    RecordType.COMPLICATION: "complication",
}


def _in_group(user: Any, *names: str) -> bool:
    return bool(
        user.is_authenticated and (user.is_superuser or user.groups.filter(name__in=names).exists())
    )


def may_open(user: Any) -> bool:
    """Data managers (and administrators) open, close and reopen queries."""
    return _in_group(user, roles.DATA_MANAGER)


def may_answer(user: Any) -> bool:
    return _in_group(user, roles.DATA_MANAGER, roles.RADIOLOGIST)


def audit_name(record_type: str) -> str:
    return _AUDIT_NAMES[RecordType(record_type)]


def query_record(*, user: Any, record_type: str, record_id: int) -> models.Model:
    """The record a query names, among those the user may see (else a 400 on ``record_id``)."""
    model = audited_model(audit_name(record_type))
    record = scope_to_user(model._default_manager.all(), user).filter(pk=record_id).first()
    if record is None:
        raise ValidationError({"record_id": [_("No such record.")]})
    return record


def _case_of(record: models.Model) -> Procedure:
    if isinstance(record, Procedure):
        return record
    procedure = getattr(record, "procedure", None)
    if isinstance(procedure, Procedure):
        return procedure
    # A patient: the query is on its latest procedure's case.
    latest = Procedure.objects.filter(patient_id=record.pk).order_by("-started_at").first()
    if latest is None:
        raise ValidationError({"record_id": [_("This patient has no case to query.")]})
    return latest


def entered_by(procedure: Procedure) -> Any:
    """The user who entered the case (the procedure's first audit row), or None."""
    first = Procedure.history.filter(id=procedure.pk).order_by("history_date").first()
    return None if first is None else first.history_user


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def _message(query: DataQuery, *, author: Any, text: str) -> QueryMessage:
    text = text.strip()
    if not text:
        raise ValidationError({"text": [_("Write the message.")]})
    message = QueryMessage(query=query, author=author, text=text)
    message.full_clean()
    message.save()
    return message


@transaction.atomic
def query_open(
    *, user: Any, record_type: str, record_id: int, text: str, field: str = ""
) -> DataQuery:
    _require(may_open(user), _("Only a data manager may open a query."))
    if record_type not in RecordType.values:
        raise ValidationError({"record_type": [_("Unknown record type.")]})
    record = query_record(user=user, record_type=record_type, record_id=record_id)
    field = field.strip()
    if field:
        try:
            record._meta.get_field(field)
        except FieldDoesNotExist:
            raise ValidationError(
                {
                    "field": [
                        _("%(record)s has no field %(field)s.")
                        % {"record": record._meta.verbose_name, "field": field}
                    ]
                }
            ) from None
    procedure = _case_of(record)
    query = DataQuery(
        department_id=procedure.patient.department_id,
        procedure=procedure,
        record_type=record_type,
        record_id=record.pk,
        field=field,
        text=text.strip(),
        opened_by=user,
        assigned_to=entered_by(procedure),
    )
    query.full_clean()
    query.save()
    _message(query, author=user, text=text)
    return query


def _transition(query: DataQuery, *, user: Any, text: str, status: str) -> DataQuery:
    if text.strip():
        _message(query, author=user, text=text)
    query.status = status
    query.save(update_fields=["status", "updated_at"])
    return query


@transaction.atomic
def query_answer(*, query: DataQuery, user: Any, text: str) -> DataQuery:
    _require(may_answer(user), _("Only a radiologist or a data manager may answer a query."))
    if query.status == QueryStatus.CLOSED:
        raise ValidationError({"non_field_errors": [_("This query is closed; reopen it first.")]})
    if not text.strip():
        raise ValidationError({"text": [_("Write the message.")]})
    return _transition(query, user=user, text=text, status=QueryStatus.ANSWERED)


@transaction.atomic
def query_close(*, query: DataQuery, user: Any, text: str = "") -> DataQuery:
    _require(may_open(user), _("Only a data manager may close or reopen a query."))
    if query.status == QueryStatus.CLOSED:
        raise ValidationError({"non_field_errors": [_("This query is already closed.")]})
    return _transition(query, user=user, text=text, status=QueryStatus.CLOSED)


@transaction.atomic
def query_reopen(*, query: DataQuery, user: Any, text: str = "") -> DataQuery:
    _require(may_open(user), _("Only a data manager may close or reopen a query."))
    if query.status != QueryStatus.CLOSED:
        raise ValidationError({"non_field_errors": [_("Only a closed query can be reopened.")]})
    return _transition(query, user=user, text=text, status=QueryStatus.OPEN)


def queries_for(user: Any) -> QuerySet[DataQuery]:
    """The queries of the user's departments, with what their lists show."""
    return scope_to_user(
        DataQuery.objects.select_related("procedure__patient", "opened_by", "assigned_to"), user
    )


def unresolved_queries(user: Any) -> QuerySet[DataQuery]:
    """Open and answered queries (answered: waiting for the data manager)."""
    return queries_for(user).exclude(status=QueryStatus.CLOSED)
