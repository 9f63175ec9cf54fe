"""The complication entry pages of a case: record, edit, the live grade preview, the term box.

The case page itself (``registry.views``) lists the complications; these pages
write them through ``complications.services``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from complications import ctcae, grading_text, term_translations
from complications.ctcae.pigsf import events_for, specify_text
from complications.forms import ComplicationForm, term_checklist, term_label
from complications.models import ComplicationEvent, CtcaeTerm, Window
from complications.services import (
    complication_record,
    complication_update,
    core_term,
    grading_preview,
)
from complications.term_translations import clause_labels, grade_texts, term_name
from registry.forms import Conflict, add_service_errors
from registry.models import Procedure
from registry.views import procedure_for, procedure_zone, save_once

TERM_RESULTS = 15
SEVERITY_LABELS = {"minor": gettext_lazy("minor"), "major": gettext_lazy("major")}


def _term_json(term: CtcaeTerm) -> dict[str, Any]:
    """A term as the complication form's script needs it: label, grades and checklist."""
    core = core_term(term)
    return {
        "code": term.code,
        "term": term_name(term),
        "soc": term.soc,
        "label": term_label(term),
        "other_specify": core.is_other_specify,
        # the screw-fixation events recorded under this "Other, specify" term; free text stays
        "specify_options": [specify_text(event) for event in events_for(term.code)],
        "grades": {str(g): text for g, text in grade_texts(term).items()},
        "grades_available": list(core.grades_available),
        "checklist": [[g, clauses] for g, clauses in sorted(term_checklist(term).items())],
        # what a checkbox says (translated where the department did); its value stays English
        "clause_labels": clause_labels(term),
    }


def _complication_page(
    request: HttpRequest,
    procedure: Procedure,
    form: ComplicationForm,
    event: Any = None,
    conflict: Conflict | None = None,
) -> HttpResponse:
    term = form.term_obj
    checked = set(form["criteria"].value() or [])
    labels = clause_labels(term) if term is not None else {}
    criteria_groups = (
        [
            (grade, [(clause, clause in checked, labels.get(clause, clause)) for clause in clauses])
            for grade, clauses in sorted(term_checklist(term).items())
        ]
        if term is not None
        else []
    )
    config = {
        "preview_url": reverse("case-complication-preview", args=[procedure.pk]),
        "terms_url": reverse("case-terms"),
        "term": _term_json(term) if term is not None else None,
        "labels": {name: str(field.label) for name, field in form.fields.items()},
        "i18n": {
            "grade": _("Grade"),
            "no_grade": _("No grade yet: record the facts."),
            "hours_after_end": _("%(hours)s h after the end"),
            "no_match": _("No term matches."),
            "grade_missing": _("this grade does not exist for the term"),
            "overridden": _("Overridden to %(grade)s"),
        },
    }
    return render(
        request,
        "complications/complication_form.html",
        {
            "procedure": procedure,
            "form": form,
            "event": event,
            "term": term,
            "criteria_groups": criteria_groups,
            "config": config,
            "conflict": conflict,
        },
        # 409: the record moved since the page was loaded (the form is shown again, not saved).
        status=409 if conflict is not None else 200,
    )


class _ConflictError(Exception):
    def __init__(self, conflict: Conflict) -> None:
        self.conflict = conflict


def _save_complication(
    request: HttpRequest, procedure: Procedure, form: ComplicationForm, event: Any
) -> HttpResponse | Conflict | None:
    """Save, or return the form's errors (``None``) or the conflict with another's save.

    An edit re-reads the complication under a row lock in the saving transaction and compares
    it with the version the form was loaded at, so two people can never overwrite each other.
    """
    # None ticked: all the procedure's fractures (an edit too, not "unchanged").
    fractures = list(form.cleaned_data["fractures"])
    target = reverse("case-detail", args=[procedure.pk]) + "#complications"
    try:
        if event is None:  # once per the form's one-time token: a resubmission saves nothing

            def write() -> str:
                complication_record(
                    procedure=procedure,
                    fractures=fractures,
                    actor=request.user,
                    **form.service_kwargs(),
                )
                messages.success(request, _("Complication saved."))
                return target

            return HttpResponseRedirect(save_once(request, form, write) or target)
        else:
            with transaction.atomic():
                locked = get_object_or_404(
                    ComplicationEvent.objects.select_for_update(), pk=event.pk
                )
                conflict = form.conflict_with(locked, posted=form.posted_values())
                if conflict is not None:
                    raise _ConflictError(conflict)
                complication_update(event=locked, fractures=fractures, **form.service_kwargs())
    except _ConflictError as error:
        return error.conflict
    except ValidationError as error:
        add_service_errors(form, error)
        return None
    messages.success(request, _("Complication saved."))
    return HttpResponseRedirect(target)


@permission_required("complications.add_complicationevent", raise_exception=True)
@require_http_methods(["GET", "POST"])
def complication_create(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = procedure_for(request, pk)
    fractures = procedure.fractures.all()
    with timezone.override(procedure_zone(procedure)):
        if request.method == "POST":
            form = ComplicationForm(request.POST, fractures=fractures)
            if form.is_valid() and (done := _save_complication(request, procedure, form, None)):
                return done
        else:
            form = ComplicationForm(
                initial={"onset_at": timezone.localtime().replace(second=0, microsecond=0)},
                fractures=fractures,
            )
        return _complication_page(request, procedure, form)


@permission_required("complications.change_complicationevent", raise_exception=True)
@require_http_methods(["GET", "POST"])
def complication_edit(request: HttpRequest, pk: int, event_pk: int) -> HttpResponse:
    procedure = procedure_for(request, pk)
    event = get_object_or_404(
        procedure.complications.select_related("term").prefetch_related("fractures"), pk=event_pk
    )
    fractures = procedure.fractures.all()
    with timezone.override(procedure_zone(procedure)):
        conflict = None
        if request.method == "POST":
            form = ComplicationForm(request.POST, fractures=fractures)
            if form.is_valid():
                done = _save_complication(request, procedure, form, event)
                if isinstance(done, Conflict):
                    conflict = done
                elif done is not None:
                    return done
        else:
            form = ComplicationForm(
                initial={
                    **ComplicationForm.initial_for(event),
                    "version": ComplicationForm.version_of(event),
                },
                fractures=fractures,
            )
        return _complication_page(request, procedure, form, event, conflict)


def _errors(form: ComplicationForm) -> dict[str, list[str]]:
    return {field or "__all__": [str(m) for m in msgs] for field, msgs in form.errors.items()}


@require_POST
def complication_preview(request: HttpRequest, pk: int) -> JsonResponse:
    """The live grade and window of the complication form as it stands (nothing is saved).

    The page posts the whole form here (debounced): the same form class parses it, so the
    preview and the save can never read the facts differently.
    """
    procedure = procedure_for(request, pk)
    with timezone.override(procedure_zone(procedure)):
        form = ComplicationForm(request.POST, fractures=procedure.fractures.all())
        form.is_valid()
        errors = _errors(form)
        result: dict[str, Any] = {
            "grade": None,
            "severity": None,
            "rationale": "",
            "warnings": [],
            "grades_available": [],
            "window": None,
            "hours_after_end": None,
        }
        term = form.term_obj
        if term is not None:
            result["grades_available"] = list(core_term(term).grades_available)
            try:
                graded = grading_text.in_active_language(
                    grading_preview(term=term.code, facts=form.facts(), sex=procedure.patient.sex),
                    term=term,
                )
            except ValidationError as error:
                errors.setdefault("facts", []).extend(error.message_dict.get("facts", []))
            else:
                result.update(
                    grade=graded.grade,
                    severity=graded.severity,
                    severity_label=str(SEVERITY_LABELS[graded.severity]),
                    rationale=graded.rationale,
                    warnings=list(graded.warnings),
                )
        onset = form.onset()
        if not ({"onset_at", "onset_date", "onset_kind"} & set(form.errors)) and (
            onset["during_procedure"] or onset["onset_at"] or onset["onset_date"]
        ):
            try:
                timing = ctcae.classify_onset(
                    started_at=procedure.started_at,
                    ended_at=procedure.ended_at,
                    time_zone=procedure.patient.department.time_zone,
                    **onset,
                )
            except ctcae.TimingError as error:
                errors.setdefault(error.field, []).append(str(error))
            else:
                result.update(
                    window=timing.window,
                    window_label=str(Window(timing.window).label),
                    hours_after_end=timing.hours_after_end,
                )
    result["errors"] = errors
    return JsonResponse(result)


@require_GET
def term_search(request: HttpRequest) -> JsonResponse:
    """CTCAE terms whose name contains, or whose code starts with, ``q`` (the term box)."""
    query = request.GET.get("q", "").strip()
    if not query:
        return JsonResponse({"results": []})
    terms = (
        CtcaeTerm.objects.filter(code__startswith=query)
        if query.isdigit()
        else term_translations.search(query)  # English or translated names ("plaie")
    ).prefetch_related("translations")
    # Names starting with the query first: "inf" offers "Infusion..." before "Joint infection".
    ranked = sorted(
        terms[:200],
        key=lambda t: (not term_name(t).lower().startswith(query.lower()), term_name(t)),
    )
    results = [_term_json(term) for term in ranked[:TERM_RESULTS]]
    return JsonResponse({"results": results})
