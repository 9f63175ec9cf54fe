"""Serializers of complications, grading previews and the CTCAE catalogue.

Shapes and types only: the ``facts`` object is checked by the pure core's own
parser (``ctcae.parse_facts``), the single definition of which keys and values
exist, so the API, the case form and the grading can never disagree; the
term's clauses, the onset rules and the grade are the services' job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from complications import ctcae
from complications.ctcae.classification import ADDITIONAL_THERAPY, SEQUELAE
from complications.ctcae.facts import (
    BOOLEAN_FACTS,
    COUNT_FACTS,
    FACT_NAMES,
    MEASUREMENT_LIMITS,
    ORDINAL_SCALES,
)
from complications.models import ComplicationEvent, CtcaeTerm, Outcome, Relatedness, Window
from complications.services import core_term
from registry.api.fields import (
    AwareDateTimeField,
    BoundedDateField,
    ScopedPrimaryKeyRelatedField,
)
from registry.api.serializers import CoveredFractures
from registry.models import Procedure, Sex

SEVERITIES = [("minor", "Minor (grade 1-2)"), ("major", "Major (grade 3-5)")]
GRADE_KEYS = tuple(str(grade) for grade in ctcae.GRADES)

_FACT_DESCRIPTIONS = {
    "symptoms": "Symptoms; for pain terms, the pain's intensity.",
    "intervention": "Highest intervention indicated.",
    "transfusion_units": "Packed red cell units transfused.",
    "hospitalization": "Hospitalisation or its prolongation indicated.",
    "adl": "Limitation of activities of daily living.",
    "disabling": "Disabling.",
    "life_threatening": "Life-threatening consequences.",
    "death": "Death related to the event.",
    "temperature_c": "Temperature in degrees C (fever terms, with fever_hours).",
    "fever_hours": "Duration of the fever in hours.",
    "hemoglobin_g_dl": "Haemoglobin in g/dL (anaemia).",
    "criteria": (
        "Clauses of this term's CTCAE v5.0 grade descriptions that apply, as written there "
        "(one clause = text between semicolons; matching ignores case and surrounding spaces)."
    ),
}


def _fact_schema(name: str) -> dict[str, Any]:
    if name in ORDINAL_SCALES:
        schema: dict[str, Any] = {"type": "string", "enum": list(ORDINAL_SCALES[name])}
    elif name in BOOLEAN_FACTS:
        schema = {"type": "boolean"}
    elif name in COUNT_FACTS:
        schema = {"type": "integer", "minimum": 0}
    elif name in MEASUREMENT_LIMITS:
        low, high, _unit = MEASUREMENT_LIMITS[name]
        schema = {"type": "number", "minimum": low, "maximum": high}
    elif name == "criteria":
        schema = {"type": "array", "items": {"type": "string"}}
    else:  # A new fact in the core must be described here before the API serves it.
        raise LookupError(f"The facts schema does not describe {name!r}.")
    return {**schema, "nullable": True, "description": _FACT_DESCRIPTIONS[name]}


# Built from the core's own tables, so the documented keys and enums are the accepted ones.
FACTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": (
        "Clinical facts that grade the event; every key optional, null = not recorded. "
        "An unknown key or value is a 400."
    ),
    "properties": {name: _fact_schema(name) for name in FACT_NAMES},
}


@extend_schema_field(FACTS_SCHEMA)
class FactsField(serializers.Field):
    """The ``facts`` object, validated by the core; stored in its canonical form (no nulls)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", FACTS_SCHEMA["description"])
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        try:
            return ctcae.parse_facts(data).as_dict()
        except ctcae.FactsError as exc:
            raise serializers.ValidationError(
                [
                    message if key == "non_field_errors" else f"{key}: {message}"
                    for key, messages in exc.errors.items()
                    for message in messages
                ]
            ) from None

    def to_representation(self, value: Any) -> dict[str, Any]:
        return dict(value or {})


class StrictObjectSerializer(serializers.Serializer):
    """A nested object whose unknown keys are refused (a typo must not pass as "not recorded")."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                message = _("Unknown key. Known keys: %(keys)s.") % {"keys": ", ".join(self.fields)}
                raise serializers.ValidationError({key: [message] for key in unknown})
        return super().to_internal_value(data)


class OutcomeFactsSerializer(StrictObjectSerializer):
    """What followed the event; the CIRSE grade and SIR class are derived from it."""

    resolved_same_session = serializers.BooleanField(required=False)
    extra_stay_hours = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=24 * 366 * 10,
        help_text=_("Unplanned stay (observation or hospitalisation) it caused, in hours."),
    )
    additional_therapy = serializers.ChoiceField(choices=ADDITIONAL_THERAPY, required=False)
    higher_level_of_care = serializers.BooleanField(required=False)
    sequelae = serializers.ChoiceField(choices=SEQUELAE, required=False)
    death = serializers.BooleanField(required=False)


class TermCodeField(serializers.SlugRelatedField):
    """A CTCAE v5.0 MedDRA code, as a string."""

    def to_internal_value(self, data: Any) -> CtcaeTerm:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data.strip())


class ComplicationSerializer(CoveredFractures, serializers.ModelSerializer):
    procedure = ScopedPrimaryKeyRelatedField(Procedure)
    term = TermCodeField(
        slug_field="code",
        queryset=CtcaeTerm.objects.all(),
        help_text=_('CTCAE v5.0 MedDRA code, e.g. "10048038" (Wound infection).'),
    )
    onset_at = AwareDateTimeField(
        required=False,
        allow_null=True,
        help_text=_("Exactly one of onset_at, onset_date, during_procedure=true."),
    )
    onset_date = BoundedDateField(
        required=False, allow_null=True, help_text=_("Onset day when the time is unknown.")
    )
    during_procedure = serializers.BooleanField(required=False)
    facts = FactsField(required=False)
    grade_override = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=5,
        help_text=_("Needs override_reason; auto_grade is kept."),
    )
    outcome = serializers.ChoiceField(choices=Outcome.choices, required=False, allow_blank=True)
    relatedness = serializers.ChoiceField(
        choices=Relatedness.choices, required=False, allow_blank=True
    )
    outcome_facts = OutcomeFactsSerializer(required=False)
    term_name = serializers.CharField(source="term.name", read_only=True)
    soc = serializers.CharField(source="term.soc", read_only=True)
    grade = serializers.IntegerField(
        read_only=True, help_text=_("grade_override if set, else auto_grade.")
    )
    severity = serializers.ChoiceField(choices=SEVERITIES, read_only=True)
    window = serializers.ChoiceField(choices=Window.choices, read_only=True)

    class Meta:
        model = ComplicationEvent
        fields = [
            "id",
            "procedure",
            "fractures",
            "all_fractures",
            "term",
            "specify",
            "onset_at",
            "onset_date",
            "during_procedure",
            "facts",
            "grade_override",
            "override_reason",
            "description",
            "outcome",
            "relatedness",
            "outcome_facts",
            "term_name",
            "soc",
            "auto_grade",
            "grade",
            "grade_rationale",
            "severity",
            "window",
            "hours_after_end",
            "cirse_grade",
            "sir_class",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "auto_grade",
            "grade_rationale",
            "hours_after_end",
            "cirse_grade",
            "sir_class",
            "created_at",
            "updated_at",
        ]
        validators: list[Any] = []


class GradingPreviewSerializer(serializers.Serializer):
    term = serializers.CharField(
        max_length=16, help_text=_('CTCAE v5.0 MedDRA code, e.g. "10048038".')
    )
    facts = FactsField(required=False)
    sex = serializers.ChoiceField(
        choices=Sex.choices,
        required=False,
        allow_null=True,
        help_text=_("Sets the haemoglobin lower limit of normal (anaemia)."),
    )


class MatchSerializer(serializers.Serializer):
    grade = serializers.IntegerField()
    clause = serializers.CharField()
    source = serializers.ChoiceField(choices=["generic", "measurement", "criteria"])


class GradeResultSerializer(serializers.Serializer):
    grade = serializers.IntegerField()
    severity = serializers.ChoiceField(choices=SEVERITIES)
    rationale = serializers.CharField(help_text=_("The clause(s) and grade that decided."))
    grades_available = serializers.ListField(child=serializers.IntegerField())
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text=_("Recorded facts this term's grades ignore (a hint of a wrong term)."),
    )
    matched = MatchSerializer(many=True, help_text=_("Every clause that holds, highest first."))


_GRADE_TEXTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": 'Grade description per grade "1"-"5"; null when the term lacks the grade.',
    "properties": {key: {"type": "string", "nullable": True} for key in GRADE_KEYS},
    "required": list(GRADE_KEYS),
}
_CHECKLIST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "Per grade, the term's own clauses that the generic facts do not reach: "
        "tick them in facts.criteria."
    ),
    "properties": {key: {"type": "array", "items": {"type": "string"}} for key in GRADE_KEYS},
    "required": list(GRADE_KEYS),
}


class CtcaeTermSerializer(serializers.ModelSerializer):
    term = serializers.CharField(source="name", read_only=True)
    grades = serializers.SerializerMethodField()
    checklist = serializers.SerializerMethodField()

    class Meta:
        model = CtcaeTerm
        fields = ["code", "term", "soc", "grades", "checklist", "definition", "curated"]
        read_only_fields = fields

    @extend_schema_field(_GRADE_TEXTS_SCHEMA)
    def get_grades(self, obj: CtcaeTerm) -> dict[str, str | None]:
        return {str(grade): text for grade, text in obj.grades.items()}

    @extend_schema_field(_CHECKLIST_SCHEMA)
    def get_checklist(self, obj: CtcaeTerm) -> dict[str, list[str]]:
        clauses = ctcae.checklist(core_term(obj))
        return {str(grade): clauses.get(grade, []) for grade in ctcae.GRADES}
