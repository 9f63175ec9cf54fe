"""The quality CUSUM chart of one department and window (``/api/v1/stats/cusum/``)."""

from __future__ import annotations

from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from complications.models import QualityTarget, Window
from complications.quality import cusum_chart
from registry.api.fields import MAX_ID
from registry.scoping import visible_departments


class CusumQuerySerializer(serializers.Serializer):
    department = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text=_("Department id (one you belong to).")
    )
    window = serializers.ChoiceField(choices=Window.choices)


class CusumTargetSerializer(serializers.Serializer):
    target_rate = serializers.FloatField(help_text=_("Target proportion of major complications."))
    odds_ratio = serializers.FloatField(help_text=_("Odds ratio the chart is tuned to detect."))
    limit = serializers.FloatField(help_text=_("The chart signals at or above this value (h)."))


class CusumPointSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text=_("1 for the oldest fracture at risk."))
    fracture = serializers.IntegerField()
    procedure = serializers.IntegerField()
    started_at = serializers.DateTimeField(help_text=_("Start of the fracture's procedure."))
    major = serializers.BooleanField(help_text=_("A major complication in the window."))
    cusum = serializers.FloatField(help_text=_("The CUSUM after this fracture, 4 decimals."))


class CusumChartSerializer(serializers.Serializer):
    department = serializers.IntegerField()
    window = serializers.ChoiceField(choices=Window.choices)
    target = CusumTargetSerializer(allow_null=True, help_text=_("Null: no target set."))
    points = CusumPointSerializer(many=True)
    current = serializers.FloatField(help_text=_("The CUSUM after the last fracture."))
    signalling = serializers.BooleanField(
        help_text=_("The current value is at the limit or above.")
    )
    first_crossing = serializers.IntegerField(
        allow_null=True, help_text=_("n of the first point at or above the limit.")
    )


class CusumView(APIView):
    @extend_schema(
        operation_id="stats_cusum",
        summary="Bernoulli CUSUM of major complications against the department's target",
        description=(
            "One point per fracture at risk in the window (the rates' denominator), in order "
            "of procedure start; the chart adds ln(p1/p0) for a fracture with a major "
            "complication and ln((1-p1)/(1-p0)) otherwise, never going below 0."
        ),
        parameters=[CusumQuerySerializer],
        responses={
            200: CusumChartSerializer,
            400: OpenApiResponse(description="A parameter is invalid: {field: [message, ...]}."),
            401: OpenApiResponse(description="Not authenticated."),
            404: OpenApiResponse(description="The department does not exist or is not yours."),
        },
        tags=["statistics"],
    )
    def get(self, request: Request) -> Response:
        query = CusumQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        department, window = query.validated_data["department"], query.validated_data["window"]
        if not visible_departments(request.user).filter(pk=department).exists():
            raise NotFound(_("No such department."))
        target = QualityTarget.objects.filter(department=department, window=window).first()
        chart = cusum_chart(user=request.user, department=department, window=window, target=target)
        response = Response({"department": department, **chart})
        add_never_cache_headers(response)
        return response
