"""``/api/v1/freezes/``: data freezes (complications.freezes): list, create (department
heads), read; a file's download; the head's signature."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiTypes, extend_schema, extend_schema_field
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from complications import freezes
from complications.api.stats import CohortQuerySerializer
from complications.models import DataFreeze
from complications.stats.selection import department_visible
from registry.api.parsers import BoundedJSONParser
from registry.api.schema import RegistryAutoSchema
from registry.api.viewsets import service_errors_as_400
from registry.idempotency import idempotent


class FrozenFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    sha256 = serializers.CharField()
    url = serializers.CharField()


class FreezeSerializer(serializers.ModelSerializer):
    filters = serializers.JSONField(
        required=False, help_text=_("The statistics filters of the selection (as stats/rates).")
    )
    rates = serializers.JSONField(read_only=True, help_text=_("The stats/rates answer."))
    cohort = serializers.JSONField(read_only=True, help_text=_("The stats/cohort answer."))
    files = serializers.SerializerMethodField()

    class Meta:
        model = DataFreeze
        fields = ["id", "name", "created_at", "filters", "rates", "cohort", "files"]
        read_only_fields = ["id", "created_at"]

    @extend_schema_field(FrozenFileSerializer(many=True))
    def get_files(self, freeze: DataFreeze) -> list[dict[str, str]]:
        request = self.context.get("request")
        out = []
        for item in freeze.files:
            url = reverse("freeze-file", args=[freeze.pk, item["name"]])
            out.append(
                {
                    "name": item["name"],
                    "sha256": item["sha256"],
                    "url": request.build_absolute_uri(url) if request else url,
                }
            )
        return out

    def validate_filters(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("An object of statistics filters."))
        checked = CohortQuerySerializer(data=value)
        checked.is_valid(raise_exception=True)
        return dict(checked.validated_data)


class SignSerializer(serializers.Serializer):
    password = serializers.CharField(help_text=_("Your password, re-entered to sign."))


class FreezeViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Frozen, citable snapshots of a selection. Department heads freeze and sign."""

    serializer_class = FreezeSerializer
    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [BoundedJSONParser]
    schema = RegistryAutoSchema()

    queryset = DataFreeze.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self) -> QuerySet[DataFreeze]:
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return freezes.freezes_for(self.request.user)

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        filters = body.validated_data.get("filters", {})
        if not department_visible(request.user, filters.get("department")):
            raise NotFound(_("No such department."))
        with service_errors_as_400(), transaction.atomic():
            freeze = freezes.freeze_create(
                user=request.user, name=body.validated_data["name"], filters=filters
            )
        return Response(self.get_serializer(freeze).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SignSerializer, responses={200: FreezeSerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def sign(self, request: Request, pk: str | None = None) -> Response:
        """Sign the freeze ("I approve this dataset for publication") with your password."""
        body = SignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_errors_as_400(), transaction.atomic():
            freeze = freezes.freeze_sign(
                freeze=self.get_object(),
                user=request.user,
                password=body.validated_data["password"],
            )
        return Response(self.get_serializer(freeze).data)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], url_path=r"files/(?P<name>[a-z_]+\.csv)", url_name="file")
    def file(self, request: Request, pk: str | None = None, name: str = "") -> FileResponse:
        freeze = self.get_object()
        if name not in {item["name"] for item in freeze.files}:
            raise Http404
        path = freezes.freeze_dir(freeze) / name
        return FileResponse(
            path.open("rb"), as_attachment=True, filename=name, content_type="text/csv"
        )
