"""The core clinical records: departments, pseudonymised patients, procedures,
treated fractures and follow-up contacts.

Every rule that can be a database constraint is one, so that no path (admin,
API, shell, a bulk load) can store what the services would refuse. Each model
names the lookup that leads to its department (``DEPARTMENT_PATH``):
``registry.scoping`` uses it to scope every query in one place.
"""

from __future__ import annotations

import hashlib
import hmac
import zoneinfo
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)s is not an IANA time zone name."), params={"value": value}
        )


def local_date(instant: datetime, time_zone: str) -> date:
    """The calendar day of an instant in a department's time zone.

    Statistics count a procedure in the day, month, quarter and year its
    department lived it: 22:00 on 31 March in New York is in March, whatever
    the server's zone.
    """
    return instant.astimezone(zoneinfo.ZoneInfo(time_zone)).date()


def hash_identifier(value: str) -> str:
    """Keyed hash (HMAC-SHA256) of a local hospital number.

    The number itself is never stored; the hash lets a department detect a
    duplicate patient without the registry being able to re-identify anyone
    (the key lives outside the database).
    """
    normalised = "".join(value.split()).upper()
    key = settings.IDENTIFIER_HASH_KEY.encode()
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()


class Department(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Paris", validators=[validate_time_zone]
    )
    default_guidance = models.CharField(
        _("usual guidance"),
        max_length=20,
        blank=True,
        default="ct",
        choices=[
            ("ct", "CT"),
            ("cbct", "Cone-beam CT"),
            ("fluoroscopy", "Fluoroscopy"),
            ("ct_fluoroscopy", "CT + fluoroscopy"),
        ],
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="departments", blank=True, verbose_name=_("members")
    )
    history = HistoricalRecords()

    DEPARTMENT_PATH = "pk"

    class Meta:
        ordering = ["code"]
        permissions = [
            ("export_data", "Can export the department's data"),
            ("export_identifiers", "Can export registry ids (identifiers)"),
            ("manage_quality_targets", "Can set quality targets and alerts"),
            (
                "view_all_aggregates",
                "Can see every department's aggregates by name (no patient-level record)",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(code=""), name="department_code_not_empty")
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Sex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")


# The earliest birth date the registry takes (a database constraint; the services say it in
# clinical words before the database would refuse it).
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


class Patient(models.Model):
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="patients", verbose_name=_("department")
    )
    registry_id = models.CharField(_("registry id"), max_length=64)
    sex = models.CharField(_("sex"), max_length=6, choices=Sex.choices)
    birth_date = models.DateField(_("birth date"))
    # Vital status (docs/domain.md, "Vital status and follow-up closure"): the death ends every
    # follow-up of the patient; it is the competing event of the cumulative incidence.
    death_date = models.DateField(_("date of death"), null=True, blank=True)
    death_related = models.BooleanField(
        _("death caused by a recorded complication"), null=True, blank=True
    )
    hospital_number_hash = models.CharField(
        _("hospital number (keyed hash)"), max_length=64, blank=True, default="", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    DEPARTMENT_PATH = "department"

    class Meta:
        ordering = ["department", "registry_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["department", "registry_id"], name="patient_registry_id_unique"
            ),
            models.UniqueConstraint(
                fields=["department", "hospital_number_hash"],
                condition=~Q(hospital_number_hash=""),
                name="patient_hospital_number_unique",
            ),
            models.CheckConstraint(
                condition=~Q(registry_id=""), name="patient_registry_id_not_empty"
            ),
            models.CheckConstraint(condition=Q(sex__in=Sex.values), name="patient_sex_valid"),
            models.CheckConstraint(
                condition=Q(birth_date__gte=EARLIEST_BIRTH_DATE),
                name="patient_birth_date_plausible",
            ),
            models.CheckConstraint(
                condition=Q(death_date__isnull=True) | Q(death_date__gte=F("birth_date")),
                name="patient_death_after_birth",
            ),
        ]

    def __str__(self) -> str:
        return self.registry_id


class Guidance(models.TextChoices):
    CT = "ct", _("CT")
    CBCT = "cbct", _("Cone-beam CT")
    FLUOROSCOPY = "fluoroscopy", _("Fluoroscopy")
    CT_FLUOROSCOPY = "ct_fluoroscopy", _("CT + fluoroscopy")


class Anesthesia(models.TextChoices):
    GENERAL = "general", _("General")
    SEDATION = "sedation", _("Sedation")
    LOCAL = "local", _("Local")
    REGIONAL = "regional", _("Regional")


class FollowUpStatus(models.TextChoices):
    OPEN = "open", _("Open")
    COMPLETED = "completed", _("Completed")
    LOST = "lost", _("Lost to follow-up")
    DECEASED = "deceased", _("Deceased")


class Procedure(models.Model):
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="procedures", verbose_name=_("patient")
    )
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"))
    guidance = models.CharField(_("imaging guidance"), max_length=20, choices=Guidance.choices)
    anesthesia = models.CharField(_("anaesthesia"), max_length=10, choices=Anesthesia.choices)
    operator = models.CharField(_("operator(s)"), max_length=200, blank=True, default="")
    # Whether the follow-up of this procedure is still expected; closed (with its day) once
    # completed, lost or ended by the patient's death. The worklist chases open ones only.
    follow_up_status = models.CharField(
        _("follow-up status"),
        max_length=10,
        choices=FollowUpStatus.choices,
        default=FollowUpStatus.OPEN,
    )
    follow_up_closed_on = models.DateField(_("follow-up closed on"), null=True, blank=True)
    # Derived from ``started_at`` and the department's time zone (``local_date``)
    # on every save, and by the services when the zone or the patient's
    # department changes; what every statistic's dates, months, quarters and
    # ages read. Not audited: it follows from audited values.
    started_on = models.DateField(_("start date (local)"), editable=False, blank=True)
    # Source-data verification (registry.verification): set, the case as it stood
    # then (this procedure, its patient, fractures, and the follow-ups and
    # complications recorded up to then) is locked.
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True, editable=False)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("verified by"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["started_on"])

    DEPARTMENT_PATH = "patient__department"

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["started_at"], name="procedure_started_at_idx"),
            models.Index(fields=["started_on"], name="procedure_started_on_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__gte=F("started_at")), name="procedure_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(guidance__in=Guidance.values), name="procedure_guidance_valid"
            ),
            models.CheckConstraint(
                condition=Q(anesthesia__in=Anesthesia.values), name="procedure_anesthesia_valid"
            ),
            models.CheckConstraint(
                condition=Q(follow_up_status__in=FollowUpStatus.values),
                name="procedure_follow_up_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(follow_up_status=FollowUpStatus.OPEN, follow_up_closed_on__isnull=True)
                | (~Q(follow_up_status=FollowUpStatus.OPEN) & Q(follow_up_closed_on__isnull=False)),
                name="procedure_follow_up_closed_on_iff_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} {self.started_at:%Y-%m-%d %H:%M}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.started_at is not None and self.patient_id is not None:
            self.started_on = local_date(self.started_at, self.patient.department.time_zone)
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "started_on"}
        super().save(*args, **kwargs)


class FractureType(models.TextChoices):
    INSUFFICIENCY = "insufficiency", _("Insufficiency")
    PATHOLOGICAL = "pathological", _("Pathological")
    IMPENDING = "impending", _("Impending")


class Site(models.TextChoices):
    SACRUM = "sacrum", _("Sacrum")
    ILIAC = "iliac", _("Iliac bone")
    ACETABULUM = "acetabulum", _("Acetabulum")
    PUBIC_RAMUS = "pubic_ramus", _("Pubic ramus")
    FEMORAL_NECK = "femoral_neck", _("Femoral neck")
    PROXIMAL_FEMUR = "proximal_femur", _("Proximal femur")
    OTHER = "other", _("Other")


class Side(models.TextChoices):
    LEFT = "left", _("Left")
    RIGHT = "right", _("Right")
    BILATERAL = "bilateral", _("Bilateral")
    MIDLINE = "midline", _("Midline")


class Aetiology(models.TextChoices):
    OSTEOPOROSIS = "osteoporosis", _("Osteoporosis")
    METASTASIS = "metastasis", _("Metastasis")
    MYELOMA = "myeloma", _("Myeloma")
    RADIATION = "radiation_induced", _("Radiation-induced")
    OTHER = "other", _("Other")


class Fracture(models.Model):
    procedure = models.ForeignKey(
        Procedure, on_delete=models.CASCADE, related_name="fractures", verbose_name=_("procedure")
    )
    type = models.CharField(_("fracture type"), max_length=16, choices=FractureType.choices)
    site = models.CharField(_("anatomical site"), max_length=16, choices=Site.choices)
    side = models.CharField(_("side"), max_length=10, choices=Side.choices)
    aetiology = models.CharField(
        _("aetiology"), max_length=20, choices=Aetiology.choices, blank=True, default=""
    )
    screws = models.PositiveSmallIntegerField(
        _("screws"), default=1, validators=[MinValueValidator(1)]
    )
    cement_augmented = models.BooleanField(_("cement augmentation"), default=False)
    history = HistoricalRecords()

    DEPARTMENT_PATH = "procedure__patient__department"
    # What describes the fracture itself: what its services, forms and admin write.
    CLINICAL_FIELDS = ("type", "site", "side", "aetiology", "screws", "cement_augmented")

    class Meta:
        ordering = ["procedure", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(screws__gte=1), name="fracture_at_least_one_screw"),
            models.CheckConstraint(
                condition=Q(type__in=FractureType.values), name="fracture_type_valid"
            ),
            models.CheckConstraint(condition=Q(site__in=Site.values), name="fracture_site_valid"),
            models.CheckConstraint(condition=Q(side__in=Side.values), name="fracture_side_valid"),
            models.CheckConstraint(
                condition=Q(aetiology__in=[*Aetiology.values, ""]), name="fracture_aetiology_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.get_site_display()} ({self.get_side_display()})"


class ContactKind(models.TextChoices):
    CLINICAL = "clinical", _("Clinical visit")
    IMAGING = "imaging", _("Imaging")
    PHONE = "phone", _("Phone")


class FollowUp(models.Model):
    procedure = models.ForeignKey(
        Procedure, on_delete=models.CASCADE, related_name="follow_ups", verbose_name=_("procedure")
    )
    fractures = models.ManyToManyField(
        Fracture, related_name="follow_ups", verbose_name=_("fractures covered")
    )
    # True: the contact covers every fracture of the procedure, including those
    # recorded later (the services add them to ``fractures``, which stays what
    # every reader counts); False: only the fractures named.
    all_fractures = models.BooleanField(
        _("all the procedure's fractures"), default=False, db_default=False, editable=False
    )
    contact_at = models.DateTimeField(_("contact at"))
    kind = models.CharField(_("kind"), max_length=10, choices=ContactKind.choices)
    notes = models.TextField(
        _("notes"), max_length=4000, validators=[MaxLengthValidator(4000)], blank=True, default=""
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords(m2m_fields=[fractures])

    DEPARTMENT_PATH = "procedure__patient__department"

    class Meta:
        ordering = ["procedure", "contact_at"]
        indexes = [
            models.Index(fields=["procedure", "contact_at"], name="followup_procedure_contact_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ContactKind.values), name="followup_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.contact_at:%Y-%m-%d}"


class Language(models.TextChoices):
    """The interface language a user chose; empty = follow the browser (Accept-Language)."""

    BROWSER = "", _("As my browser")
    ENGLISH = "en", "English"
    FRENCH = "fr", "Français"


class Profile(models.Model):
    """Per-user preferences that are not clinical data (so no history, no department)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="profile",
        verbose_name=_("user"),
    )
    language = models.CharField(
        _("interface language"), max_length=5, choices=Language.choices, blank=True, default=""
    )
    digest_opt_in = models.BooleanField(
        _("daily follow-up digest by e-mail"),
        default=False,
        help_text=_("Each morning, the follow-ups due or overdue in your departments."),
    )

    class Meta:
        verbose_name = _("profile")
        constraints = [
            models.CheckConstraint(
                condition=Q(language__in=Language.values), name="profile_language_valid"
            ),
        ]

    def __str__(self) -> str:
        return str(self.user)


class IdempotencyRecord(models.Model):
    """The first answer to a write sent with an ``Idempotency-Key`` (API) or a form's one-time
    token, so that a retry gets that answer again instead of writing a second record.

    Written in the same transaction as the write it answers (``registry.idempotency``): a
    record exists exactly when the write committed. The unique constraint makes a concurrent
    duplicate wait for the first transaction, then read its answer. Kept for
    ``IDEMPOTENCY_TTL`` (a day), then deleted by the beat task ``idempotency_cleanup``.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    # SHA-256 of the method, path, query string and body: the same key with another request
    # is refused instead of answered with the first request's response.
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True)
    body = models.TextField(blank=True, default="")
    headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class QueryStatus(models.TextChoices):
    OPEN = "open", _("open")
    ANSWERED = "answered", _("answered")
    CLOSED = "closed", _("closed")


class RecordType(models.TextChoices):
    PATIENT = "patient", _("patient")
    PROCEDURE = "procedure", _("procedure")
    FRACTURE = "fracture", _("fracture")
    FOLLOW_UP = "follow_up", _("follow-up")
    COMPLICATION = "complication", _("complication")


class DataQuery(models.Model):
    """A data manager's question on a record (or one of its fields) of a case, to the
    radiologist who entered it (registry.queries); its messages are the thread."""

    department = models.ForeignKey(
        Department, on_delete=models.CASCADE, related_name="queries", verbose_name=_("department")
    )
    procedure = models.ForeignKey(
        Procedure, on_delete=models.CASCADE, related_name="queries", verbose_name=_("case")
    )
    record_type = models.CharField(_("record type"), max_length=20, choices=RecordType.choices)
    record_id = models.PositiveBigIntegerField(_("record id"))
    field = models.CharField(_("field"), max_length=100, blank=True, default="")
    text = models.TextField(_("question"))
    status = models.CharField(
        _("status"), max_length=10, choices=QueryStatus.choices, default=QueryStatus.OPEN
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("opened by"),
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("asked of"),
    )
    created_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    DEPARTMENT_PATH = "department"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("query")
        verbose_name_plural = _("queries")
        indexes = [models.Index(fields=["department", "status"], name="dataquery_dept_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=QueryStatus.values), name="dataquery_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(record_type__in=RecordType.values), name="dataquery_record_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Q{self.pk} {self.record_type} {self.record_id}"


class QueryMessage(models.Model):
    """One message of a query's thread (the question, answers, closing and reopening notes)."""

    query = models.ForeignKey(
        DataQuery, on_delete=models.CASCADE, related_name="messages", verbose_name=_("query")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("author"),
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)
    text = models.TextField(_("text"))
    history = HistoricalRecords()

    DEPARTMENT_PATH = "query__department"

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("query message")

    def __str__(self) -> str:
        return f"{self.query_id} {self.at:%Y-%m-%d %H:%M}"
