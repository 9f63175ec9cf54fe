"""Serializers of the core records: shapes and types only.

The domain rules (birth date before the procedures, contact after the start,
fractures of the right procedure...) are the services' job; the views call
them with ``validated_data``. Model-derived uniqueness validators are turned
off (``validators = []``) because the services check uniqueness with the
department in view and the database constraints catch the races.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from registry.api.fields import (
    AwareDateTimeField,
    BoundedDateField,
    IdListField,
    ScopedPrimaryKeyRelatedField,
)
from registry.models import Department, FollowUp, Fracture, Patient, Procedure
from registry.roles import EXPORT_IDENTIFIERS
from registry.scoping import visible_departments


def sees_identifiers(user: Any) -> bool:
    """Who reads a patient's registry id and birth date: whoever may change patients (they
    enter them) or holds the identifiers permission of the exports; department heads and
    API clients read the same de-identified patient as in an export."""
    return user.has_perm(EXPORT_IDENTIFIERS) or user.has_perm("registry.change_patient")


class _Identifying:
    """A patient identifier: written as given, read as null by users who may not see it."""

    def get_attribute(self, instance: Any) -> Any:
        request = self.context.get("request")  # type: ignore[attr-defined]
        if request is not None and not sees_identifiers(request.user):
            return None
        return super().get_attribute(instance)  # type: ignore[misc]


class IdentifierField(_Identifying, serializers.CharField):
    pass


class IdentifyingDateField(_Identifying, BoundedDateField):
    pass


class _IdentifyingFieldSchema(OpenApiSerializerFieldExtension):
    """Null in responses (to whoever may not see it); never null in requests."""

    target_class = _Identifying
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "response":
            schema["nullable"] = True
        return schema


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "code", "name", "time_zone", "default_guidance"]
        read_only_fields = ["id"]
        validators: list[Any] = []
        extra_kwargs = {"code": {"validators": []}}


class PatientSerializer(serializers.ModelSerializer):
    department = ScopedPrimaryKeyRelatedField(
        Department,
        required=False,
        help_text=_("Optional when you belong to exactly one department."),
    )
    registry_id = IdentifierField(
        max_length=Patient._meta.get_field("registry_id").max_length,
        help_text=_("Null for users who may not see identifiers (as in exports)."),
    )
    birth_date = IdentifyingDateField(
        help_text=_("Null for users who may not see identifiers (as in exports)."),
    )
    birth_year = serializers.IntegerField(
        source="birth_date.year", read_only=True, help_text=_("Seen by every reader.")
    )
    hospital_number = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=64,
        help_text=_(
            "Local hospital number, on creation only: stored as a keyed hash to detect "
            "duplicates, never in clear and never returned."
        ),
    )
    death_date = BoundedDateField(
        required=False,
        allow_null=True,
        help_text=_(
            "Date of death, or null: not in the future nor before birth; no contact, onset or "
            "procedure may be recorded after it."
        ),
    )
    death_related = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text=_("Whether a recorded complication caused the death (null: unknown or alive)."),
    )

    class Meta:
        model = Patient
        fields = [
            "id",
            "registry_id",
            "department",
            "sex",
            "birth_date",
            "birth_year",
            "hospital_number",
            "death_date",
            "death_related",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        validators: list[Any] = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Default the department to the user's only one; ask for it when there are several."""
        if self.instance is None and "department" not in attrs:
            departments = list(visible_departments(self.context["request"].user)[:2])
            if len(departments) != 1:
                raise serializers.ValidationError(
                    {"department": [_("Say which department: you belong to several (or none).")]}
                )
            attrs["department"] = departments[0]
        return attrs


class ProcedureSerializer(serializers.ModelSerializer):
    patient = ScopedPrimaryKeyRelatedField(Patient)
    started_at = AwareDateTimeField()
    ended_at = AwareDateTimeField(help_text=_("Not before started_at."))
    department = serializers.IntegerField(
        source="patient.department_id", read_only=True, help_text=_("The patient's department.")
    )
    verified_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        help_text=_("The data manager who verified the case (null: not verified)."),
    )

    class Meta:
        model = Procedure
        fields = [
            "id",
            "patient",
            "department",
            "started_at",
            "ended_at",
            "guidance",
            "anesthesia",
            "operator",
            "follow_up_status",
            "follow_up_closed_on",
            "verified_at",
            "verified_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "verified_at", "created_at", "updated_at"]
        validators: list[Any] = []
        extra_kwargs = {
            "follow_up_status": {
                "help_text": _(
                    "open (default): follow-up still expected; completed, lost or deceased close it."
                )
            },
            "follow_up_closed_on": {
                "help_text": _("The day the follow-up was closed: required unless open.")
            },
        }


class FractureSerializer(serializers.ModelSerializer):
    procedure = ScopedPrimaryKeyRelatedField(Procedure)
    screws = serializers.IntegerField(min_value=1, max_value=32767, default=1)
    cement_augmented = serializers.BooleanField(default=False)

    class Meta:
        model = Fracture
        fields = [
            "id",
            "procedure",
            "type",
            "site",
            "side",
            "aetiology",
            "screws",
            "cement_augmented",
        ]
        read_only_fields = ["id"]
        validators: list[Any] = []


class CoveredFractures(serializers.Serializer):
    """The fractures a follow-up or complication covers, and whether that is all of them
    (docs/domain.md section 1): one definition for both resources."""

    fractures = IdListField(
        required=False,
        help_text=_(
            "Fractures of that procedure; empty (or absent on creation) = all of them, "
            "including fractures added later; absent on a PATCH = unchanged."
        ),
    )
    all_fractures = serializers.BooleanField(
        read_only=True,
        help_text=_(
            "True: every fracture of the procedure, including those added later "
            "(fractures lists the current ones); false: only the fractures named."
        ),
    )


class FollowUpSerializer(CoveredFractures, serializers.ModelSerializer):
    procedure = ScopedPrimaryKeyRelatedField(Procedure)
    contact_at = AwareDateTimeField(help_text=_("Not before the procedure start."))

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "procedure",
            "fractures",
            "all_fractures",
            "contact_at",
            "kind",
            "notes",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        validators: list[Any] = []


class UnlockSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, help_text=_("Why the verified case is unlocked.")
    )
