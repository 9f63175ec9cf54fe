"""Correcting and deleting saved records from the registry's own pages.

What radiologists and data managers used to do in the Django admin: correct a
patient, a procedure (times, guidance, anaesthesia, operator), a fracture or a
follow-up contact, or delete one. As everywhere, the services write
(``registry.services``: the same rules and protections as the API), every edit
says why (the audit trail's change reason), another department's record is a
404, and an edit re-reads the record under a row lock to refuse overwriting a
change saved meanwhile (409, as the complication form).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from registry import services
from registry.audit.selectors import audit_name
from registry.forms import (
    CorrectionForm,
    DeleteForm,
    FollowUpCorrectionForm,
    FractureCorrectionForm,
    PatientCorrectionForm,
    ProcedureCorrectionForm,
    add_service_errors,
)
from registry.models import FollowUp, Fracture, Patient, Procedure
from registry.scoping import scope_to_user
from registry.views import procedure_for, safe_next

EDIT = ["GET", "POST"]


def _case_url(procedure_id: int, anchor: str = "") -> str:
    return reverse("case-detail", args=[procedure_id]) + anchor


def _patient_for(request: HttpRequest, pk: int) -> Patient:
    return get_object_or_404(
        scope_to_user(Patient.objects.select_related("department"), request.user), pk=pk
    )


def _correct(
    request: HttpRequest,
    *,
    record: models.Model,
    form_class: type[CorrectionForm],
    save: Callable[[Any, Any], Any],
    title: str,
    back: str,
    zone: str,
    form_kwargs: dict[str, Any] | None = None,
) -> HttpResponse:
    """The edit page of a saved record: load, or validate, lock, compare and save."""
    form_kwargs = form_kwargs or {}
    back = safe_next(request, back)
    conflict = None
    with timezone.override(ZoneInfo(zone)):
        if request.method == "POST":
            form = form_class(request.POST, **form_kwargs)
            if form.is_valid():
                try:
                    with transaction.atomic():
                        locked = type(record)._default_manager.select_for_update().get(pk=record.pk)
                        conflict = form.conflict_with(locked)
                        if conflict is None:
                            save(locked, form)
                except ValidationError as error:
                    add_service_errors(form, error)
                else:
                    if conflict is None:
                        messages.success(request, _("Correction saved."))
                        return redirect(back)
        else:
            form = form_class(initial=form_class.initial_for(record), **form_kwargs)
        return render(
            request,
            "registry/correction_form.html",
            {
                "title": title,
                "record": record,
                "audit_model": audit_name(type(record)),
                "form": form,
                "conflict": conflict,
                "next": back,
            },
            # 409: the record moved since the page was loaded (the form is shown again, not saved).
            status=409 if conflict is not None else 200,
        )


def _delete(
    request: HttpRequest,
    *,
    record: models.Model,
    title: str,
    back: str,
    done: str,
    consequence: str = "",
) -> HttpResponse:
    """The confirmation page of a deletion; the service refuses while protected records depend."""
    form = DeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.record_delete(record=record, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("%(record)s deleted.") % {"record": title})
            return redirect(done)
    return render(
        request,
        "registry/correction_delete.html",
        {
            "title": title,
            "record": record,
            "audit_model": audit_name(type(record)),
            "form": form,
            "consequence": consequence,
            "next": safe_next(request, back),
        },
    )


@dataclass(frozen=True)
class _Target:
    """A record to correct or delete: how its pages name it, the way back, its time zone."""

    record: models.Model
    title: str
    back: str
    zone: str


def _edit(
    request: HttpRequest, target: _Target, form_class: Any, save: Callable[..., None], **kwargs: Any
) -> HttpResponse:
    return _correct(
        request,
        record=target.record,
        form_class=form_class,
        save=save,
        title=target.title,
        back=target.back,
        zone=target.zone,
        **kwargs,
    )


def _remove(
    request: HttpRequest, target: _Target, *, done: str, consequence: str = ""
) -> HttpResponse:
    return _delete(
        request,
        record=target.record,
        title=target.title,
        back=target.back,
        done=done,
        consequence=consequence,
    )


# --- patients ---------------------------------------------------------------------------------


def _patient(request: HttpRequest, pk: int) -> _Target:
    patient = _patient_for(request, pk)
    return _Target(
        patient,
        _("Patient %(id)s") % {"id": patient.registry_id},
        reverse("patients"),
        patient.department.time_zone,
    )


def _save_patient(patient: Patient, form: PatientCorrectionForm) -> None:
    services.patient_update(patient=patient, reason=form.cleaned_data["reason"], **form.changes())


@permission_required("registry.change_patient", raise_exception=True)
@require_http_methods(EDIT)
def patient_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, _patient(request, pk), PatientCorrectionForm, _save_patient)


@permission_required("registry.delete_patient", raise_exception=True)
@require_http_methods(EDIT)
def patient_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _remove(request, _patient(request, pk), done=reverse("patients"))


# --- procedures -------------------------------------------------------------------------------


def _procedure(request: HttpRequest, pk: int) -> _Target:
    procedure = procedure_for(request, pk)
    zone = procedure.patient.department.time_zone
    local = timezone.localtime(procedure.started_at, ZoneInfo(zone))
    title = _("Procedure of %(id)s on %(date)s") % {
        "id": procedure.patient.registry_id,
        "date": local.strftime("%Y-%m-%d %H:%M"),
    }
    return _Target(procedure, title, _case_url(procedure.pk), zone)


def _save_procedure(procedure: Procedure, form: ProcedureCorrectionForm) -> None:
    services.procedure_update(
        procedure=procedure, reason=form.cleaned_data["reason"], **form.changes()
    )


@permission_required("registry.change_procedure", raise_exception=True)
@require_http_methods(EDIT)
def procedure_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, _procedure(request, pk), ProcedureCorrectionForm, _save_procedure)


@permission_required("registry.delete_procedure", raise_exception=True)
@require_http_methods(EDIT)
def procedure_delete(request: HttpRequest, pk: int) -> HttpResponse:
    return _remove(
        request,
        _procedure(request, pk),
        done=reverse("case-list"),
        consequence=_("Its fractures and follow-up contacts are deleted with it."),
    )


# --- fractures and follow-up contacts ---------------------------------------------------------


def _fracture(request: HttpRequest, pk: int, fracture_pk: int) -> _Target:
    procedure = procedure_for(request, pk)
    fracture = get_object_or_404(procedure.fractures, pk=fracture_pk)
    return _Target(
        fracture,
        _("Fracture: %(fracture)s") % {"fracture": fracture},
        _case_url(procedure.pk, "#fractures"),
        procedure.patient.department.time_zone,
    )


def _save_fracture(fracture: Fracture, form: FractureCorrectionForm) -> None:
    services.fracture_update(
        fracture=fracture, reason=form.cleaned_data["reason"], **form.changes()
    )


@permission_required("registry.change_fracture", raise_exception=True)
@require_http_methods(EDIT)
def fracture_edit(request: HttpRequest, pk: int, fracture_pk: int) -> HttpResponse:
    target = _fracture(request, pk, fracture_pk)
    return _edit(request, target, FractureCorrectionForm, _save_fracture)


@permission_required("registry.delete_fracture", raise_exception=True)
@require_http_methods(EDIT)
def fracture_delete(request: HttpRequest, pk: int, fracture_pk: int) -> HttpResponse:
    target = _fracture(request, pk, fracture_pk)
    return _remove(request, target, done=target.back)


def _follow_up(request: HttpRequest, pk: int, follow_up_pk: int) -> _Target:
    procedure = procedure_for(request, pk)
    follow_up = get_object_or_404(procedure.follow_ups, pk=follow_up_pk)
    zone = procedure.patient.department.time_zone
    when = timezone.localtime(follow_up.contact_at, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    return _Target(
        follow_up,
        _("Follow-up contact of %(when)s") % {"when": when},
        _case_url(procedure.pk, "#follow-ups"),
        zone,
    )


def _save_follow_up(follow_up: FollowUp, form: FollowUpCorrectionForm) -> None:
    services.follow_up_update(
        follow_up=follow_up,
        fractures=form.fractures_changed(),
        reason=form.cleaned_data["reason"],
        **form.changes(),
    )


@permission_required("registry.change_followup", raise_exception=True)
@require_http_methods(EDIT)
def follow_up_edit(request: HttpRequest, pk: int, follow_up_pk: int) -> HttpResponse:
    target = _follow_up(request, pk, follow_up_pk)
    fractures = target.record.procedure.fractures.all()  # type: ignore[attr-defined]
    return _edit(
        request,
        target,
        FollowUpCorrectionForm,
        _save_follow_up,
        form_kwargs={"fractures": fractures},
    )


@permission_required("registry.delete_followup", raise_exception=True)
@require_http_methods(EDIT)
def follow_up_delete(request: HttpRequest, pk: int, follow_up_pk: int) -> HttpResponse:
    target = _follow_up(request, pk, follow_up_pk)
    return _remove(request, target, done=target.back)
