"""The dashboard's outcome-analyses page: cumulative incidence (death competing), the funnel
plot and the risk-adjusted O/E for the dashboard's selection, each chart beside its numbers
as a table. A page of its own (linked from the dashboard) so that the live dashboard keeps its
fixed, small number of queries."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from complications import live
from complications.analysis.dashboard import dashboard_analyses
from complications.views import _filter_form


@require_GET
def outcome_analyses(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    context: dict[str, Any] = {"form": form, "query": request.GET.urlencode()}
    if form.is_valid():
        unit, filters = form.selected_unit(), form.filters()
        context.update(
            unit=unit,
            rates=live.cached_rates(user=request.user, unit=unit, **filters),
            outcome_analyses=dashboard_analyses(user=request.user, unit=unit, filters=filters),
        )
    return render(request, "complications/outcome_analyses.html", context)
