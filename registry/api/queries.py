"""``/api/v1/queries/``: list, open, read; answer, close and reopen (registry.queries)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from registry import queries
from registry.api.parsers import BoundedJSONParser
from registry.api.schema import RegistryAutoSchema
from registry.api.viewsets import service_errors_as_400
from registry.idempotency import idempotent
from registry.models import DataQuery, QueryMessage, RecordType


class QueryMessageSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = QueryMessage
        fields = ["author", "at", "text"]
        read_only_fields = fields


class QuerySerializer(serializers.ModelSerializer):
    record_type = serializers.ChoiceField(choices=RecordType.choices)
    record_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    field = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text=_("The field asked about.")
    )
    messages = QueryMessageSerializer(many=True, read_only=True)

    class Meta:
        model = DataQuery
        fields = ["id", "record_type", "record_id", "field", "text", "status", "messages"]
        read_only_fields = ["id", "status", "messages"]


class QueryMessageInSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000)


class QueryNoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000, required=False, allow_blank=True)


class QueryViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Queries on the records of your departments. Data managers open, close and reopen;
    radiologists and data managers answer."""

    serializer_class = QuerySerializer
    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [BoundedJSONParser]
    schema = RegistryAutoSchema()

    def get_queryset(self) -> QuerySet[DataQuery]:
        return queries.queries_for(self.request.user).prefetch_related(
            Prefetch("messages", QueryMessage.objects.select_related("author"))
        )

    def _answer(self, query: DataQuery, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=query.pk)).data, status=code)

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_errors_as_400(), transaction.atomic():
            query = queries.query_open(user=request.user, **body.validated_data)
        return self._answer(query, status.HTTP_201_CREATED)

    @extend_schema(request=QueryMessageInSerializer, responses={200: QuerySerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def answer(self, request: Request, pk: str | None = None) -> Response:
        body = QueryMessageInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_errors_as_400(), transaction.atomic():
            query = queries.query_answer(
                query=self.get_object(), user=request.user, text=body.validated_data["text"]
            )
        return self._answer(query)

    @extend_schema(request=QueryNoteSerializer, responses={200: QuerySerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def close(self, request: Request, pk: str | None = None) -> Response:
        body = QueryNoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_errors_as_400(), transaction.atomic():
            query = queries.query_close(
                query=self.get_object(), user=request.user, text=body.validated_data.get("text", "")
            )
        return self._answer(query)

    @extend_schema(request=QueryNoteSerializer, responses={200: QuerySerializer})
    @action(detail=True, methods=["post"])
    @idempotent
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        body = QueryNoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with service_errors_as_400(), transaction.atomic():
            query = queries.query_reopen(
                query=self.get_object(), user=request.user, text=body.validated_data.get("text", "")
            )
        return self._answer(query)
