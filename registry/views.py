"""Pages of the core app: home, case entry (patient, procedure, fractures, follow-ups), the
case page, the case and patient lists, the follow-up worklist and the user's profile.
(The complication entry pages are ``complications.entry_views``; the case page lists the
complications through ``hooks.case_complications``.)

Views are thin: forms parse, the services write (and raise ``ValidationError`` dicts that are
mapped back onto the form fields), the selectors read, always through ``scope_to_user``: another
department's case is a 404. Each case page is rendered in its department's time zone, so typed
and shown times are the department's wall clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from registry import hooks
from registry.forms import (
    CaseForm,
    FollowUpForm,
    FractureFormSet,
    ListFilterForm,
    ProfileForm,
    WorklistFilterForm,
    add_service_errors,
)
from registry.health import readiness
from registry.idempotency import submit_once
from registry.models import Department, FollowUp, Language, Procedure, Profile
from registry.queries import may_open, unresolved_queries
from registry.scoping import scope_to_user, visible_departments
from registry.selectors import follow_up_worklist, patient_search, procedure_search
from registry.services import (
    case_errors,
    follow_up_create,
    fracture_create,
    patient_create,
    procedure_create,
)
from registry.verification import verification_context

PAGE_SIZE = 25


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    procedures = scope_to_user(Procedure.objects.all(), request.user)
    return render(
        request,
        "registry/home.html",
        {"departments": visible_departments(request.user), "procedure_count": procedures.count()},
    )


@login_not_required
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Readiness: each dependency separately, 503 when a required one is down
    (``registry.health``). ``/health/`` and ``/health/ready/`` answer the same."""
    ready, body = readiness()
    response = JsonResponse(body, status=200 if ready else 503)
    response["Cache-Control"] = "no-store"
    if not ready:
        response["Retry-After"] = "5"
    return response


@login_not_required
@require_GET
def liveness(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers; no dependency is consulted."""
    response = JsonResponse({"status": "ok"})
    response["Cache-Control"] = "no-store"
    return response


# --- lists -------------------------------------------------------------------------------------


def _query_without_page(request: HttpRequest) -> str:
    """The list's filters as a query string, for the pagination links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _filtered_list(
    request: HttpRequest, search: Callable[..., QuerySet[Any]], template: str
) -> HttpResponse:
    """A list page: the shared filter form, the selector it feeds, a page of results."""
    form = ListFilterForm(request.GET or None, departments=visible_departments(request.user))
    filters = form.filters() if form.is_bound else {}
    rows = search(
        user=request.user,
        search=filters.get("q") or "",
        department=filters.get("department"),
        guidance=filters.get("guidance") or "",
        date_from=filters.get("date_from"),
        date_to=filters.get("date_to"),
        has_complications=filters.get("has_complications") or "",
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, template, {"page": page, "form": form, "query": _query_without_page(request)}
    )


@require_GET
def case_list(request: HttpRequest) -> HttpResponse:
    return _filtered_list(request, procedure_search, "registry/case_list.html")


@require_GET
def patient_list(request: HttpRequest) -> HttpResponse:
    return _filtered_list(request, patient_search, "registry/patient_list.html")


# --- a new case: patient + procedure + fractures in one submit ---------------------------------


def _department_for(request: HttpRequest, departments: QuerySet[Department]) -> Department | None:
    """The department the case is entered in: the posted one if visible, else the first."""
    posted = request.POST.get("department") or request.GET.get("department")
    chosen = departments.filter(pk=posted).first() if posted and posted.isdigit() else None
    return chosen or departments.first()


def _check_case_dates(form: CaseForm) -> None:
    """Add what the services would refuse in the case's dates to the fields not in error yet."""
    data = form.cleaned_data
    if data.get("department") is None:
        return
    errors = case_errors(
        department=data["department"],
        patient=getattr(form, "patient", None),
        birth_date=data.get("birth_date"),
        started_at=data.get("started_at"),
        ended_at=data.get("ended_at"),
    )
    for field, texts in errors.items():
        if field not in form.errors:
            for text in texts:
                form.add_error(field, text)


def _save_case(form: CaseForm, formset: Any) -> Procedure | None:
    """Write the case through the services, all or nothing; map any refusal onto the form."""
    data = form.cleaned_data
    target: Any = form
    try:
        with transaction.atomic():
            patient = form.patient or patient_create(
                department=data["department"],
                registry_id=data["registry_id"],
                sex=data["sex"],
                birth_date=data["birth_date"],
                hospital_number=data.get("hospital_number") or "",
            )
            procedure = procedure_create(
                patient=patient,
                started_at=data["started_at"],
                ended_at=data["ended_at"],
                guidance=data["guidance"],
                anesthesia=data["anesthesia"],
                operator=data.get("operator") or "",
            )
            for fracture_form in formset.forms:
                if not fracture_form.has_changed() or fracture_form.cleaned_data.get("DELETE"):
                    continue
                target = fracture_form
                values = {k: v for k, v in fracture_form.cleaned_data.items() if k != "DELETE"}
                fracture_create(procedure=procedure, **values)
    except ValidationError as error:
        add_service_errors(target, error)
        return None
    return procedure


@permission_required("registry.add_procedure", raise_exception=True)
@require_http_methods(["GET", "POST"])
def case_create(request: HttpRequest) -> HttpResponse:
    departments = visible_departments(request.user)
    department = _department_for(request, departments)
    if department is None:
        messages.error(request, _("You belong to no department: ask an administrator."))
        return redirect("home")
    with timezone.override(ZoneInfo(department.time_zone)):
        if request.method == "POST":
            form = CaseForm(request.POST, departments=departments)
            formset = FractureFormSet(request.POST, prefix="fractures")
            # Every error in one pass: both forms checked, then the services' date rules on
            # whatever parsed, before anything is written.
            forms_valid = all([form.is_valid(), formset.is_valid()])
            _check_case_dates(form)
            if forms_valid and form.is_valid():

                def write() -> str | None:
                    procedure = _save_case(form, formset)
                    if procedure is None:
                        return None
                    messages.success(
                        request, _("Case of %(id)s saved.") % {"id": procedure.patient.registry_id}
                    )
                    return reverse("case-detail", args=[procedure.pk])

                location = save_once(request, form, write)
                if location is not None:
                    return redirect(location)
        else:
            form = CaseForm(
                initial={
                    "department": department.pk,
                    "registry_id": request.GET.get("registry_id", ""),
                    "started_at": timezone.localtime().replace(second=0, microsecond=0),
                    "guidance": department.default_guidance,
                },
                departments=departments,
            )
            formset = FractureFormSet(prefix="fractures")
        return render(
            request,
            "registry/case_form.html",
            {"form": form, "formset": formset, "department": department},
        )


# --- the case page: follow-ups, complications, timeline ----------------------------------------


def save_once(request: HttpRequest, form: Any, write: Callable[[], str | None]) -> str | None:
    """Save a create form at most once per its one-time token (``registry.idempotency``): a
    second submission goes where the first one went, with a note instead of a second record."""
    location, again = submit_once(
        user=request.user,
        token=form.cleaned_data.get("form_token", ""),
        path=request.path,
        write=write,
    )
    if again:
        messages.info(request, _("This form was already submitted: the record was saved once."))
    return location


def safe_next(request: HttpRequest, default: str) -> str:
    """Where to go back to: the ``next`` the page sent when it is one of ours, else ``default``
    (never an address elsewhere: an open redirect would lend this site's name to a phishing link)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def procedure_for(request: HttpRequest, pk: int) -> Procedure:
    return get_object_or_404(
        scope_to_user(Procedure.objects.select_related("patient__department"), request.user), pk=pk
    )


def procedure_zone(procedure: Procedure) -> ZoneInfo:
    return ZoneInfo(procedure.patient.department.time_zone)


@dataclass(frozen=True)
class Mark:
    """One event drawn on the case timeline."""

    x: float
    label: str
    title: str
    css: str


# The timeline's horizontal layout (SVG user units): the procedure, the first 24 hours
# (linear), then the delayed window on a log scale so that a 6-month event still fits.
TL_LEFT, TL_END, TL_DAY, TL_RIGHT = 60.0, 200.0, 520.0, 960.0
TL_TICKS_HOURS = (6, 12, 72, 168, 720, 2160, 8760)


def _timeline_x(hours: float | None, *, fraction: float, horizon: float) -> float:
    """x of an event ``hours`` after the end (None: during the procedure at ``fraction``)."""
    if hours is None or hours <= 0:
        return TL_LEFT + (TL_END - TL_LEFT) * min(max(fraction, 0.0), 1.0)
    if hours < 24:
        return TL_END + (TL_DAY - TL_END) * hours / 24
    return TL_DAY + (TL_RIGHT - TL_DAY) * math.log(hours / 24) / math.log(horizon / 24)


def _tick_label(hours: int) -> str:
    if hours < 24:
        return _("%(n)d h") % {"n": hours}
    if hours < 24 * 365:
        return _("%(n)d d") % {"n": hours // 24}
    return _("1 y")


def case_timeline(
    procedure: Procedure, follow_ups: list[FollowUp], complications: list[Any]
) -> dict[str, Any]:
    """Geometry of the case timeline: procedure, follow-ups and complications on one time axis.

    Drawn server-side as inline SVG, so it needs no script, prints, and shows in the e-mails'
    and the screenshots' HTML alike. Date-only onsets are placed at local noon (hollow mark).
    """
    zone = procedure_zone(procedure)
    end = procedure.ended_at
    duration = max((end - procedure.started_at).total_seconds(), 1.0)

    def after_end(moment: datetime) -> float:
        return (moment - end).total_seconds() / 3600

    def fraction(moment: datetime) -> float:
        return (moment - procedure.started_at).total_seconds() / duration

    placed: list[tuple[str, float | None, float, Any]] = []
    for follow_up in follow_ups:
        hours = after_end(follow_up.contact_at)
        placed.append(("follow_up", hours, fraction(follow_up.contact_at), follow_up))
    for event in complications:
        if event.during_procedure:
            placed.append(("complication", None, 0.5, event))
        elif event.onset_at is not None:
            placed.append(
                ("complication", after_end(event.onset_at), fraction(event.onset_at), event)
            )
        else:
            noon = datetime.combine(event.onset_date, time(12), tzinfo=zone)
            placed.append(("complication", after_end(noon), fraction(noon), event))
    latest = max((hours or 0 for _kind, hours, _f, _obj in placed), default=0.0)
    horizon = max(latest * 1.2, 24 * 30.0)

    follow_marks, complication_marks = [], []
    for kind, hours, frac, obj in placed:
        x = _timeline_x(hours, fraction=frac, horizon=horizon)
        if kind == "follow_up":
            when = timezone.localtime(obj.contact_at, zone).strftime("%Y-%m-%d %H:%M")
            follow_marks.append(Mark(x, "", f"{obj.get_kind_display()} {when}", "tl-follow-up"))
        else:
            date_only = obj.onset_date is not None
            css = f"tl-complication tl-{obj.severity}" + (" tl-date-only" if date_only else "")
            title = _("%(term)s, grade %(grade)s, %(window)s") % {
                "term": obj.term.name,
                "grade": obj.grade,
                "window": obj.get_window_display(),
            }
            complication_marks.append(Mark(x, str(obj.grade), title, css))
    ticks = [
        Mark(_timeline_x(float(h), fraction=1, horizon=horizon), _tick_label(h), "", "tl-tick")
        for h in TL_TICKS_HOURS
        if h <= horizon
    ]
    return {
        "left": TL_LEFT,
        "end": TL_END,
        "day": TL_DAY,
        "right": TL_RIGHT,
        "per_width": TL_END - TL_LEFT,
        "early_width": TL_DAY - TL_END,
        "delayed_width": TL_RIGHT - TL_DAY,
        "ticks": ticks,
        "follow_ups": follow_marks,
        "complications": complication_marks,
    }


def _render_case(
    request: HttpRequest, procedure: Procedure, follow_up_form: FollowUpForm | None = None
) -> HttpResponse:
    fractures = procedure.fractures.all()
    follow_ups = list(procedure.follow_ups.prefetch_related("fractures"))
    complications = hooks.case_complications(procedure=procedure)
    if follow_up_form is None:
        follow_up_form = FollowUpForm(
            initial={"contact_at": timezone.localtime().replace(second=0, microsecond=0)},
            fractures=fractures,
        )
    return render(
        request,
        "registry/case_detail.html",
        {
            "procedure": procedure,
            "fractures": fractures,
            "follow_ups": follow_ups,
            "complications": complications,
            "follow_up_form": follow_up_form,
            "timeline": case_timeline(procedure, follow_ups, complications),
            "can_edit": request.user.has_perm("registry.add_followup"),
            **verification_context(request.user, procedure, follow_ups, complications),
            "case_queries": unresolved_queries(request.user).filter(procedure=procedure),
            "may_open_query": may_open(request.user),
        },
    )


@require_GET
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_for(request, pk)
    with timezone.override(procedure_zone(procedure)):
        return _render_case(request, procedure)


@permission_required("registry.add_followup", raise_exception=True)
@require_POST
def follow_up_add(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_for(request, pk)
    with timezone.override(procedure_zone(procedure)):
        form = FollowUpForm(request.POST, fractures=procedure.fractures.all())
        if form.is_valid():

            def write() -> str:
                follow_up_create(
                    procedure=procedure,
                    contact_at=form.cleaned_data["contact_at"],
                    kind=form.cleaned_data["kind"],
                    fractures=list(form.cleaned_data["fractures"]) or None,
                    notes=form.cleaned_data["notes"],
                )
                messages.success(request, _("Follow-up contact recorded."))
                return reverse("case-detail", args=[procedure.pk]) + "#follow-ups"

            try:
                location = save_once(request, form, write)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                assert location is not None
                return redirect(location)
        return _render_case(request, procedure, follow_up_form=form)


# --- worklist and profile ----------------------------------------------------------------------


@require_GET
def worklist(request: HttpRequest) -> HttpResponse:
    departments = visible_departments(request.user)
    form = WorklistFilterForm(request.GET or None, departments=departments)
    department = form.cleaned_data.get("department") if form.is_bound and form.is_valid() else None
    items = follow_up_worklist(user=request.user, department=department)
    items.sort(key=lambda item: (not item.overdue, item.due_at))
    return render(
        request,
        "registry/worklist.html",
        {
            "form": form,
            "items": items,
            "overdue": sum(item.overdue for item in items),
            "my_queries": unresolved_queries(request.user).filter(assigned_to=request.user),
            "now": timezone.now(),
        },
    )


@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    instance, _created = Profile.objects.get_or_create(user=request.user)
    form = ProfileForm(
        request.POST or None,
        instance=instance,
        user=request.user,
        initial={"version": ProfileForm.version_of(instance)},
    )
    conflict = None
    if request.method == "POST" and form.is_valid():
        # As the complication form: the profile as loaded, re-checked under a row lock.
        with transaction.atomic():
            locked = Profile.objects.select_for_update().select_related("user").get(pk=instance.pk)
            conflict = form.conflict_with(locked)
            if conflict is None:
                form.save()
                request.user.email = form.cleaned_data["email"]
                request.user.save(update_fields=["email"])
        if conflict is None:
            messages.success(request, _("Profile saved."))
            return redirect("profile")
    return render(
        request,
        "registry/profile.html",
        {"form": form, "conflict": conflict},
        status=409 if conflict is not None else 200,
    )


@require_POST
def profile_language(request: HttpRequest) -> HttpResponse:
    """The navigation's language switcher: the choice is kept in the profile, on every device."""
    language = request.POST.get("language", "")
    if language in Language.values:
        Profile.objects.update_or_create(user=request.user, defaults={"language": language})
    return redirect(safe_next(request, reverse("home")))
