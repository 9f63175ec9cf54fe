"""The core records' resources: departments, patients, procedures, fractures, follow-ups."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import TooManyFieldsSent, TooManyFilesSent
from django.db import transaction
from django.db.models import Model
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers as drf_serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from registry import services, verification
from registry.accounts.api import token_exchange
from registry.api import filters, serializers
from registry.api.parsers import BoundedJSONParser
from registry.api.permissions import SuperuserWritesOnly
from registry.api.schema import RegistryAutoSchema
from registry.api.viewsets import ServiceModelViewSet, service_errors_as_400
from registry.idempotency import idempotent
from registry.models import Department, FollowUp, Fracture, Patient, Procedure


class TokenSerializer(drf_serializers.Serializer):
    token = drf_serializers.CharField(help_text="Send it as `Authorization: Token <key>`.")


class TokenView(ObtainAuthToken):
    """DRF's token view unchanged, described as it behaves: no authentication, 400 when refused."""

    schema = RegistryAutoSchema()
    # DRF's token view names its parsers itself: the bounded one in place of its JSON parser.
    parser_classes = (FormParser, MultiPartParser, BoundedJSONParser)

    @extend_schema(
        auth=[],
        request=AuthTokenSerializer,
        responses={
            200: TokenSerializer,
            429: OpenApiResponse(
                description="Too many failed attempts for this username from this address: "
                "locked out for a while (an HTML page)."
            ),
        },
        description="Exchange a username and password for a new API token with every scope "
        "the user's role allows, valid API_TOKEN_DEFAULT_DAYS days. An account that has enrolled "
        "a second factor also sends `otp`, a current code.",
    )
    @idempotent  # anonymous: passes through (the same credentials give the same token)
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The exchange itself is registry.accounts.api.token_exchange (hashed, scoped tokens).
        return token_exchange(self, request)


@extend_schema_view(
    list=extend_schema(description="The departments you belong to (every one for administrators)."),
    create=extend_schema(description="Administrators only."),
    update=extend_schema(description="Administrators only."),
    partial_update=extend_schema(description="Administrators only."),
    destroy=extend_schema(description="Administrators only; refused while it has patients."),
)
class DepartmentViewSet(ServiceModelViewSet):
    base_queryset = Department.objects.all()
    serializer_class = serializers.DepartmentSerializer
    permission_classes = [SuperuserWritesOnly]
    filterset_class = filters.DepartmentFilter
    ordering_fields: ClassVar[list[str]] = ["code", "name"]

    def service_create(self, data: dict[str, Any]) -> Department:
        return services.department_create(**data)

    def service_update(self, instance: Model, data: dict[str, Any]) -> Department:
        return services.department_update(department=instance, **data)


class PatientViewSet(ServiceModelViewSet):
    base_queryset = Patient.objects.all()
    serializer_class = serializers.PatientSerializer
    filterset_class = filters.PatientFilter
    ordering_fields: ClassVar[list[str]] = ["registry_id", "birth_date", "created_at", "updated_at"]
    IDENTIFYING_ORDERINGS = ("registry_id", "birth_date")

    def get_queryset(self) -> Any:
        queryset = super().get_queryset()
        if serializers.sees_identifiers(self.request.user):
            return queryset
        return queryset.order_by("department", "pk")  # not in registry id order either

    def get_ordering_fields(self) -> list[str]:
        """Ordering by an identifier would reveal what the null in the answer hides."""
        request = getattr(self, "request", None)
        if request is None or serializers.sees_identifiers(request.user):
            return self.ordering_fields
        return [f for f in self.ordering_fields if f not in self.IDENTIFYING_ORDERINGS]

    def service_create(self, data: dict[str, Any]) -> Patient:
        return services.patient_create(**data)

    def service_update(self, instance: Model, data: dict[str, Any]) -> Patient:
        return services.patient_update(patient=instance, **data)


class ProcedureViewSet(ServiceModelViewSet):
    base_queryset = Procedure.objects.select_related("patient", "verified_by")
    serializer_class = serializers.ProcedureSerializer
    filterset_class = filters.ProcedureFilter
    ordering_fields: ClassVar[list[str]] = ["started_at", "ended_at", "created_at", "updated_at"]

    def service_create(self, data: dict[str, Any]) -> Procedure:
        return services.procedure_create(**data)

    def service_update(self, instance: Model, data: dict[str, Any]) -> Procedure:
        return services.procedure_update(procedure=instance, **data)

    @extend_schema(
        request=None,
        responses={200: serializers.ProcedureSerializer},
        description="Data managers: verify the case against the source records; it is locked "
        "as it stands (its patient, fractures, follow-ups and complications).",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def verify(self, request: Request, pk: str | None = None) -> Response:
        with service_errors_as_400(), transaction.atomic():
            procedure = verification.procedure_verify(
                procedure=self.get_object(), user=request.user
            )
        return self.object_response(self._reloaded(procedure), 200)

    @extend_schema(
        request=serializers.UnlockSerializer,
        responses={200: serializers.ProcedureSerializer},
        description="Data managers: unlock a verified case, with the reason (audited).",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def unlock(self, request: Request, pk: str | None = None) -> Response:
        body = serializers.UnlockSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_errors_as_400(), transaction.atomic():
            procedure = verification.procedure_unlock(
                procedure=self.get_object(), user=request.user, reason=body.validated_data["reason"]
            )
        return self.object_response(self._reloaded(procedure), 200)


class FractureViewSet(ServiceModelViewSet):
    base_queryset = Fracture.objects.all()
    serializer_class = serializers.FractureSerializer
    filterset_class = filters.FractureFilter
    ordering_fields: ClassVar[list[str]] = ["id", "procedure", "type", "site"]
    immutable_fields = ("procedure",)

    def service_create(self, data: dict[str, Any]) -> Fracture:
        return services.fracture_create(**data)

    def service_update(self, instance: Model, data: dict[str, Any]) -> Fracture:
        return services.fracture_update(fracture=instance, **data)


class FollowUpViewSet(ServiceModelViewSet):
    base_queryset = FollowUp.objects.prefetch_related("fractures")
    serializer_class = serializers.FollowUpSerializer
    filterset_class = filters.FollowUpFilter
    ordering_fields: ClassVar[list[str]] = ["contact_at", "created_at", "kind"]
    immutable_fields = ("procedure",)

    def service_create(self, data: dict[str, Any]) -> FollowUp:
        return services.follow_up_create(**data)

    def service_update(self, instance: Model, data: dict[str, Any]) -> FollowUp:
        return services.follow_up_update(
            follow_up=instance, fractures=data.pop("fractures", None), **data
        )


def not_found(request: Any, exception: Exception | None = None) -> Any:
    """404 for a URL that matches no route: JSON under /api/ (clients parse it), HTML elsewhere."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, and a form body with more fields or files than Django reads
    (``DATA_UPLOAD_MAX_NUMBER_FIELDS`` / ``_FILES``) as a 400 in the API's shape
    instead of Django's HTML page."""
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        exc = ParseError({api_settings.NON_FIELD_ERRORS_KEY: [str(exc)]})
    return drf_exception_handler(exc, context)
