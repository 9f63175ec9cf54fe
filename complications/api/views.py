"""Complications, the grading preview and the CTCAE catalogue, over the REST API."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from django.db.models import Model, Q, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from complications import grading_text, services
from complications.api import serializers
from complications.counting import is_major
from complications.ctcae.pigsf import PIGSF_EVENTS
from complications.models import ComplicationEvent, CtcaeTerm, Outcome, Window
from complications.pigsf_lookups import pigsf_event_condition
from registry.api.filters import IdFilter, department_filter
from registry.api.parsers import BoundedJSONParser
from registry.api.schema import RegistryAutoSchema
from registry.api.viewsets import ETagRetrieveMixin, ServiceModelViewSet, service_errors_as_400
from registry.idempotency import idempotent


class ComplicationFilter(filters.FilterSet):
    department = department_filter(ComplicationEvent.DEPARTMENT_PATH)
    procedure = IdFilter(field_name="procedure")
    patient = IdFilter(field_name="procedure__patient")
    fracture = IdFilter(field_name="fractures", help_text="Complications concerning this fracture.")
    term = filters.CharFilter(field_name="term_id", help_text="MedDRA code.")
    soc = filters.CharFilter(field_name="term__soc", lookup_expr="icontains")
    grade = IdFilter(min_value=1, max_value=5)
    window = filters.ChoiceFilter(choices=Window.choices)
    severity = filters.ChoiceFilter(choices=serializers.SEVERITIES, method="filter_severity")
    outcome = filters.ChoiceFilter(choices=Outcome.choices)
    pigsf_event = filters.ChoiceFilter(
        choices=[(event.code, event.label) for event in PIGSF_EVENTS],
        method="filter_pigsf_event",
        help_text="A screw-fixation event of the controlled vocabulary (its export code).",
    )
    onset_after = filters.DateFilter(
        method="filter_onset_after", help_text="Onset on or after this date (local day)."
    )
    onset_before = filters.DateFilter(
        method="filter_onset_before", help_text="Onset on or before this date (local day)."
    )

    class Meta:
        model = ComplicationEvent
        fields = [
            "department",
            "procedure",
            "patient",
            "fracture",
            "term",
            "soc",
            "grade",
            "window",
            "severity",
            "outcome",
            "pigsf_event",
        ]

    def filter_pigsf_event(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        (event,) = (event for event in PIGSF_EVENTS if event.code == value)
        return queryset.filter(pigsf_event_condition(event))

    def filter_severity(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        major = is_major()
        return queryset.filter(major if value == "major" else ~major)

    @staticmethod
    def _onset(lookup: str, value: date) -> Q:
        """Onset by day, whichever way it was recorded (an in-procedure event: the start day)."""
        return (
            Q(**{f"onset_at__date__{lookup}": value})
            | Q(**{f"onset_date__{lookup}": value})
            | Q(during_procedure=True, **{f"procedure__started_at__date__{lookup}": value})
        )

    def filter_onset_after(self, queryset: QuerySet[Any], name: str, value: date) -> QuerySet[Any]:
        return queryset.filter(self._onset("gte", value))

    def filter_onset_before(self, queryset: QuerySet[Any], name: str, value: date) -> QuerySet[Any]:
        return queryset.filter(self._onset("lte", value))


class ComplicationViewSet(ServiceModelViewSet):
    """Complications: grade, severity, window and hours after the end are derived, never given."""

    base_queryset = ComplicationEvent.objects.select_related("term").prefetch_related("fractures")
    serializer_class = serializers.ComplicationSerializer
    filterset_class = ComplicationFilter
    ordering_fields: ClassVar[list[str]] = [
        "onset_at",
        "onset_date",
        "grade",
        "auto_grade",
        "window",
        "created_at",
        "updated_at",
    ]
    immutable_fields = ("procedure",)

    def service_create(self, data: dict[str, Any]) -> ComplicationEvent:
        return services.complication_record(
            procedure=data.pop("procedure"), actor=self.request.user, **data
        )

    def service_update(self, instance: Model, data: dict[str, Any]) -> ComplicationEvent:
        return services.complication_update(
            event=instance, fractures=data.pop("fractures", None), **data
        )


class GradingPreviewView(APIView):
    """Grade facts for a term without saving anything (the case form's live grade)."""

    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [BoundedJSONParser]
    schema = RegistryAutoSchema()

    @extend_schema(
        request=serializers.GradingPreviewSerializer,
        responses=serializers.GradeResultSerializer,
        description=(
            "The grade the facts give for the term, with the deciding clause(s). Facts that fit "
            "no grade of the term are a 400 naming the grades the term has."
        ),
    )
    @idempotent
    def post(self, request: Request) -> Response:
        query = serializers.GradingPreviewSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        with service_errors_as_400():
            result = services.grading_preview(
                term=query.validated_data["term"],
                facts=query.validated_data.get("facts"),
                sex=query.validated_data.get("sex"),
            )
        shown = grading_text.in_active_language(result)
        return Response(serializers.GradeResultSerializer(shown).data)


class CtcaeTermFilter(filters.FilterSet):
    search = filters.CharFilter(method="filter_search", help_text="Part of the term or its code.")
    soc = filters.CharFilter(lookup_expr="icontains", help_text="Part of the system organ class.")
    curated = filters.BooleanFilter(help_text="Only the project's curated catalogue (or not).")

    class Meta:
        model = CtcaeTerm
        fields = ["search", "soc", "curated"]

    def filter_search(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        text = value.strip()
        return queryset.filter(Q(name__icontains=text) | Q(code__icontains=text))


class CtcaeTermViewSet(ETagRetrieveMixin, viewsets.ReadOnlyModelViewSet):
    """The CTCAE v5.0 terms of this registry, with their grades and per-grade checklist."""

    queryset = CtcaeTerm.objects.all()
    serializer_class = serializers.CtcaeTermSerializer
    filterset_class = CtcaeTermFilter
    permission_classes = [permissions.IsAuthenticated]
    schema = RegistryAutoSchema()
    lookup_field = "code"
    lookup_value_regex = r"[0-9]{8}"
    ordering_fields: ClassVar[list[str]] = ["name", "code", "soc"]
