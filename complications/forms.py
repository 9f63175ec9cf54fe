"""The complication entry form: a term, the facts and the onset as the clinician knows them.

It only parses what the browser sends; the grade, window and every clinical rule
come from ``complications.services``, whose ``ValidationError`` dicts the views
map back onto these fields with ``add_service_errors``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from complications import ctcae
from complications.models import ComplicationEvent, CtcaeTerm, Outcome, Relatedness
from complications.services import core_term
from complications.term_translations import term_name
from registry.forms import (
    DateInput,
    FractureChoiceField,
    LocalDateTimeInput,
    VersionedForm,
    _blank,
)
from registry.idempotency import OnceForm
from registry.models import Fracture

ONSET_KINDS = [
    ("at", _("Date and time")),
    ("date", _("Date only (time unknown)")),
    ("during", _("During the procedure")),
]
TERM_CODE = re.compile(r"^\s*(\d{8})\b")
BOOLEAN_FACTS = ("hospitalization", "disabling", "life_threatening", "death")
NUMBER_FACTS = ("transfusion_units", "temperature_c", "fever_hours", "hemoglobin_g_dl")
CHOICE_FACTS = ("symptoms", "intervention", "adl")
SYMPTOM_LABELS = {
    "none": _("None"),
    "mild": _("Mild"),
    "moderate": _("Moderate"),
    "severe": _("Severe"),
}
INTERVENTION_LABELS = {
    "none": _("None"),
    "local": _("Local"),
    "oral": _("Oral"),
    "iv": _("Intravenous"),
    "minimally_invasive": _("Minimally invasive (aspiration, drainage)"),
    "invasive": _("Invasive (radiologic, endoscopic, operative)"),
    "urgent": _("Urgent"),
}
ADL_LABELS = {
    "none": _("None"),
    "instrumental": _("Instrumental ADL"),
    "self_care": _("Self-care ADL"),
}


def term_label(term: CtcaeTerm) -> str:
    """What the term box shows once a term is chosen (in the reader's language where the term is
    translated); its leading code is what is read back."""
    return f"{term.code} {term_name(term)}"


def term_checklist(term: CtcaeTerm) -> dict[int, list[str]]:
    """The term's own clauses that no generic fact reaches, per grade (checkboxes on the form)."""
    return ctcae.checklist(core_term(term))


class ComplicationForm(OnceForm, VersionedForm):
    """A complication as the clinician sees it: a term, the facts, the onset; no typed grade."""

    term = forms.CharField(
        label=_("CTCAE term"),
        max_length=300,
        help_text=_("Type part of the name or the MedDRA code, then pick with ↓ and Enter."),
        widget=forms.TextInput(
            attrs={
                "autofocus": True,
                "autocomplete": "off",
                "role": "combobox",
                "aria-expanded": "false",
                "aria-autocomplete": "list",
                "aria-controls": "term-options",
            }
        ),
    )
    specify = forms.CharField(
        label=_("Specify"),
        max_length=255,
        required=False,
        help_text=_("Required for an “Other, specify” term."),
        # suggests the screw-fixation events of the chosen term; any other text is accepted
        widget=forms.TextInput(attrs={"list": "specify-options"}),
    )
    fractures = FractureChoiceField(
        label=_("Fractures concerned"),
        queryset=Fracture.objects.none(),
        required=False,
        help_text=_("None ticked = all the procedure's fractures."),
    )
    onset_kind = forms.ChoiceField(
        label=_("Onset"),
        choices=ONSET_KINDS,
        initial="at",
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    onset_at = forms.DateTimeField(
        label=_("Onset date and time"), required=False, widget=LocalDateTimeInput()
    )
    onset_date = forms.DateField(label=_("Onset date"), required=False, widget=DateInput())

    symptoms = forms.ChoiceField(
        label=_("Symptoms (pain intensity for pain terms)"),
        required=False,
        choices=_blank(_("not recorded")) + list(SYMPTOM_LABELS.items()),
    )
    intervention = forms.ChoiceField(
        label=_("Highest intervention indicated"),
        required=False,
        choices=_blank(_("not recorded")) + list(INTERVENTION_LABELS.items()),
    )
    transfusion_units = forms.IntegerField(
        label=_("Red cell units transfused"), required=False, min_value=0
    )
    adl = forms.ChoiceField(
        label=_("ADL limitation"),
        required=False,
        choices=_blank(_("not recorded")) + list(ADL_LABELS.items()),
    )
    hospitalization = forms.BooleanField(
        label=_("Hospitalisation or its prolongation"), required=False
    )
    disabling = forms.BooleanField(label=_("Disabling"), required=False)
    life_threatening = forms.BooleanField(label=_("Life-threatening consequences"), required=False)
    death = forms.BooleanField(label=_("Death"), required=False)
    temperature_c = forms.DecimalField(
        label=_("Temperature (°C)"), required=False, max_digits=4, decimal_places=1
    )
    fever_hours = forms.DecimalField(
        label=_("Fever duration (hours)"),
        required=False,
        max_digits=6,
        decimal_places=1,
        min_value=0,
    )
    hemoglobin_g_dl = forms.DecimalField(
        label=_("Haemoglobin (g/dL)"), required=False, max_digits=4, decimal_places=1, min_value=0
    )
    criteria = forms.MultipleChoiceField(
        label=_("The term's own criteria"), required=False, widget=forms.CheckboxSelectMultiple
    )

    grade_override = forms.TypedChoiceField(
        label=_("Override the grade"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=_blank(_("no: keep the derived grade")) + [(str(g), str(g)) for g in range(1, 6)],
    )
    override_reason = forms.CharField(
        label=_("Reason for the override"),
        required=False,
        max_length=ComplicationEvent._meta.get_field("override_reason").max_length,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    outcome = forms.ChoiceField(
        label=_("Outcome"), required=False, choices=_blank() + list(Outcome.choices)
    )
    relatedness = forms.ChoiceField(
        label=_("Relatedness"), required=False, choices=_blank() + list(Relatedness.choices)
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=ComplicationEvent._meta.get_field("description").max_length,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, fractures: QuerySet[Fracture], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fractures"].queryset = fractures
        # The posted (or initial) term: its clauses are the checklist's choices, and the page
        # shows its grades. A name typed without picking is resolved by ``clean_term``.
        code = self.term_code(
            self.data.get(self.add_prefix("term")) if self.is_bound else self.initial.get("term")
        )
        self.term_obj: CtcaeTerm | None = (
            CtcaeTerm.objects.filter(code=code).first() if code else None
        )
        if self.term_obj is not None:
            self.fields["criteria"].choices = [
                (clause, clause)
                for _grade, clauses in sorted(term_checklist(self.term_obj).items())
                for clause in clauses
            ]

    @staticmethod
    def term_code(value: Any) -> str | None:
        """The MedDRA code a term box value starts with (what the search puts there)."""
        match = TERM_CODE.match(str(value or ""))
        return match.group(1) if match else None

    def clean_term(self) -> CtcaeTerm:
        value = self.cleaned_data["term"]
        code = self.term_code(value)
        term = (
            CtcaeTerm.objects.filter(code=code).first()
            if code
            else CtcaeTerm.objects.filter(
                Q(name__iexact=value.strip()) | Q(translations__name__iexact=value.strip())
            ).first()
        )
        if term is None:
            raise ValidationError(
                _(
                    "“%(value)s” is not a CTCAE v5.0 term: type part of its name or its code "
                    "and pick it from the list."
                )
                % {"value": value}
            )
        self.term_obj = term
        return term

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind = data.get("onset_kind")
        if kind == "at" and not data.get("onset_at") and "onset_at" not in self.errors:
            self.add_error("onset_at", _("Give the date and time of onset, or choose “Date only”."))
        if kind == "date" and not data.get("onset_date") and "onset_date" not in self.errors:
            self.add_error("onset_date", _("Give the date of onset."))
        return data

    def facts(self) -> dict[str, Any]:
        """The contract's ``facts`` object: recorded facts only (blank = not recorded)."""
        data = self.cleaned_data
        facts: dict[str, Any] = {name: data[name] for name in CHOICE_FACTS if data.get(name)}
        facts.update({name: True for name in BOOLEAN_FACTS if data.get(name)})
        for name in NUMBER_FACTS:
            if data.get(name) is not None:
                facts[name] = int(data[name]) if name == "transfusion_units" else float(data[name])
        if data.get("criteria"):
            facts["criteria"] = list(data["criteria"])
        return facts

    def onset(self) -> dict[str, Any]:
        """Exactly one of the service's onset arguments, as chosen."""
        kind = self.cleaned_data.get("onset_kind")
        if kind == "during":
            return {"onset_at": None, "onset_date": None, "during_procedure": True}
        if kind == "date":
            return {
                "onset_at": None,
                "onset_date": self.cleaned_data.get("onset_date"),
                "during_procedure": False,
            }
        return {
            "onset_at": self.cleaned_data.get("onset_at"),
            "onset_date": None,
            "during_procedure": False,
        }

    def service_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``complication_record`` and ``complication_update``."""
        data = self.cleaned_data
        return {
            "term": data["term"],
            "facts": self.facts(),
            "specify": data.get("specify", ""),
            "grade_override": data.get("grade_override"),
            "override_reason": data.get("override_reason", ""),
            "outcome": data.get("outcome", ""),
            "relatedness": data.get("relatedness", ""),
            "description": data.get("description", ""),
            **self.onset(),
        }

    @classmethod
    def initial_for(cls, event: ComplicationEvent) -> dict[str, Any]:
        """The form's initial values for editing ``event`` (the facts spread over their fields)."""
        facts = dict(event.facts or {})
        kind = "during" if event.during_procedure else "date" if event.onset_date else "at"
        return {
            "term": term_label(event.term),
            "specify": event.specify,
            # None ticked: all the procedure's fractures, those added later too.
            "fractures": [] if event.all_fractures else list(event.fractures.all()),
            "onset_kind": kind,
            "onset_at": event.onset_at,
            "onset_date": event.onset_date,
            **{name: facts.get(name) for name in (*CHOICE_FACTS, *BOOLEAN_FACTS, *NUMBER_FACTS)},
            "criteria": facts.get("criteria", []),
            "grade_override": event.grade_override,
            "override_reason": event.override_reason,
            "outcome": event.outcome,
            "relatedness": event.relatedness,
            "description": event.description,
        }

    @classmethod
    def version_values(cls, record: ComplicationEvent) -> dict[str, Any]:
        return cls.initial_for(record)

    def posted_values(self) -> dict[str, Any]:
        """The user's input in ``initial_for``'s shape (what the conflict table shows as theirs)."""
        data = dict(self.cleaned_data)
        term = data.get("term")
        if isinstance(term, CtcaeTerm):
            data["term"] = term_label(term)
        return data

    def generic_fact_fields(self) -> Iterable[forms.BoundField]:
        for name in (
            *CHOICE_FACTS,
            "transfusion_units",
            *BOOLEAN_FACTS,
            "temperature_c",
            "fever_hours",
            "hemoglobin_g_dl",
        ):
            yield self[name]


# --- corrections of saved records --------------------------------------------------------------
