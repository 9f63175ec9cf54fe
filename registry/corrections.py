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


# --- patients ---------------------------------------------------------------------------------


def _save_patient(patient: Patient, form: PatientCorrectionForm) -> None:
    services.patient_update(patient=patient, reason=form.cleaned_data["reason"], **form.changes())


@permission_required("registry.change_patient", raise_exception=True)
@require_http_methods(EDIT)
def patient_edit(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _patient_for(request, pk)
    return _correct(
        request,
        record=patient,
        form_class=PatientCorrectionForm,
        save=_save_patient,
        title=_("Patient %(id)s") % {"id": patient.registry_id},
        back=reverse("patients"),
        zone=patient.department.time_zone,
    )


@permission_required("registry.delete_patient", raise_exception=True)
@require_http_methods(EDIT)
def patient_delete(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _patient_for(request, pk)
    return _delete(
        request,
        record=patient,
        title=_("Patient %(id)s") % {"id": patient.registry_id},
        back=reverse("patients"),
        done=reverse("patients"),
    )


# --- procedures -------------------------------------------------------------------------------


def _procedure_title(procedure: Procedure) -> str:
    local = timezone.localtime(
        procedure.started_at, ZoneInfo(procedure.patient.department.time_zone)
    )
    return _("Procedure of %(id)s on %(date)s") % {
        "id": procedure.patient.registry_id,
        "date": local.strftime("%Y-%m-%d %H:%M"),
    }


def _save_procedure(procedure: Procedure, form: ProcedureCorrectionForm) -> None:
    services.procedure_update(
        procedure=procedure, reason=form.cleaned_data["reason"], **form.changes()
    )


@permission_required("registry.change_procedure", raise_exception=True)
@require_http_methods(EDIT)
def procedure_edit(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_for(request, pk)
    return _correct(
        request,
        record=procedure,
        form_class=ProcedureCorrectionForm,
        save=_save_procedure,
        title=_procedure_title(procedure),
        back=_case_url(procedure.pk),
        zone=procedure.patient.department.time_zone,
    )


@permission_required("registry.delete_procedure", raise_exception=True)
@require_http_methods(EDIT)
def procedure_delete(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_for(request, pk)
    return _delete(
        request,
        record=procedure,
        title=_procedure_title(procedure),
        back=_case_url(procedure.pk),
        done=reverse("case-list"),
        consequence=_("Its fractures and follow-up contacts are deleted with it."),
    )


# --- fractures and follow-up contacts ---------------------------------------------------------


def _save_fracture(fracture: Fracture, form: FractureCorrectionForm) -> None:
    services.fracture_update(
        fracture=fracture, reason=form.cleaned_data["reason"], **form.changes()
    )


@permission_required("registry.change_fracture", raise_exception=True)
@require_http_methods(EDIT)
def fracture_edit(request: HttpRequest, pk: int, fracture_pk: int) -> HttpResponse:
    procedure = procedure_for(request, pk)
    fracture = get_object_or_404(procedure.fractures, pk=fracture_pk)
    return _correct(
        request,
        record=fracture,
        form_class=FractureCorrectionForm,
        save=_save_fracture,
        title=_("Fracture: %(fracture)s") % {"fracture": fracture},
        back=_case_url(procedure.pk, "#fractures"),
        zone=procedure.patient.department.time_zone,
    )


@permission_required("registry.delete_fracture", raise_exception=True)
@require_http_methods(EDIT)
def fracture_delete(request: HttpRequest, pk: int, fracture_pk: int) -> HttpResponse:
    procedure = procedure_for(request, pk)
    fracture = get_object_or_404(procedure.fractures, pk=fracture_pk)
    return _delete(
        request,
        record=fracture,
        title=_("Fracture: %(fracture)s") % {"fracture": fracture},
        back=_case_url(procedure.pk, "#fractures"),
        done=_case_url(procedure.pk, "#fractures"),
    )


def _save_follow_up(follow_up: FollowUp, form: FollowUpCorrectionForm) -> None:
    services.follow_up_update(
        follow_up=follow_up,
        fractures=form.fractures_changed(),
        reason=form.cleaned_data["reason"],
        **form.changes(),
    )


def _follow_up_title(follow_up: FollowUp, zone: str) -> str:
    return _("Follow-up contact of %(when)s") % {
        "when": timezone.localtime(follow_up.contact_at, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    }


@permission_required("registry.change_followup", raise_exception=True)
@require_http_methods(EDIT)
def follow_up_edit(request: HttpRequest, pk: int, follow_up_pk: int) -> HttpResponse:
    procedure = procedure_for(request, pk)
    follow_up = get_object_or_404(procedure.follow_ups, pk=follow_up_pk)
    zone = procedure.patient.department.time_zone
    return _correct(
        request,
        record=follow_up,
        form_class=FollowUpCorrectionForm,
        save=_save_follow_up,
        title=_follow_up_title(follow_up, zone),
        back=_case_url(procedure.pk, "#follow-ups"),
        zone=zone,
        form_kwargs={"fractures": procedure.fractures.all()},
    )


@permission_required("registry.delete_followup", raise_exception=True)
@require_http_methods(EDIT)
def follow_up_delete(request: HttpRequest, pk: int, follow_up_pk: int) -> HttpResponse:
    procedure = procedure_for(request, pk)
    follow_up = get_object_or_404(procedure.follow_ups, pk=follow_up_pk)
    return _delete(
        request,
        record=follow_up,
        title=_follow_up_title(follow_up, procedure.patient.department.time_zone),
        back=_case_url(procedure.pk, "#follow-ups"),
        done=_case_url(procedure.pk, "#follow-ups"),
    )
