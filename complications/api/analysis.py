"""Registry-style analyses: cumulative incidence with death as a competing risk, the funnel
plot and the risk-adjusted O/E ratios (``complications.analysis``).

Thin views, as ``stats.py``: the query string is validated by the statistics' own filter
serializers (a bad value is a 400 naming the field); the response serializers describe
the shapes for the OpenAPI schema.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from complications.analysis.funnel import funnel
from complications.analysis.incidence import (
    INCIDENCE_UNITS,
    INCIDENCE_WINDOWS,
    SEVERITIES,
    cumulative_incidence,
)
from complications.analysis.risk import risk_adjusted
from complications.api.stats import CohortQuerySerializer, _responses, query_filters
from complications.models import Window
from complications.quality import SYSTEM
from complications.stats.selection import UNITS
from registry.roles import is_registry_coordinator


class IncidenceQuerySerializer(CohortQuerySerializer):
    unit = serializers.ChoiceField(choices=INCIDENCE_UNITS, default="fracture")
    window = serializers.ChoiceField(
        choices=INCIDENCE_WINDOWS,
        default="delayed",
        help_text=_("delayed, or post_procedural (early and delayed)."),
    )
    severity = serializers.ChoiceField(choices=SEVERITIES, default="any")


class FunnelQuerySerializer(CohortQuerySerializer):
    department = None  # type: ignore[assignment]  # every department is plotted
    unit = serializers.ChoiceField(choices=UNITS, default="fracture")
    window = serializers.ChoiceField(choices=Window.choices, default="delayed")
    severity = serializers.ChoiceField(choices=SEVERITIES, default="major")


class RiskQuerySerializer(CohortQuerySerializer):
    department = None  # type: ignore[assignment]  # the model is fitted on every department


class CurvePointSerializer(serializers.Serializer):
    day = serializers.FloatField(help_text=_("Days after the procedure end."))
    cif = serializers.FloatField(help_text=_("Cumulative incidence, 4 decimals."))
    ci95 = serializers.ListField(
        child=serializers.FloatField(),
        min_length=2,
        max_length=2,
        help_text=_("Pointwise 95 % band, log(-log) transform of Aalen's variance."),
    )
    at_risk = serializers.IntegerField(help_text=_("Units at risk just before that day."))


class LandmarkSerializer(serializers.Serializer):
    cif = serializers.FloatField()
    ci95 = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)
    at_risk = serializers.IntegerField(help_text=_("Units at risk just after that day."))


class LandmarksSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return {day: LandmarkSerializer() for day in ("30", "90", "180", "365")}


class IncidenceSerializer(serializers.Serializer):
    unit = serializers.ChoiceField(choices=INCIDENCE_UNITS)
    window = serializers.ChoiceField(choices=INCIDENCE_WINDOWS)
    severity = serializers.ChoiceField(choices=SEVERITIES)
    units = serializers.IntegerField()
    events = serializers.IntegerField()
    competing = serializers.IntegerField(help_text=_("Deaths before any event."))
    censored = serializers.IntegerField()
    curve = CurvePointSerializer(many=True)
    at = LandmarksSerializer(help_text=_("The estimate at 30, 90, 180 and 365 days."))


class OverallSerializer(serializers.Serializer):
    events = serializers.IntegerField()
    at_risk = serializers.IntegerField()
    rate = serializers.FloatField()


class LimitsSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            level: serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)
            for level in ("95", "99.8")
        }


class FunnelDepartmentSerializer(serializers.Serializer):
    department = serializers.IntegerField(
        allow_null=True, help_text=_("Null for a department you do not belong to.")
    )
    label = serializers.CharField()
    events = serializers.IntegerField()
    at_risk = serializers.IntegerField()
    rate = serializers.FloatField()
    limits = LimitsSerializer(
        help_text=_("Exact binomial control limits around the overall rate (Spiegelhalter 2005).")
    )
    position = serializers.ChoiceField(
        choices=["above_99.8", "above_95", "within", "below_95", "below_99.8"]
    )


class FunnelSerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=Window.choices)
    severity = serializers.ChoiceField(choices=SEVERITIES)
    unit = serializers.ChoiceField(choices=UNITS)
    overall = OverallSerializer()
    departments = FunnelDepartmentSerializer(many=True)


class HosmerLemeshowSerializer(serializers.Serializer):
    chi2 = serializers.FloatField()
    df = serializers.IntegerField()
    p = serializers.FloatField()


class RiskModelSerializer(serializers.Serializer):
    cases = serializers.IntegerField()
    events = serializers.IntegerField()
    parameters = serializers.IntegerField(help_text=_("Case-mix coefficients estimated."))
    events_per_variable = serializers.FloatField()
    min_events_per_variable = serializers.FloatField()
    enough_events = serializers.BooleanField()
    c_statistic = serializers.FloatField(allow_null=True)
    hosmer_lemeshow = HosmerLemeshowSerializer(allow_null=True)


class OeRowSerializer(serializers.Serializer):
    department = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()
    cases = serializers.IntegerField()
    observed = serializers.IntegerField()
    expected = serializers.FloatField()
    oe = serializers.FloatField(help_text=_("Observed / expected."))
    ci95 = serializers.ListField(
        child=serializers.FloatField(),
        min_length=2,
        max_length=2,
        help_text=_("Exact Poisson 95 % interval of the observed count, over the expected."),
    )


class OperatorOeRowSerializer(OeRowSerializer):
    operator = serializers.CharField()


class RiskAdjustedSerializer(serializers.Serializer):
    outcome = serializers.CharField()
    unit = serializers.CharField()
    covariates = serializers.ListField(child=serializers.CharField())
    model = RiskModelSerializer()
    message = serializers.CharField(
        allow_null=True, help_text=_("Why no ratio is given (not enough events), else null.")
    )
    departments = OeRowSerializer(many=True)
    operators = OperatorOeRowSerializer(many=True)


class CumulativeIncidenceView(APIView):
    @extend_schema(
        operation_id="stats_cumulative_incidence",
        summary="Cumulative incidence of complications, death as a competing risk",
        description=(
            "Aalen-Johansen estimate from the procedure end, censoring at the last evidence "
            "of follow-up, with a pointwise 95 % band (Aalen's variance, log(-log) "
            "transform), the numbers at risk and the estimates at 30/90/180/365 days."
        ),
        parameters=[IncidenceQuerySerializer],
        responses=_responses(IncidenceSerializer),
        tags=["statistics"],
    )
    def get(self, request: Request) -> Response:
        coordinator = is_registry_coordinator(request.user)
        query = query_filters(request, IncidenceQuerySerializer, any_department=coordinator)
        reader = SYSTEM if coordinator else request.user
        return Response(cumulative_incidence(user=reader, **query))


class FunnelView(APIView):
    @extend_schema(
        operation_id="stats_funnel",
        summary="Funnel plot: every department's rate against the registry-wide rate",
        description=(
            "Exact binomial 95 % and 99.8 % control limits (Spiegelhalter 2005, interpolated). "
            "Departments you do not belong to are anonymised unless you are a superuser or "
            "a registry coordinator."
        ),
        parameters=[FunnelQuerySerializer],
        responses=_responses(FunnelSerializer),
        tags=["statistics"],
    )
    def get(self, request: Request) -> Response:
        return Response(funnel(user=request.user, **query_filters(request, FunnelQuerySerializer)))


class RiskAdjustedView(APIView):
    @extend_schema(
        operation_id="stats_risk_adjusted",
        summary="Risk-adjusted observed/expected ratios of major complications",
        description=(
            "A logistic model on case mix only (age, sex, fracture type, site, fractures "
            "treated, cement augmentation) fitted on the whole registry; its c statistic, "
            "Hosmer-Lemeshow calibration and events per variable; O/E per department and per "
            "operator with exact Poisson 95 % intervals. Below 10 events per variable no "
            "ratio is given (`enough_events: false` and a `message`)."
        ),
        parameters=[RiskQuerySerializer],
        responses=_responses(RiskAdjustedSerializer),
        tags=["statistics"],
    )
    def get(self, request: Request) -> Response:
        return Response(
            risk_adjusted(user=request.user, **query_filters(request, RiskQuerySerializer))
        )
