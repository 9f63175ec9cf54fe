"""Query-string filters of the API's lists (django-filter; a bad value is a 400 naming it).

Every list accepts ``?department=<id>``: a department the user cannot see
simply yields nothing, as the queryset is scoped before filtering.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django_filters import rest_framework as filters
from rest_framework.filters import OrderingFilter

from registry.api.fields import MAX_ID
from registry.api.serializers import sees_identifiers
from registry.models import (
    Aetiology,
    Anesthesia,
    ContactKind,
    Department,
    FollowUp,
    Fracture,
    FractureType,
    Guidance,
    Patient,
    Procedure,
    Sex,
    Side,
    Site,
)


class IdFilter(filters.NumberFilter):
    """A record id: a whole number in the database's range (a decimal or 10**30 is a 400)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class DateBoundFilter(filters.DateFilter):
    """A date (YYYY-MM-DD) compared with a datetime's local date in the registry's time zone."""

    def __init__(self, field_name: str, lookup_expr: str, **kwargs: Any) -> None:
        super().__init__(field_name=field_name, lookup_expr=f"date__{lookup_expr}", **kwargs)


class ScopedOrderingFilter(OrderingFilter):
    """``?ordering=``, among the fields the view allows this user (``get_ordering_fields``)."""

    def remove_invalid_fields(self, queryset, fields, view, request):  # type: ignore[no-untyped-def]
        allowed = getattr(view, "get_ordering_fields", None)
        if allowed is None:
            return super().remove_invalid_fields(queryset, fields, view, request)
        valid = set(allowed())
        return [term for term in fields if term.lstrip("-") in valid]


def department_filter(path: str) -> IdFilter:
    return IdFilter(field_name=path, help_text="Department id.")


class DepartmentFilter(filters.FilterSet):
    department = IdFilter(field_name="pk", help_text="Department id.")
    code = filters.CharFilter(help_text="Exact code.")

    class Meta:
        model = Department
        fields = ["department", "code"]


class PatientFilter(filters.FilterSet):
    department = department_filter(Patient.DEPARTMENT_PATH)
    registry_id = filters.CharFilter(
        help_text="Exact registry id (for users who see identifiers; null for the others).",
    )
    sex = filters.ChoiceFilter(choices=Sex.choices)

    class Meta:
        model = Patient
        fields = ["department", "registry_id", "sex"]

    def is_valid(self) -> bool:
        # A search by the identifier would reveal what the null in the answer hides.
        valid = super().is_valid()
        user = getattr(self.request, "user", None)
        if valid and self.form.cleaned_data.get("registry_id") and not sees_identifiers(user):
            self.form.add_error(
                "registry_id", "Searching by registry id needs the permission to see identifiers."
            )
            return False
        return valid


class ProcedureFilter(filters.FilterSet):
    department = department_filter(Procedure.DEPARTMENT_PATH)
    patient = IdFilter(field_name="patient")
    guidance = filters.ChoiceFilter(choices=Guidance.choices)
    anesthesia = filters.ChoiceFilter(choices=Anesthesia.choices)
    operator = filters.CharFilter(lookup_expr="icontains", help_text="Part of the operator(s).")
    started_after = filters.DateFilter(
        field_name="started_on",
        lookup_expr="gte",
        help_text="Start date on or after (in the department's time zone).",
    )
    started_before = filters.DateFilter(
        field_name="started_on",
        lookup_expr="lte",
        help_text="Start date on or before (in the department's time zone).",
    )

    class Meta:
        model = Procedure
        fields = ["department", "patient", "guidance", "anesthesia", "operator"]


class FractureFilter(filters.FilterSet):
    department = department_filter(Fracture.DEPARTMENT_PATH)
    procedure = IdFilter(field_name="procedure")
    patient = IdFilter(field_name="procedure__patient")
    type = filters.ChoiceFilter(choices=FractureType.choices)
    site = filters.ChoiceFilter(choices=Site.choices)
    side = filters.ChoiceFilter(choices=Side.choices)
    aetiology = filters.ChoiceFilter(choices=Aetiology.choices)

    class Meta:
        model = Fracture
        fields = ["department", "procedure", "patient", "type", "site", "side", "aetiology"]


class FollowUpFilter(filters.FilterSet):
    department = department_filter(FollowUp.DEPARTMENT_PATH)
    procedure = IdFilter(field_name="procedure")
    fracture = IdFilter(field_name="fractures", help_text="Follow-ups covering this fracture.")
    kind = filters.ChoiceFilter(choices=ContactKind.choices)
    contact_after = DateBoundFilter("contact_at", "gte", help_text="Contact date on or after.")
    contact_before = DateBoundFilter("contact_at", "lte", help_text="Contact date on or before.")

    class Meta:
        model = FollowUp
        fields = ["department", "procedure", "fracture", "kind"]
