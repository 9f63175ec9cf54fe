"""Statistics endpoints: live rates, the cohort table, chart data, the version.

Thin views: a serializer validates the query string (a bad value is a 400
naming the field, never a 500), a department the user cannot see is a 404 (as
for any record of another department), and the cached selectors do the rest.
The response serializers only describe the shapes for the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.fields import empty
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from complications import live
from complications.models import Window
from complications.stats.selection import UNITS, department_visible, selection_errors
from registry.api.fields import MAX_ID
from registry.models import Department, FractureType, Guidance, Site


class CohortQuerySerializer(serializers.Serializer):
    """The selection filters shared by every statistics endpoint."""

    department = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text=_("Department id (one you belong to)."),
    )
    date_from = serializers.DateField(
        required=False,
        help_text=_(
            "First procedure start date, inclusive (YYYY-MM-DD, in the department's time zone)."
        ),
    )
    date_to = serializers.DateField(
        required=False,
        help_text=_(
            "Last procedure start date, inclusive (YYYY-MM-DD, in the department's time zone)."
        ),
    )
    fracture_type = serializers.ChoiceField(choices=FractureType.choices, required=False)
    site = serializers.ChoiceField(choices=Site.choices, required=False)
    guidance = serializers.ChoiceField(choices=Guidance.choices, required=False)
    operator = serializers.CharField(
        required=False,
        max_length=200,
        help_text=_("Part of the operator(s) field, case-insensitive."),
    )
    verified = serializers.BooleanField(
        required=False,
        help_text=_("true: count only the verified cases (source data checked, locked)."),
    )
    # Absent from a query string is "not given", not false.
    verified.default_empty_html = empty

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if errors := selection_errors(attrs):
            raise serializers.ValidationError(errors)
        return attrs


class RatesQuerySerializer(CohortQuerySerializer):
    unit = serializers.ChoiceField(
        choices=UNITS,
        default="fracture",
        help_text=_("What is counted: fractures, procedures or patients."),
    )


class WindowRateSerializer(serializers.Serializer):
    events = serializers.IntegerField(
        help_text=_("Units with at least one complication in the window.")
    )
    at_risk = serializers.IntegerField(help_text=_("Units in the window's denominator."))
    rate = serializers.FloatField(help_text=_("events / at_risk, 5 decimals."))
    percent = serializers.FloatField(help_text=_("The rate in percent, one decimal."))
    ci95 = serializers.ListField(
        child=serializers.FloatField(),
        min_length=2,
        max_length=2,
        help_text=_("95 % Wilson score interval [low, high], 4 decimals."),
    )
    minor = serializers.IntegerField(help_text=_("Units whose highest grade in the window is 1-2."))
    major = serializers.IntegerField(help_text=_("Units whose highest grade in the window is 3-5."))


class WindowsSerializer(serializers.Serializer):
    per_procedural = WindowRateSerializer()
    early = WindowRateSerializer()
    delayed = WindowRateSerializer()


class TermRowSerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=Window.choices)
    term = serializers.CharField(help_text=_("CTCAE v5.0 MedDRA code."))
    term_name = serializers.CharField()
    pigsf_event = serializers.CharField(
        allow_null=True,
        help_text=_(
            "The screw-fixation event's export code, when the row counts one event recorded "
            "under this “Other, specify” term; null on every other row (on an “Other, "
            "specify” term: its free-text complications)."
        ),
    )
    pigsf_event_label = serializers.CharField(
        allow_null=True, help_text=_("The screw-fixation event's label; null with the code.")
    )
    soc = serializers.CharField()
    events = serializers.IntegerField()
    minor = serializers.IntegerField()
    major = serializers.IntegerField()


class SocRowSerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=Window.choices)
    soc = serializers.CharField()
    events = serializers.IntegerField()
    minor = serializers.IntegerField()
    major = serializers.IntegerField()


class RatesSerializer(serializers.Serializer):
    unit = serializers.ChoiceField(choices=UNITS)
    windows = WindowsSerializer()
    by_term = TermRowSerializer(many=True)
    by_soc = SocRowSerializer(many=True)


class AgeSerializer(serializers.Serializer):
    mean = serializers.FloatField(allow_null=True)
    sd = serializers.FloatField(allow_null=True, help_text=_("Sample standard deviation."))
    min = serializers.IntegerField(allow_null=True)
    max = serializers.IntegerField(allow_null=True)


class CountPercentSerializer(serializers.Serializer):
    n = serializers.IntegerField()
    percent = serializers.FloatField()


class FractureTypesSerializer(serializers.Serializer):
    insufficiency = CountPercentSerializer()
    pathological = CountPercentSerializer()
    impending = CountPercentSerializer()


class FollowUpBeyond24hSerializer(serializers.Serializer):
    fractures = serializers.IntegerField()
    fractures_percent = serializers.FloatField()
    patients = serializers.IntegerField()
    patients_percent = serializers.FloatField()


class CohortSerializer(serializers.Serializer):
    patients = serializers.IntegerField()
    female = serializers.IntegerField()
    male = serializers.IntegerField()
    age = AgeSerializer(
        help_text=_("Whole years at the patient's first procedure of the selection.")
    )
    procedures = serializers.IntegerField()
    fractures = serializers.IntegerField()
    fracture_types = FractureTypesSerializer()
    followup_beyond_24h = FollowUpBeyond24hSerializer()


class QuarterRowSerializer(serializers.Serializer):
    quarter = serializers.CharField(help_text=_("e.g. 2020-Q1"))
    windows = WindowsSerializer()


class FractureTypeRowSerializer(serializers.Serializer):
    fracture_type = serializers.ChoiceField(choices=FractureType.choices)
    label = serializers.CharField()
    windows = WindowsSerializer()


class SiteRowSerializer(serializers.Serializer):
    site = serializers.ChoiceField(choices=Site.choices)
    label = serializers.CharField()
    windows = WindowsSerializer()


class GradeCountsSerializer(serializers.Serializer):
    """Units by their highest grade in the window."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {str(grade): serializers.IntegerField() for grade in range(1, 6)}


class GradesSerializer(serializers.Serializer):
    per_procedural = GradeCountsSerializer()
    early = GradeCountsSerializer()
    delayed = GradeCountsSerializer()


class BreakdownSerializer(serializers.Serializer):
    unit = serializers.ChoiceField(choices=UNITS)
    by_quarter = QuarterRowSerializer(many=True)
    by_fracture_type = FractureTypeRowSerializer(many=True, help_text=_("Always per fracture."))
    by_site = SiteRowSerializer(many=True, help_text=_("Always per fracture."))
    grades = GradesSerializer()


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text=_("Changes after every clinical write."))


def _responses(serializer: type[serializers.Serializer]) -> dict[int, Any]:
    return {
        200: serializer,
        400: OpenApiResponse(description="A filter is invalid: {field: [message, ...]}."),
        401: OpenApiResponse(description="Not authenticated."),
        404: OpenApiResponse(description="The department does not exist or is not yours."),
    }


def query_filters(
    request: Request,
    serializer_class: type[CohortQuerySerializer] = CohortQuerySerializer,
    *,
    any_department: bool = False,
) -> dict[str, Any]:
    """The validated selection of a statistics or export request's query string; 404
    for a department that is not the user's (``any_department``: a department that does
    not exist, for readers of every department's aggregates)."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    filters = dict(serializer.validated_data)
    department = filters.get("department")
    visible = (
        department is None or Department.objects.filter(pk=department).exists()
        if any_department
        else department_visible(request.user, department)
    )
    if not visible:
        raise NotFound(_("No such department."))
    return filters


class RatesView(APIView):
    @extend_schema(
        operation_id="stats_rates",
        summary="Complication rates per window, term and system organ class",
        description=(
            "Units (fractures, procedures or patients) with at least one complication in each "
            "window, over the units at risk, with the 95 % Wilson interval and the minor/major "
            "split by each unit's highest grade (domain rules, section 4)."
        ),
        parameters=[RatesQuerySerializer],
        responses=_responses(RatesSerializer),
        tags=["statistics"],
    )
    def get(self, request: Request) -> Response:
        return Response(
            live.cached_rates(user=request.user, **query_filters(request, RatesQuerySerializer))
        )


class CohortView(APIView):
    @extend_schema(
        operation_id="stats_cohort",
        summary="The study population: patients, age, procedures, fractures, follow-up",
        parameters=[CohortQuerySerializer],
        responses=_responses(CohortSerializer),
        tags=["statistics"],
    )
    def get(self, request: Request) -> Response:
        return Response(live.cached_cohort(user=request.user, **query_filters(request)))


class BreakdownView(APIView):
    @extend_schema(
        operation_id="stats_breakdown",
        summary="Chart data: rates per quarter, per fracture type and site; grade distribution",
        parameters=[RatesQuerySerializer],
        responses=_responses(BreakdownSerializer),
        tags=["statistics"],
    )
    def get(self, request: Request) -> Response:
        return Response(
            live.cached_breakdown(user=request.user, **query_filters(request, RatesQuerySerializer))
        )


class VersionView(APIView):
    @extend_schema(
        operation_id="stats_version",
        summary="The statistics version, for live dashboards",
        description="Cheap to poll: refetch the rates only when it changes.",
        responses={200: VersionSerializer, 401: OpenApiResponse(description="Not authenticated.")},
        tags=["statistics"],
    )
    def get(self, request: Request) -> Response:
        response = Response({"version": live.stats_version()})
        add_never_cache_headers(response)
        return response
