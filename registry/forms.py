"""Case-entry forms: a whole case in one submit, follow-up contacts, corrections, filters.

The forms only parse and check what a browser sends (required fields, formats,
choices); every clinical rule lives in the services (``registry.services``),
whose ``ValidationError`` dicts the views map back onto these fields with
``add_service_errors``. The complication form is ``complications.forms``. Datetimes are read in the
department's time zone: the views bind and render the forms inside
``timezone.override(department.time_zone)``.
"""

from __future__ import annotations

from collections.abc import Mapping
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
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from registry.idempotency import OnceForm
from registry.models import (
    Aetiology,
    Anesthesia,
    ContactKind,
    Department,
    FollowUp,
    FollowUpStatus,
    Fracture,
    FractureType,
    Guidance,
    Profile,
    Sex,
    Side,
    Site,
)

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
# A filter's period given backwards, in the words of its fields (every filter form and the API).
PERIOD_REVERSED = _("The period ends (To) before it starts (From): swap the two dates.")


def _blank(label: str = "") -> list[tuple[str, str]]:
    return [("", label or "—")]


# Where the interface is not English, dates are typed as text in the language's order: a browser
# shows its native date fields in its own locale (mm/dd/yyyy, AM/PM in an English browser), not
# the page's. language -> (date format, date-time format, what the field shows when empty).
TEXT_DATE_FORMATS = {
    "fr": ("%d/%m/%Y", "%d/%m/%Y %H:%M", "jj/mm/aaaa", "jj/mm/aaaa hh:mm"),
}


def _text_formats() -> tuple[str, str, str, str] | None:
    return TEXT_DATE_FORMATS.get((translation.get_language() or "en").split("-")[0])


class LocalDateTimeInput(forms.DateTimeInput):
    """The browser's own date-time picker (keyboard-typable, and a wheel on tablets); a text field
    in the language's order (``TEXT_DATE_FORMATS``) outside English. Either is parsed: Django
    reads the language's input formats and ISO 8601."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format=DATETIME_FORMAT)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        text = _text_formats()
        self.input_type, self.format = (
            ("text", text[1]) if text else ("datetime-local", DATETIME_FORMAT)
        )
        if text:
            attrs = {**(attrs or {}), "placeholder": text[3], "inputmode": "numeric"}
        return super().get_context(name, value, attrs)


class DateInput(forms.DateInput):
    """The browser's date picker in English; a text field in the language's order elsewhere."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%d")

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        text = _text_formats()
        self.input_type, self.format = ("text", text[0]) if text else ("date", "%Y-%m-%d")
        if text:
            attrs = {**(attrs or {}), "placeholder": text[2], "inputmode": "numeric"}
        return super().get_context(name, value, attrs)


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


class CaseForm(OnceForm):
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
    sex = forms.ChoiceField(
        label=_("Sex"),
        choices=_blank() + list(Sex.choices),
        required=False,
        help_text=_("Needed for a new patient."),
    )
    birth_date = forms.DateField(
        label=_("Birth date"),
        required=False,
        widget=DateInput(),
        help_text=_("Needed for a new patient."),
    )
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


class FollowUpForm(OnceForm):
    contact_at = forms.DateTimeField(label=_("Contact"), widget=LocalDateTimeInput())
    kind = forms.ChoiceField(label=_("Kind"), choices=ContactKind.choices)
    fractures = FractureChoiceField(
        label=_("Fractures covered"),
        queryset=Fracture.objects.none(),
        required=False,
        help_text=_("None ticked = all the procedure's fractures."),
    )
    notes = forms.CharField(
        label=_("Notes"),
        required=False,
        max_length=FollowUp._meta.get_field("notes").max_length,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, fractures: QuerySet[Fracture], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fractures"].queryset = fractures


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
    FIELDS = ("registry_id", "sex", "birth_date", "death_date", "death_related")

    registry_id = forms.CharField(label=_("Registry id"), max_length=64)
    sex = forms.ChoiceField(label=_("Sex"), choices=_blank() + list(Sex.choices))
    birth_date = forms.DateField(label=_("Birth date"), widget=DateInput())
    death_date = forms.DateField(
        label=_("Date of death"),
        required=False,
        widget=DateInput(),
        help_text=_("Leave empty while the patient is alive or the death is unknown."),
    )
    death_related = forms.NullBooleanField(
        label=_("Death caused by a recorded complication"),
        required=False,
    )


class ProcedureCorrectionForm(CorrectionForm):
    FIELDS = (
        "started_at",
        "ended_at",
        "guidance",
        "anesthesia",
        "operator",
        "follow_up_status",
        "follow_up_closed_on",
    )

    started_at = forms.DateTimeField(label=_("Start"), widget=LocalDateTimeInput())
    ended_at = forms.DateTimeField(label=_("End"), widget=LocalDateTimeInput())
    guidance = forms.ChoiceField(label=_("Imaging guidance"), choices=Guidance.choices)
    anesthesia = forms.ChoiceField(
        label=_("Anaesthesia"), choices=_blank() + list(Anesthesia.choices)
    )
    operator = forms.CharField(label=_("Operator(s)"), max_length=200, required=False)
    follow_up_status = forms.ChoiceField(
        label=_("Follow-up status"),
        choices=FollowUpStatus.choices,
        help_text=_("Open while follow-up is still expected; closed ones leave the worklist."),
    )
    follow_up_closed_on = forms.DateField(
        label=_("Follow-up closed on"),
        required=False,
        widget=DateInput(),
        help_text=_("Required unless the follow-up is open."),
    )


class FractureCorrectionForm(FractureForm, CorrectionForm):
    FIELDS = Fracture.CLINICAL_FIELDS


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

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", PERIOD_REVERSED)
        return data

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
