"""Dashboards for department heads: live rates, the Results paragraph, data quality.

Thin views: a form reads the filters from the query string (so a filtered
dashboard is a link one can share or bookmark), the cached selectors compute,
and the templates present. The dashboard's script then keeps the page live
through the statistics API.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from complications import live, quality, selectors, term_translations
from complications.analysis.dashboard import landmark_percents
from complications.ctcae.rates import percent, wilson_interval
from complications.models import QualityAlert, QualityTarget, Window
from complications.quality import alert_acknowledge
from complications.stats.cohort import period
from complications.stats.rates import most_frequent_major
from complications.stats.selection import WINDOWS, selection_errors, selection_from
from registry.forms import DateInput
from registry.models import FractureType, Guidance, Site
from registry.queries import unresolved_queries
from registry.scoping import scope_to_user, visible_departments
from registry.verification import verified_share
from registry.views import safe_next

UNIT_LABELS = {"fracture": _("Fractures"), "procedure": _("Procedures"), "patient": _("Patients")}


class StatsFilterForm(forms.Form):
    """The dashboard's filters: the same names and rules as the statistics API."""

    # Switched by the unit buttons; kept through "Apply" as a hidden field.
    unit = forms.ChoiceField(
        label=_("Unit"),
        choices=list(UNIT_LABELS.items()),
        required=False,
        widget=forms.HiddenInput,
    )
    department = forms.TypedChoiceField(
        label=_("Department"), coerce=int, required=False, empty_value=None
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())
    fracture_type = forms.ChoiceField(
        label=_("Fracture type"), choices=[("", _("All")), *FractureType.choices], required=False
    )
    site = forms.ChoiceField(
        label=_("Site"), choices=[("", _("All")), *Site.choices], required=False
    )
    guidance = forms.ChoiceField(
        label=_("Guidance"), choices=[("", _("All")), *Guidance.choices], required=False
    )
    operator = forms.CharField(label=_("Operator"), max_length=200, required=False)
    verified = forms.BooleanField(label=_("Verified cases only"), required=False)

    def __init__(self, data: QueryDict, *, user: Any) -> None:
        super().__init__(data)
        # Only the user's departments are offered; any other id is an invalid choice.
        self.fields["department"].choices = [
            ("", _("All my departments")),
            *((d.pk, str(d)) for d in visible_departments(user)),
        ]
        for field in self.fields.values():
            select = isinstance(field.widget, forms.Select)
            field.widget.attrs["class"] = (
                "form-select form-select-sm"
                if select
                else "form-check-input"
                if isinstance(field.widget, forms.CheckboxInput)
                else "form-control form-control-sm"
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name, errors in selection_errors(cleaned).items():
            for message in errors:
                self.add_error(name, message)
        return cleaned

    def filters(self) -> dict[str, Any]:
        """The selector keyword arguments: only the filters actually set."""
        return dict(selection_from(self.cleaned_data))

    def selected_unit(self) -> str:
        return self.cleaned_data.get("unit") or "fracture"


def _filter_form(request: HttpRequest) -> StatsFilterForm:
    form = StatsFilterForm(request.GET, user=request.user)
    form.is_valid()
    return form


def _unit_links(request: HttpRequest) -> list[dict[str, Any]]:
    """The unit switch: the current URL with only ``unit`` changed."""
    links = []
    for unit, label in UNIT_LABELS.items():
        query = request.GET.copy()
        query["unit"] = unit
        links.append({"unit": unit, "label": label, "query": query.urlencode()})
    return links


def _api_query(form: StatsFilterForm) -> str:
    """The validated filters as the statistics API's query string."""
    query = QueryDict(mutable=True)
    query["unit"] = form.selected_unit()
    for name, value in form.filters().items():
        query[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return query.urlencode()


def _script_config(
    form: StatsFilterForm, version: int, breakdown: dict[str, Any]
) -> dict[str, Any]:
    """What dashboard.js needs: where to poll, the first chart data, translated labels."""
    return {
        "versionUrl": reverse("stats-version"),
        "ratesUrl": reverse("stats-rates"),
        "breakdownUrl": reverse("stats-breakdown"),
        "query": _api_query(form),
        "version": version,
        "breakdown": breakdown,
        "labels": {
            "windows": {w: str(Window(w).label) for w in WINDOWS},
            "grade": str(_("Grade")),
            "percent": str(_("%")),
            "live": str(_("Live")),
            "updated": str(_("Updated")),
            "offline": str(_("Offline: reload the page")),
            "ci": str(_("95 % CI")),
            "noComplication": str(_("No complication in this selection.")),
        },
    }


def _window_cards(rates: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], list[float]]]:
    """(window, label, rate, its 95 % CI in percent) for each window.

    The bounds are the API's four-decimal proportions times 100, shown with
    two decimals: the exact figures the API and the live script show.
    """
    return [
        (
            w,
            str(Window(w).label),
            rates["windows"][w],
            [b * 100 for b in rates["windows"][w]["ci95"]],
        )
        for w in WINDOWS
    ]


def _report_windows(rates: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each window's rate with its 95 % CI in percent from the unrounded bounds.

    A paper quotes one decimal; rounding the API's four-decimal bounds again
    would be off by 0.1 whenever they end in 5 (1/2: 0.905469 is 90.5 %, but
    0.9055 would give 90.6 %).
    """
    return {
        w: {
            **rate,
            "ci_percent": [b * 100 for b in wilson_interval(rate["events"], rate["at_risk"])],
        }
        for w, rate in rates["windows"].items()
    }


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    context: dict[str, Any] = {
        "form": form,
        "query": request.GET.urlencode(),
        "open_queries": unresolved_queries(request.user).count(),
        "verified": verified_share(request.user),
    }
    if form.is_valid():
        unit, filters = form.selected_unit(), form.filters()
        # Read before computing: a write in between makes the page refetch once.
        context["version"] = live.stats_version()
        rates = live.cached_rates(user=request.user, unit=unit, **filters)
        context.update(
            unit=unit,
            unit_label=UNIT_LABELS[unit],
            unit_links=_unit_links(request),
            rates=rates,
            windows=_window_cards(rates),
            dashboard_config=_script_config(
                form,
                context["version"],
                live.cached_breakdown(user=request.user, unit=unit, **filters),
            ),
        )
        # Term names in the reader's language where translated (the live script uses the map).
        names = term_translations.names_in_language()
        context["by_term"] = [
            {**row, "term_shown": names.get(row["term"], row["term_name"])}
            for row in rates["by_term"]
        ]
        context["dashboard_config"]["termNames"] = names
        # The axes say what they count (the grade chart counts units, not grades).
        context["dashboard_config"]["labels"].update(
            percentAxis=str(
                _("%% of the %(unit)s at risk") % {"unit": str(UNIT_LABELS[unit]).lower()}
            ),
            countAxis=str(_("%(unit)s with a complication") % {"unit": UNIT_LABELS[unit]}),
            quarter=str(_("Quarter of the procedure")),
            year=str(_("Year of the procedure")),
        )
    return render(request, "complications/dashboard.html", context)


@require_GET
def report(request: HttpRequest) -> HttpResponse:
    """The reference study's Results paragraph, regenerated from live data."""
    form = _filter_form(request)
    context: dict[str, Any] = {"form": form, "query": request.GET.urlencode()}
    if form.is_valid():
        unit, filters = form.selected_unit(), form.filters()
        rates = live.cached_rates(user=request.user, unit=unit, **filters)
        windows = _report_windows(rates)
        everyone = windows[Window.PER_PROCEDURAL]["at_risk"]
        followed = windows[Window.EARLY]["at_risk"]
        context.update(
            unit=unit,
            unit_label=UNIT_LABELS[unit],
            cohort=live.cached_cohort(user=request.user, **filters),
            period=period(user=request.user, **filters),
            windows=windows,
            followed_24h={"n": followed, "of": everyone, "percent": percent(followed, everyone)},
            top_major_delayed=most_frequent_major(rates, Window.DELAYED),
            top_major_delayed_soc=most_frequent_major(rates, Window.DELAYED, by="by_soc"),
            incidence=landmark_percents(
                user=request.user, unit=unit if unit != "patient" else "fracture", filters=filters
            ),
        )
    return render(request, "complications/report.html", context)


@require_GET
def data_quality(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    department = form.cleaned_data.get("department") if form.is_valid() else None
    return render(
        request,
        "complications/data_quality.html",
        {
            "form": form,
            "query": request.GET.urlencode(),
            "problems": selectors.data_quality(user=request.user, department=department),
            "vital_status": quality.vital_status_problems(user=request.user, department=department),
        },
    )


# ---- Quality monitoring: targets, alerts --------------------------------------------------


MANAGE_QUALITY_TARGETS = "registry.manage_quality_targets"
LATEST_ALERTS = 10


class QualityTargetForm(forms.Form):
    """One window's target; a blank rate removes the target (no chart, no alert)."""

    target_rate = forms.FloatField(
        label=_("Target rate (proportion, 0-1)"),
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.001", "min": "0", "max": "1"}),
        help_text=_("Expected proportion of fractures with a major complication; blank: none."),
    )
    odds_ratio = forms.FloatField(
        label=_("Odds ratio to detect"),
        initial=2.0,
        widget=forms.NumberInput(attrs={"step": "0.1", "min": "1"}),
    )
    limit = forms.FloatField(
        label=_("Limit (h)"),
        initial=4.0,
        widget=forms.NumberInput(attrs={"step": "0.1", "min": "0"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control form-control-sm"

    def clean_target_rate(self) -> float | None:
        value = self.cleaned_data.get("target_rate")
        if value is not None and not 0 < value < 1:
            raise forms.ValidationError(_("Enter a proportion strictly between 0 and 1."))
        return value

    def clean_odds_ratio(self) -> float:
        value = self.cleaned_data["odds_ratio"]
        if not value > 1:
            raise forms.ValidationError(_("The odds ratio to detect must be greater than 1."))
        return value

    def clean_limit(self) -> float:
        value = self.cleaned_data["limit"]
        if not value > 0:
            raise forms.ValidationError(_("The limit must be positive."))
        return value


def _visible_department(request: HttpRequest, value: str | None) -> Any:
    """The department named by ``value`` among the user's; 404 for any other."""
    departments = visible_departments(request.user)
    if value in (None, ""):
        return departments.first()
    try:
        return departments.get(pk=int(value))
    except (ValueError, TypeError, OverflowError) as error:
        raise Http404(_("No such department.")) from error
    except departments.model.DoesNotExist as error:
        raise Http404(_("No such department.")) from error


@permission_required(MANAGE_QUALITY_TARGETS, raise_exception=True)
@require_http_methods(["GET", "POST"])
def quality_targets(request: HttpRequest) -> HttpResponse:
    """Set each window's target for one of the user's departments (``?department=``)."""
    source = request.POST if request.method == "POST" else request.GET
    department = _visible_department(request, source.get("department"))
    if department is None:
        raise Http404(_("You belong to no department."))
    targets = {t.window: t for t in QualityTarget.objects.filter(department=department)}

    def initial(window: str) -> dict[str, Any]:
        target = targets.get(window)
        if target is None:
            return {}
        return {k: getattr(target, k) for k in ("target_rate", "odds_ratio", "limit")}

    forms_by_window = {
        w: QualityTargetForm(
            request.POST if request.method == "POST" else None, prefix=w, initial=initial(w)
        )
        for w in WINDOWS
    }
    if request.method == "POST" and all(f.is_valid() for f in forms_by_window.values()):
        with transaction.atomic():
            for window, form in forms_by_window.items():
                data = form.cleaned_data
                if data["target_rate"] is None:
                    QualityTarget.objects.filter(department=department, window=window).delete()
                    continue
                QualityTarget.objects.update_or_create(
                    department=department,
                    window=window,
                    defaults={
                        "target_rate": data["target_rate"],
                        "odds_ratio": data["odds_ratio"],
                        "limit": data["limit"],
                        "updated_by": request.user,
                    },
                )
        messages.success(request, _("Quality targets saved."))
        return redirect(f"{reverse('dashboard-targets')}?department={department.pk}")
    return render(
        request,
        "complications/targets.html",
        {
            "department": department,
            "departments": visible_departments(request.user),
            "forms": [(w, str(Window(w).label), forms_by_window[w]) for w in WINDOWS],
        },
    )


@require_GET
def quality_alerts(request: HttpRequest) -> JsonResponse:
    """The latest alerts of the user's departments (``?department=`` narrows), as JSON."""
    alerts = scope_to_user(QualityAlert.objects.all(), request.user)
    if request.GET.get("department"):
        alerts = alerts.filter(department=_visible_department(request, request.GET["department"]))
    rows = alerts.select_related("department", "acknowledged_by")[:LATEST_ALERTS]
    can_acknowledge = request.user.has_perm(MANAGE_QUALITY_TARGETS)
    return JsonResponse(
        {
            "alerts": [
                {
                    "id": a.pk,
                    "department": a.department.code,
                    "window": a.window,
                    "window_label": str(a.get_window_display()),
                    "created_at": a.created_at.isoformat(),
                    "cusum": a.cusum,
                    "limit": a.limit,
                    "fracture_count": a.fracture_count,
                    "procedure_count": a.procedure_count,
                    "open": a.returned_below_at is None,
                    "acknowledged_by": a.acknowledged_by.get_username()
                    if a.acknowledged_by
                    else None,
                    "acknowledged_at": a.acknowledged_at.isoformat() if a.acknowledged_at else None,
                    "acknowledge_url": reverse("dashboard-alert-acknowledge", args=[a.pk])
                    if can_acknowledge and a.acknowledged_at is None
                    else None,
                }
                for a in rows
            ]
        }
    )


@permission_required(MANAGE_QUALITY_TARGETS, raise_exception=True)
@require_POST
def quality_alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    """Acknowledge one alert of the user's departments, then back to the dashboard."""
    alert = get_object_or_404(scope_to_user(QualityAlert.objects.all(), request.user), pk=pk)
    alert_acknowledge(alert=alert, user=request.user)
    return redirect(safe_next(request, reverse("dashboard")))
