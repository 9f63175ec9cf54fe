"""The case page's verify and unlock buttons (data managers): thin, one service each."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from registry.verification import may_verify, procedure_unlock, procedure_verify
from registry.views import procedure_for


def _back(pk: int) -> HttpResponse:
    return redirect(reverse("case-detail", args=[pk]))


def _refuse_unless_allowed(request: HttpRequest) -> None:
    if not may_verify(request.user):
        raise PermissionDenied


@require_POST
def case_verify(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_for(request, pk)
    _refuse_unless_allowed(request)
    try:
        procedure_verify(procedure=procedure, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Case verified against the source records; it is now locked."))
    return _back(procedure.pk)


@require_POST
def case_unlock(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_for(request, pk)
    _refuse_unless_allowed(request)
    try:
        procedure_unlock(
            procedure=procedure, user=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Case unlocked; the reason is in the audit trail."))
    return _back(procedure.pk)
