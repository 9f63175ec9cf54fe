"""Case-entry forms: a whole case in one submit, follow-up contacts, complications, filters.

The forms only parse and check what a browser sends (required fields, formats,
choices); every clinical rule lives in the services (``registry.services``,
``complications.services``), whose ``ValidationError`` dicts the views map back
onto these fields with ``add_service_errors``. Datetimes are read in the
department's time zone: the views bind and render the forms inside
``timezone.override(department.time_zone)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from complications import ctcae
from complications.models import ComplicationEvent, CtcaeTerm, Outcome, Relatedness
from complications.services import core_term
from registry.models import (
    Aetiology,
    Anesthesia,
    ContactKind,
    Department,
    Fracture,
    FractureType,
    Guidance,
    Profile,
    Sex,
    Side,
    Site,
)

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _blank(label: str = "") -> list[tuple[str, str]]:
    return [("", label or "—")]


class LocalDateTimeInput(forms.DateTimeInput):
    """The browser's own date-time picker (keyboard-typable, and a wheel on tablets)."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format=DATETIME_FORMAT)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")


def add_service_errors(
    form: forms.BaseForm, error: ValidationError, *, aliases: Mapping[str, str] | None = None
) -> None:
    """Put a service's ``{field: [messages]}`` onto the form: known fields inline, the rest on top.

    ``aliases`` renames service keys to form fields (``facts`` -> the facts box).
    """
    aliases = aliases or {}
    messages = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for key, texts in messages.items():
        field = aliases.get(key or "", key)
        target = field if field in form.fields else None
        for text in texts:
            form.add_error(target, text)


# --- optimistic concurrency for the edit forms ----------------------------------------------

VERSION_SALT = "registry.forms.version"


def _plain(value: Any) -> Any:
    """A JSON-safe, order-independent form of a field value (what the version token keeps)."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, QuerySet | list | tuple | set):
        items = [_plain(item) for item in value]
        return sorted(items, key=str) if all(not isinstance(i, list) for i in items) else items
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if timezone.is_aware(value) else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | float):
        return str(float(value))
    if value == "":
        return None
    return value


@dataclass
class Conflict:
    """What another person saved since this form was loaded: (label, their value, yours)."""

    user: str
    changed_at: datetime | None
    changes: list[tuple[str, str, str]] = field(default_factory=list)


class VersionedForm(forms.Form):
    """An edit form that carries the version it was loaded at, so no save overwrites another.

    The hidden ``version`` is a signed snapshot of the record's editable values as the form
    showed them (``version_values``). The view re-reads the record under a row lock, inside
    the transaction that saves, and calls ``conflict_with``: if the record moved, nothing is
    saved and the page lists the other person's changes next to the user's own input. A post
    without a version (an old page, a script) is not checked, as the API without If-Match.
    """

    version = forms.CharField(required=False, widget=forms.HiddenInput)

    @classmethod
    def version_values(cls, record: Any) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def version_of(cls, record: Any) -> str:
        plain = {name: _plain(value) for name, value in cls.version_values(record).items()}
        return signing.dumps(plain, salt=VERSION_SALT, compress=True)

    def last_change(self, record: Any) -> tuple[str, datetime | None]:
        """Who saved ``record`` last, and when (its audit trail's newest entry)."""
        history = getattr(record, "history", None)
        latest = history.first() if history is not None else None
        person = getattr(latest, "history_user", None)
        name = (person.get_full_name() or person.get_username()) if person else gettext("someone")
        return name, getattr(latest, "history_date", None)

    def display(self, name: str, value: Any) -> str:
        """A value as a person reads it (choice labels, local times, Yes/No)."""
        if value is None or value == "" or value == []:
            return "—"
        if isinstance(value, bool):
            return gettext("Yes") if value else gettext("No")
        if isinstance(value, datetime):
            return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, QuerySet | list | tuple | set):
            return "; ".join(self.display(name, item) for item in value) or "—"
        form_field = self.fields.get(name)
        if isinstance(form_field, forms.ChoiceField) and not isinstance(
            form_field, forms.ModelChoiceField | forms.MultipleChoiceField
        ):
            labels = {str(key): label for key, label in form_field.choices}
            return str(labels.get(str(value), value))
        return str(value)

    def conflict_with(
        self, record: Any, *, posted: Mapping[str, Any] | None = None
    ) -> Conflict | None:
        """``None`` if ``record`` (locked, current) is still at the posted version; else the diff.

        On a conflict the form's version moves to the record's current one, so once the user
        has read the other's changes and re-applied theirs, the next submit saves.
        """
        token = self.cleaned_data.get("version") or ""
        if not token:
            return None
        current = self.version_values(record)
        current_plain = {name: _plain(value) for name, value in current.items()}
        try:
            seen = signing.loads(token, salt=VERSION_SALT)
        except signing.BadSignature:
            seen = {}
        if seen == current_plain:
            return None
        mine = posted if posted is not None else self.cleaned_data
        changes = [
            (
                str(self.fields[name].label if name in self.fields else name),
                self.display(name, current[name]),
                self.display(name, mine.get(name)),
            )
            for name in current
            if seen.get(name, object()) != current_plain[name]
        ]
        self.data = self.data.copy()
        self.data[self.add_prefix("version")] = self.version_of(record)
        user, changed_at = self.last_change(record)
        conflict = Conflict(user=user, changed_at=changed_at, changes=changes)
        self.add_error(
            None,
            _(
                "%(user)s saved this record after you opened it: nothing of yours was saved. "
                "Their changes are listed below; your input is kept, check it and save again."
            )
            % {"user": conflict.user},
        )
        return conflict


# --- the case: patient + procedure + fractures -------------------------------------------------


class CaseForm(forms.Form):
    """Patient (found by registry id in the department, or created) and procedure, in one form."""

    department = forms.ModelChoiceField(label=_("Department"), queryset=Department.objects.none())
    registry_id = forms.CharField(
        label=_("Registry id"),
        max_length=64,
        help_text=_(
            "An existing patient of the department is reused; a new id creates the patient."
        ),
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}),
    )
    sex = forms.ChoiceField(label=_("Sex"), choices=_blank() + list(Sex.choices), required=False)
    birth_date = forms.DateField(label=_("Birth date"), required=False, widget=DateInput())
    hospital_number = forms.CharField(
        label=_("Hospital number (optional)"),
        max_length=64,
        required=False,
        help_text=_("Only a keyed hash is stored, to detect duplicate patients."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    started_at = forms.DateTimeField(label=_("Start"), widget=LocalDateTimeInput())
    ended_at = forms.DateTimeField(label=_("End"), widget=LocalDateTimeInput())
    guidance = forms.ChoiceField(label=_("Imaging guidance"), choices=Guidance.choices)
    anesthesia = forms.ChoiceField(
        label=_("Anaesthesia"), choices=_blank() + list(Anesthesia.choices)
    )
    operator = forms.CharField(label=_("Operator(s)"), max_length=200, required=False)

    def __init__(self, *args: Any, departments: QuerySet[Department], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments
        if len(departments) == 1:
            # One department: nothing to choose, one tab stop less.
            self.fields["department"].widget = forms.HiddenInput()
            self.fields["department"].initial = departments[0].pk

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        department = data.get("department")
        registry_id = (data.get("registry_id") or "").strip()
        self.patient = None
        if department is None or not registry_id:
            return data
        self.patient = department.patients.filter(registry_id=registry_id).first()
        if self.patient is None:
            for name in ("sex", "birth_date"):
                if not data.get(name) and name not in self.errors:
                    self.add_error(
                        name,
                        _("Needed for a new patient (no patient %(id)s in %(department)s).")
                        % {"id": registry_id, "department": department.name},
                    )
        else:
            if data.get("sex") and data["sex"] != self.patient.sex:
                self.add_error(
                    "sex",
                    _("Patient %(id)s is registered as %(sex)s; leave blank or correct it.")
                    % {"id": registry_id, "sex": self.patient.get_sex_display()},
                )
            if data.get("birth_date") and data["birth_date"] != self.patient.birth_date:
                self.add_error(
                    "birth_date",
                    _(
                        "Patient %(id)s is registered with another birth date; "
                        "leave blank or correct it."
                    )
                    % {"id": registry_id},
                )
            if data.get("hospital_number"):
                self.add_error(
                    "hospital_number",
                    _(
                        "Patient %(id)s already exists; the hospital number "
                        "is only taken for a new patient."
                    )
                    % {"id": registry_id},
                )
        return data


class FractureForm(forms.Form):
    type = forms.ChoiceField(label=_("Type"), choices=_blank() + list(FractureType.choices))
    site = forms.ChoiceField(label=_("Site"), choices=_blank() + list(Site.choices))
    side = forms.ChoiceField(label=_("Side"), choices=_blank() + list(Side.choices))
    aetiology = forms.ChoiceField(
        label=_("Aetiology"), choices=_blank() + list(Aetiology.choices), required=False
    )
    screws = forms.IntegerField(label=_("Screws"), min_value=1, max_value=20, initial=1)
    cement_augmented = forms.BooleanField(label=_("Cement"), required=False)


class BaseFractureFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        if not any(
            form.has_changed() and not self._should_delete_form(form) for form in self.forms
        ):
            raise ValidationError(_("Add at least one treated fracture."))


FractureFormSet = forms.formset_factory(
    FractureForm,
    formset=BaseFractureFormSet,
    extra=1,
    can_delete=True,
    max_num=10,
    validate_max=True,
)


# --- follow-up contacts ------------------------------------------------------------------------


class FractureChoiceField(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, obj: Fracture) -> str:
        return str(obj)


class FollowUpForm(forms.Form):
    contact_at = forms.DateTimeField(label=_("Contact"), widget=LocalDateTimeInput())
    kind = forms.ChoiceField(label=_("Kind"), choices=ContactKind.choices)
    fractures = FractureChoiceField(
        label=_("Fractures covered"),
        queryset=Fracture.objects.none(),
        required=False,
        help_text=_("None ticked = all the procedure's fractures."),
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, fractures: QuerySet[Fracture], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fractures"].queryset = fractures


# --- complications -----------------------------------------------------------------------------

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
    """What the term box shows once a term is chosen; its leading code is what is read back."""
    return f"{term.code} {term.name}"


def term_checklist(term: CtcaeTerm) -> dict[int, list[str]]:
    """The term's own clauses that no generic fact reaches, per grade (checkboxes on the form)."""
    return ctcae.checklist(core_term(term))


class ComplicationForm(VersionedForm):
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
        label=_("Reason for the override"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    outcome = forms.ChoiceField(
        label=_("Outcome"), required=False, choices=_blank() + list(Outcome.choices)
    )
    relatedness = forms.ChoiceField(
        label=_("Relatedness"), required=False, choices=_blank() + list(Relatedness.choices)
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
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
            else CtcaeTerm.objects.filter(name__iexact=value.strip()).first()
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


class CorrectionForm(VersionedForm):
    """An edit of a saved record: the values it was loaded at (``version``) and why it changes.

    ``FIELDS`` are the record's own fields the form edits, in the order shown; the reason is
    required and kept as the audit trail's change reason (``registry.audit.change_reason``).
    """

    FIELDS: tuple[str, ...] = ()

    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=100,
        help_text=_("Kept in the record's audit trail."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields([*self.FIELDS, "reason"])

    @classmethod
    def version_values(cls, record: Any) -> dict[str, Any]:
        values = {name: getattr(record, name) for name in cls.FIELDS}
        return {
            name: list(value.all()) if isinstance(value, models.Manager) else value
            for name, value in values.items()
        }

    @classmethod
    def initial_for(cls, record: Any) -> dict[str, Any]:
        return {**cls.version_values(record), "version": cls.version_of(record)}

    def changes(self) -> dict[str, Any]:
        """The edited fields as a service's update takes them."""
        return {name: self.cleaned_data[name] for name in self.FIELDS}


class PatientCorrectionForm(CorrectionForm):
    FIELDS = ("registry_id", "sex", "birth_date")

    registry_id = forms.CharField(label=_("Registry id"), max_length=64)
    sex = forms.ChoiceField(label=_("Sex"), choices=_blank() + list(Sex.choices))
    birth_date = forms.DateField(label=_("Birth date"), widget=DateInput())


class ProcedureCorrectionForm(CorrectionForm):
    FIELDS = ("started_at", "ended_at", "guidance", "anesthesia", "operator")

    started_at = forms.DateTimeField(label=_("Start"), widget=LocalDateTimeInput())
    ended_at = forms.DateTimeField(label=_("End"), widget=LocalDateTimeInput())
    guidance = forms.ChoiceField(label=_("Imaging guidance"), choices=Guidance.choices)
    anesthesia = forms.ChoiceField(
        label=_("Anaesthesia"), choices=_blank() + list(Anesthesia.choices)
    )
    operator = forms.CharField(label=_("Operator(s)"), max_length=200, required=False)


class FractureCorrectionForm(FractureForm, CorrectionForm):
    FIELDS = ("type", "site", "side", "aetiology", "screws", "cement_augmented")


class FollowUpCorrectionForm(FollowUpForm, CorrectionForm):
    FIELDS = ("contact_at", "kind", "fractures", "notes")

    def changes(self) -> dict[str, Any]:
        # The covered fractures go to the service apart: unchanged, they are not named at all,
        # so that "every fracture of the procedure" stays so.
        return {name: value for name, value in super().changes().items() if name != "fractures"}

    def fractures_changed(self) -> list[Fracture] | None:
        return list(self.cleaned_data["fractures"]) if "fractures" in self.changed_data else None


class DeleteForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the deletion"),
        max_length=100,
        help_text=_("Kept in the record's audit trail."),
    )


# --- profile and list filters ------------------------------------------------------------------


class ProfileForm(VersionedForm, forms.ModelForm):
    email = forms.EmailField(label=_("E-mail (for the digest)"), required=False)

    class Meta:
        model = Profile
        fields = ["language", "digest_opt_in"]

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["email"].initial = user.email

    @classmethod
    def version_values(cls, record: Profile) -> dict[str, Any]:
        return {
            "language": record.language,
            "digest_opt_in": record.digest_opt_in,
            "email": record.user.email,
        }

    def last_change(self, record: Profile) -> tuple[str, datetime | None]:
        # A profile is only its owner's: the other save came from another window or device.
        return gettext("You, in another window"), None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("digest_opt_in") and not data.get("email"):
            self.add_error("email", _("The digest needs an e-mail address."))
        return data


YES_NO = [("", _("Any")), ("yes", _("Yes")), ("no", _("No"))]


class ListFilterForm(forms.Form):
    """Shared filters of the case and patient lists (query string, so a filtered list is a link)."""

    q = forms.CharField(label=_("Registry id"), required=False)
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("All"),
    )
    guidance = forms.ChoiceField(
        label=_("Guidance"), required=False, choices=[("", _("All")), *Guidance.choices]
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())
    has_complications = forms.ChoiceField(label=_("Complications"), required=False, choices=YES_NO)

    def __init__(self, *args: Any, departments: QuerySet[Department], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments

    def filters(self) -> dict[str, Any]:
        """Valid filters only: an invalid one is shown as an error and ignored."""
        if not self.is_valid():
            return {
                name: value for name, value in self.cleaned_data.items() if name not in self.errors
            }
        return dict(self.cleaned_data)


class WorklistFilterForm(forms.Form):
    department = forms.ModelChoiceField(
        label=_("Department"),
        queryset=Department.objects.none(),
        required=False,
        empty_label=_("All"),
    )

    def __init__(self, *args: Any, departments: QuerySet[Department], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments
