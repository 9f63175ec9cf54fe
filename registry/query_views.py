"""Query pages: the department list (filters, ages), one query's thread with its
actions, and opening a query from the case page. Thin: one service per POST."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from registry import queries
from registry.models import QueryStatus, RecordType
from registry.scoping import visible_departments
from registry.views import procedure_for


class QueryFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        choices=[
            ("", gettext_lazy("Open or answered")),
            *QueryStatus.choices,
            ("all", gettext_lazy("All")),
        ],
        required=False,
    )
    record_type = forms.ChoiceField(
        label=gettext_lazy("Record"),
        choices=[("", gettext_lazy("All")), *RecordType.choices],
        required=False,
    )
    department = forms.TypedChoiceField(
        label=gettext_lazy("Department"), coerce=int, required=False, empty_value=None
    )
    mine = forms.BooleanField(label=gettext_lazy("Asked of me"), required=False)

    def __init__(self, data: Any, *, user: Any) -> None:
        super().__init__(data)
        self.fields["department"].choices = [
            ("", _("All my departments")),
            *((d.pk, str(d)) for d in visible_departments(user)),
        ]


@require_http_methods(["GET"])
def query_list(request: HttpRequest) -> HttpResponse:
    form = QueryFilterForm(request.GET, user=request.user)
    rows = queries.queries_for(request.user)
    if form.is_valid():
        data = form.cleaned_data
        if data["status"] == "all":
            pass
        elif data["status"]:
            rows = rows.filter(status=data["status"])
        else:
            rows = rows.exclude(status=QueryStatus.CLOSED)
        if data["record_type"]:
            rows = rows.filter(record_type=data["record_type"])
        if data["department"]:
            rows = rows.filter(department_id=data["department"])
        if data["mine"]:
            rows = rows.filter(assigned_to=request.user)
    return render(
        request,
        "registry/query_list.html",
        {"form": form, "rows": rows.order_by("created_at")[:500]},
    )


@require_http_methods(["GET"])
def query_detail(request: HttpRequest, pk: int) -> HttpResponse:
    query = get_object_or_404(queries.queries_for(request.user), pk=pk)
    return render(
        request,
        "registry/query_detail.html",
        {
            "query": query,
            "thread": query.messages.select_related("author"),
            "may_answer": queries.may_answer(request.user),
            "may_manage": queries.may_open(request.user),
        },
    )


@require_POST
def query_act(request: HttpRequest, pk: int, verb: str) -> HttpResponse:
    if verb not in ("answer", "close", "reopen"):
        raise Http404
    query = get_object_or_404(queries.queries_for(request.user), pk=pk)
    service = {
        "answer": queries.query_answer,
        "close": queries.query_close,
        "reopen": queries.query_reopen,
    }[verb]
    try:
        service(query=query, user=request.user, text=request.POST.get("text", ""))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Query updated."))
    return redirect(reverse("query-page", args=[query.pk]))


@require_POST
def query_open(request: HttpRequest, pk: int) -> HttpResponse:
    """From the case page: ``record`` is ``<record_type>:<id>`` of one of its records."""
    procedure = procedure_for(request, pk)
    if not queries.may_open(request.user):
        raise PermissionDenied
    record_type, _sep, record_id = request.POST.get("record", "").partition(":")
    try:
        query = queries.query_open(
            user=request.user,
            record_type=record_type,
            record_id=int(record_id) if record_id.isdigit() else 0,
            field=request.POST.get("field", ""),
            text=request.POST.get("text", ""),
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(reverse("case-detail", args=[procedure.pk]) + "#queries")
    messages.success(request, _("Query opened."))
    return redirect(reverse("query-page", args=[query.pk]))
