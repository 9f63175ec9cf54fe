"""Complication events and the CTCAE v5.0 catalogue they are graded against.

The grade, severity, window and hours after the end are derived by
``complications.services`` from the recorded facts and times (never typed in);
the database enforces what it can: exactly one kind of onset, a grade in 1-5,
an override only with a reason.

One module on purpose, though it passes 600 lines: Django finds an app's models
in ``models.py``, and every model here is fields, choices and database
constraints (no behaviour to split by). Several features add their models to it
at once; one file keeps each addition a short, mergeable hunk and the app's
schema readable top to bottom, in the order of its migrations.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from complications import ctcae
from registry.models import Fracture, Procedure


class CtcaeTerm(models.Model):
    """One CTCAE v5.0 term. A null grade text means the grade does not exist ("-")."""

    code = models.CharField(_("MedDRA code"), max_length=16, primary_key=True)
    name = models.CharField(_("term"), max_length=255)
    soc = models.CharField(_("system organ class"), max_length=255)
    grade_1 = models.TextField(null=True, blank=True)
    grade_2 = models.TextField(null=True, blank=True)
    grade_3 = models.TextField(null=True, blank=True)
    grade_4 = models.TextField(null=True, blank=True)
    grade_5 = models.TextField(null=True, blank=True)
    definition = models.TextField(blank=True, default="")
    curated = models.BooleanField(
        _("in the project's curated catalogue"),
        default=False,
        help_text=_("False for terms loaded from the full official spreadsheet."),
    )

    class Meta:
        ordering = ["soc", "name"]
        verbose_name = _("CTCAE term")
        indexes = [models.Index(fields=["name"], name="ctcaeterm_name_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def grades(self) -> dict[int, str | None]:
        return {g: getattr(self, f"grade_{g}") for g in range(1, 6)}


class CtcaeTermTranslation(models.Model):
    """A CTCAE term in another language, for reading only: the name, the grade texts and the
    clauses (English clause -> translation) as a department translates them.

    Grading, storage and exports keep the official English; the interface shows the
    translation where one exists (``complications.term_translations``), and the term search
    looks in both. Loaded by ``manage.py ctcae_translations_load file.csv``.
    """

    term = models.ForeignKey(
        CtcaeTerm, on_delete=models.CASCADE, related_name="translations", verbose_name=_("term")
    )
    language = models.CharField(_("language"), max_length=8)
    name = models.CharField(_("name"), max_length=255)
    grade_1 = models.TextField(blank=True, default="")
    grade_2 = models.TextField(blank=True, default="")
    grade_3 = models.TextField(blank=True, default="")
    grade_4 = models.TextField(blank=True, default="")
    grade_5 = models.TextField(blank=True, default="")
    clauses = models.JSONField(
        _("clauses"), default=dict, blank=True, help_text=_("English clause -> its translation.")
    )

    class Meta:
        ordering = ["language", "name"]
        verbose_name = _("CTCAE term translation")
        constraints = [
            models.UniqueConstraint(
                fields=["term", "language"], name="ctcaetermtranslation_unique"
            ),
            models.CheckConstraint(
                condition=~Q(language="") & ~Q(name=""), name="ctcaetermtranslation_not_empty"
            ),
        ]
        indexes = [models.Index(fields=["language", "name"], name="ctcaetermtr_lang_name_idx")]

    def __str__(self) -> str:
        return f"{self.term_id} {self.language}: {self.name}"


class Window(models.TextChoices):
    PER_PROCEDURAL = "per_procedural", _("Per-procedural")
    EARLY = "early", _("Early (< 24 h)")
    DELAYED = "delayed", _("Delayed (≥ 24 h)")


class Outcome(models.TextChoices):
    RESOLVED = "resolved", _("Resolved")
    RESOLVED_WITH_SEQUELAE = "resolved_with_sequelae", _("Resolved with sequelae")
    ONGOING = "ongoing", _("Ongoing")
    DEATH = "death", _("Death")


class Relatedness(models.TextChoices):
    """CTCAE attribution of the event to the procedure."""

    UNRELATED = "unrelated", _("Unrelated")
    UNLIKELY = "unlikely", _("Unlikely")
    POSSIBLE = "possible", _("Possible")
    PROBABLE = "probable", _("Probable")
    DEFINITE = "definite", _("Definite")


class ComplicationEvent(models.Model):
    procedure = models.ForeignKey(
        Procedure,
        on_delete=models.PROTECT,
        related_name="complications",
        verbose_name=_("procedure"),
    )
    fractures = models.ManyToManyField(
        Fracture, related_name="complications", verbose_name=_("fractures concerned")
    )
    # True: the complication concerns every fracture of the procedure, including
    # those recorded later (the services add them to ``fractures``, which stays
    # what every reader counts); False: only the fractures named.
    all_fractures = models.BooleanField(
        _("all the procedure's fractures"), default=False, db_default=False, editable=False
    )
    term = models.ForeignKey(
        CtcaeTerm, on_delete=models.PROTECT, related_name="events", verbose_name=_("CTCAE term")
    )
    specify = models.CharField(_("specify"), max_length=255, blank=True, default="")

    onset_at = models.DateTimeField(_("onset"), null=True, blank=True)
    onset_date = models.DateField(_("onset date (time unknown)"), null=True, blank=True)
    during_procedure = models.BooleanField(_("occurred during the procedure"), default=False)

    facts = models.JSONField(_("recorded facts"), default=dict, blank=True)
    auto_grade = models.PositiveSmallIntegerField(_("automatic grade"))
    grade_override = models.PositiveSmallIntegerField(_("grade override"), null=True, blank=True)
    override_reason = models.TextField(
        _("override reason"),
        max_length=2000,
        validators=[MaxLengthValidator(2000)],
        blank=True,
        default="",
    )
    grade = models.GeneratedField(
        expression=Coalesce("grade_override", "auto_grade"),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
        verbose_name=_("grade"),
    )
    grade_rationale = models.TextField(_("grade rationale"), blank=True, default="")

    window = models.CharField(_("window"), max_length=16, choices=Window.choices)
    hours_after_end = models.FloatField(_("hours after the end"), null=True, blank=True)

    outcome = models.CharField(
        _("outcome"), max_length=24, choices=Outcome.choices, blank=True, default=""
    )
    relatedness = models.CharField(
        _("relatedness"), max_length=12, choices=Relatedness.choices, blank=True, default=""
    )
    description = models.TextField(
        _("description"),
        max_length=4000,
        validators=[MaxLengthValidator(4000)],
        blank=True,
        default="",
    )
    outcome_facts = models.JSONField(
        _("outcome facts (CIRSE/SIR)"),
        default=dict,
        blank=True,
        help_text=_("Same-session resolution, extra stay, additional therapy, sequelae, death."),
    )
    cirse_grade = models.PositiveSmallIntegerField(_("CIRSE grade"), null=True, blank=True)
    sir_class = models.CharField(_("SIR class"), max_length=1, blank=True, default="")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(m2m_fields=[fractures])

    DEPARTMENT_PATH = "procedure__patient__department"

    class Meta:
        ordering = ["procedure", "id"]
        verbose_name = _("complication")
        indexes = [
            models.Index(fields=["procedure", "window"], name="complication_proc_window_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(onset_at__isnull=False, onset_date__isnull=True, during_procedure=False)
                    | Q(onset_at__isnull=True, onset_date__isnull=False, during_procedure=False)
                    | Q(onset_at__isnull=True, onset_date__isnull=True, during_procedure=True)
                ),
                name="complication_exactly_one_onset",
            ),
            models.CheckConstraint(
                condition=Q(auto_grade__gte=1, auto_grade__lte=5),
                name="complication_auto_grade_range",
            ),
            models.CheckConstraint(
                condition=Q(grade_override__isnull=True)
                | Q(grade_override__gte=1, grade_override__lte=5),
                name="complication_override_range",
            ),
            models.CheckConstraint(
                condition=Q(grade_override__isnull=True) | ~Q(override_reason=""),
                name="complication_override_needs_reason",
            ),
            models.CheckConstraint(
                condition=Q(window__in=Window.values), name="complication_window_valid"
            ),
            # Outcome "death" and grade 5 (the override, else the automatic grade) go together.
            models.CheckConstraint(
                condition=(
                    Q(outcome="death")
                    & (
                        Q(grade_override__isnull=False, grade_override=5)
                        | Q(grade_override__isnull=True, auto_grade=5)
                    )
                )
                | (
                    ~Q(outcome="death")
                    & (
                        (Q(grade_override__isnull=False) & ~Q(grade_override=5))
                        | (Q(grade_override__isnull=True) & ~Q(auto_grade=5))
                    )
                ),
                name="complication_death_is_grade_5",
            ),
            models.CheckConstraint(
                condition=Q(cirse_grade__isnull=True) | Q(cirse_grade__gte=1, cirse_grade__lte=6),
                name="complication_cirse_range",
            ),
            models.CheckConstraint(
                condition=Q(sir_class__in=["", "A", "B", "C", "D", "E", "F"]),
                name="complication_sir_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.term.name} (grade {self.grade})"

    @property
    def severity(self) -> str:
        return ctcae.severity_for(self.grade)


class ExportJob(models.Model):
    """A background export: who asked, over which departments, what, and how far it got.

    The departments are frozen at creation (the owner's visible departments
    then), so a job queued before a change of membership exports no more than
    its owner could see when asking. ``file`` is set only once the whole file
    has been written and moved into place; the constraints keep a half-written
    or failed export from ever being downloadable.
    """

    class Format(models.TextChoices):
        CSV = "csv", _("CSV")
        XLSX = "xlsx", _("Excel (XLSX)")
        FHIR = "fhir", _("HL7 FHIR R4 (JSON)")
        NDJSON = "ndjson", _("HL7 FHIR R4 Bulk Data (NDJSON)")
        IMPORT = "import", _("Import layout (XLSX, with registry ids)")
        STATA = "dta", _("Stata (DTA)")
        SPSS = "sav", _("SPSS (SAV)")

    class Kind(models.TextChoices):
        CASES = "cases", _("Cases (one row per fracture)")
        COMPLICATIONS = "complications", _("Complications (one row per event)")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="export_jobs",
        verbose_name=_("owner"),
    )
    departments = models.ManyToManyField(
        "registry.Department", related_name="+", verbose_name=_("departments in scope")
    )
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    kind = models.CharField(
        _("kind"),
        max_length=16,
        choices=Kind.choices,
        blank=True,
        default="",
        help_text=_(
            "Which table a CSV, Stata or SPSS export holds; XLSX holds both, FHIR has no kind."
        ),
    )
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    options = models.JSONField(
        _("options"),
        default=dict,
        blank=True,
        help_text=_("The analysis and de-identification options that differ from the defaults."),
    )
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    error = models.TextField(_("error"), blank=True, default="")
    file = models.FileField(_("file"), upload_to="exports/", blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(
        _("attempts"), default=0, help_text=_("How many times a worker has started this job.")
    )
    heartbeat_at = models.DateTimeField(
        _("last sign of life"),
        null=True,
        blank=True,
        help_text=_(
            "Running: when its worker last wrote. Queued: when it was last sent to the broker."
        ),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("export job")
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="exportjob_owner_created_idx")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(format__in=["csv", "xlsx", "fhir", "ndjson", "import", "dta", "sav"]),
                name="exportjob_format_valid",
            ),
            models.CheckConstraint(
                condition=Q(format__in=["csv", "dta", "sav"], kind__in=["cases", "complications"])
                | (~Q(format__in=["csv", "dta", "sav"]) & Q(kind="")),
                name="exportjob_kind_only_for_csv",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]),
                name="exportjob_status_valid",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="exportjob_progress_range"),
            models.CheckConstraint(
                condition=~Q(status="done") | ~Q(file=""), name="exportjob_done_has_file"
            ),
            models.CheckConstraint(
                condition=Q(status="done") | Q(file=""), name="exportjob_file_only_when_done"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} export #{self.pk} ({self.get_status_display()})"


class QualityTarget(models.Model):
    """A department's target rate of major complications in one window, per fracture,
    monitored by a Bernoulli CUSUM (``complications.ctcae.cusum``)."""

    department = models.ForeignKey(
        "registry.Department",
        on_delete=models.CASCADE,
        related_name="quality_targets",
        verbose_name=_("department"),
    )
    window = models.CharField(_("window"), max_length=16, choices=Window.choices)
    target_rate = models.FloatField(
        _("target rate"),
        help_text=_("Expected proportion of fractures with a major complication (0-1)."),
    )
    limit = models.FloatField(
        _("limit (h)"), default=4.0, help_text=_("The CUSUM signals when it reaches h.")
    )
    odds_ratio = models.FloatField(
        _("odds ratio to detect"),
        default=2.0,
        help_text=_("How much worse than the target the chart is tuned to detect."),
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    DEPARTMENT_PATH = "department"

    class Meta:
        ordering = ["department", "window"]
        verbose_name = _("quality target")
        constraints = [
            models.UniqueConstraint(
                fields=["department", "window"], name="qualitytarget_unique_department_window"
            ),
            models.CheckConstraint(
                condition=Q(window__in=Window.values), name="qualitytarget_window_valid"
            ),
            models.CheckConstraint(
                condition=Q(target_rate__gt=0, target_rate__lt=1),
                name="qualitytarget_rate_range",
            ),
            models.CheckConstraint(condition=Q(limit__gt=0), name="qualitytarget_limit_positive"),
            models.CheckConstraint(
                condition=Q(odds_ratio__gt=1), name="qualitytarget_odds_ratio_above_one"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.department} · {self.get_window_display()} · {self.target_rate:.1%}"


class QualityAlert(models.Model):
    """The CUSUM of a department's window reached its limit.

    One alert per crossing: while the chart stays at or above the limit the
    alert stays open (``returned_below_at`` null, at most one per department
    and window, enforced by the database); ``quality_check`` closes it when the
    chart is back below the limit, and the next crossing opens a new one.
    """

    department = models.ForeignKey(
        "registry.Department",
        on_delete=models.CASCADE,
        related_name="quality_alerts",
        verbose_name=_("department"),
    )
    window = models.CharField(_("window"), max_length=16, choices=Window.choices)
    created_at = models.DateTimeField(_("raised at"), auto_now_add=True)
    cusum = models.FloatField(_("CUSUM value"))
    limit = models.FloatField(_("limit (h)"))
    target_rate = models.FloatField(_("target rate"))
    fracture_count = models.PositiveIntegerField(
        _("fractures monitored"), help_text=_("Fractures in the chart when it signalled.")
    )
    procedure_count = models.PositiveIntegerField(_("procedures monitored"))
    returned_below_at = models.DateTimeField(_("back below the limit at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)

    DEPARTMENT_PATH = "department"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("quality alert")
        indexes = [
            models.Index(fields=["department", "-created_at"], name="qualityalert_dept_created_idx")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["department", "window"],
                condition=Q(returned_below_at__isnull=True),
                name="qualityalert_one_open_per_window",
            ),
            models.CheckConstraint(
                condition=Q(window__in=Window.values), name="qualityalert_window_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.department} · {self.get_window_display()} · CUSUM {self.cusum:.2f}"


# --- the outcome summary -----------------------------------------------------------
#
# What the rates need of each unit, kept exact by ``complications.outcomes`` in the
# same transaction as every write that can change it, so that a dashboard reads a
# narrow table instead of joining fractures, complications and contacts (seconds
# at a million fractures). Derived data: no history, never edited by hand; a
# ``manage.py outcomes_rebuild`` recomputes it all from the clinical tables.


class _SelectionColumns(models.Model):
    """The procedure's columns the dashboard filters on, copied from the clinical rows."""

    department = models.ForeignKey(
        "registry.Department", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    started_at = models.DateTimeField()
    # The local start date in the department's zone (``Procedure.started_on``):
    # what the date filters, months and quarters read.
    started_on = models.DateField()
    guidance = models.CharField(max_length=20)
    operator = models.CharField(max_length=200, blank=True, default="")

    DEPARTMENT_PATH = "department"

    class Meta:
        abstract = True


class _WindowEvidence(models.Model):
    """Per window, the unit's highest grade (0: no complication in the window), and
    whether a contact was recorded after the end / more than 24 hours after it."""

    grade_per_procedural = models.PositiveSmallIntegerField(default=0)
    grade_early = models.PositiveSmallIntegerField(default=0)
    grade_delayed = models.PositiveSmallIntegerField(default=0)
    contact_after_end = models.BooleanField(default=False)
    contact_beyond_24h = models.BooleanField(default=False)

    class Meta:
        abstract = True


class FractureOutcome(_SelectionColumns, _WindowEvidence):
    """One fracture: its selection columns and the evidence of its complications
    (those that concern it) and contacts (those that cover it)."""

    fracture = models.OneToOneField(
        Fracture, on_delete=models.CASCADE, primary_key=True, related_name="outcome"
    )
    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="+")
    patient_id = models.BigIntegerField()
    type = models.CharField(max_length=16)
    site = models.CharField(max_length=16)

    class Meta:
        indexes = [
            models.Index(fields=["department", "started_on"], name="fo_department_start_on_idx"),
            models.Index(fields=["started_on"], name="fo_start_on_idx"),
        ]

    def __str__(self) -> str:
        return f"outcome of fracture {self.pk}"


class ProcedureOutcome(_SelectionColumns, _WindowEvidence):
    """One procedure with at least one fracture: the evidence of all its complications
    and contacts (the procedure and patient units count a complication of the
    procedure even when it concerns only an unselected fracture).

    ``fractures_mask`` has one bit per (fracture type, site) pair that the
    procedure treats (``outcomes.layout.mask_bits``), so that "procedures with a
    pathological sacrum fracture" is a bit test, not a join.
    """

    procedure = models.OneToOneField(
        Procedure, on_delete=models.CASCADE, primary_key=True, related_name="outcome"
    )
    patient_id = models.BigIntegerField()
    fractures_mask = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["department", "started_on"], name="po_department_start_on_idx"),
            models.Index(fields=["started_on"], name="po_start_on_idx"),
        ]

    def __str__(self) -> str:
        return f"outcome of procedure {self.pk}"


class _TermEvidence(models.Model):
    """A row with a term: the unit's highest grade among its complications of that
    term in the window. A row without: the same for the term's system organ class
    (so that "units per SOC" counts rows instead of distinct units)."""

    window = models.CharField(max_length=16)
    term = models.ForeignKey(
        CtcaeTerm, on_delete=models.CASCADE, related_name="+", db_index=False, null=True
    )
    soc = models.CharField(max_length=255)
    # The screw-fixation event an "Other, specify" complication records
    # (``pigsf_lookups``), so that each event is a term row of its own; "" for
    # every other complication and on the per-SOC rows.
    pigsf_event = models.CharField(max_length=32, default="", blank=True)
    grade = models.PositiveSmallIntegerField()

    class Meta:
        abstract = True


class FractureTermOutcome(_SelectionColumns, _TermEvidence):
    """One (fracture, window, term) or (fracture, window, SOC) with a complication."""

    fracture = models.ForeignKey(Fracture, on_delete=models.CASCADE, related_name="+")
    procedure_id = models.BigIntegerField(db_index=True)
    type = models.CharField(max_length=16)
    site = models.CharField(max_length=16)

    class Meta:
        indexes = [
            models.Index(fields=["department", "started_on"], name="fto_department_start_on_idx"),
            models.Index(fields=["started_on"], name="fto_start_on_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["fracture", "window", "term", "pigsf_event"], name="fto_one_row_per_term"
            ),
            models.UniqueConstraint(
                fields=["fracture", "window", "soc"],
                condition=Q(term__isnull=True),
                name="fto_one_row_per_soc",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.window} {self.term_id} of fracture {self.fracture_id}"


class ProcedureTermOutcome(_SelectionColumns, _TermEvidence):
    """One (procedure, window, term) or (procedure, window, SOC) with a complication."""

    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="+")
    patient_id = models.BigIntegerField()
    fractures_mask = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["department", "started_on"], name="pto_department_start_on_idx"),
            models.Index(fields=["started_on"], name="pto_start_on_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["procedure", "window", "term", "pigsf_event"], name="pto_one_row_per_term"
            ),
            models.UniqueConstraint(
                fields=["procedure", "window", "soc"],
                condition=Q(term__isnull=True),
                name="pto_one_row_per_soc",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.window} {self.term_id} of procedure {self.procedure_id}"


class OutcomeMonth(models.Model):
    """Per unit (fracture or procedure), department and month of the procedure
    start (local month in the department's time zone: ``started_on``), and per year (``period``, with
    ``month`` its first day): the summary rows' counts that the rates add up, so
    that a whole registry is a few hundred rows to sum, not a million to count.
    Recomputed with the summary rows it counts."""

    period = models.CharField(max_length=5)
    unit = models.CharField(max_length=10)
    department = models.ForeignKey(
        "registry.Department", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    month = models.DateField()
    units = models.PositiveIntegerField()
    at_risk_early = models.PositiveIntegerField()
    at_risk_delayed = models.PositiveIntegerField()
    # Units whose highest grade in the window is k or more (k = 1: with a complication).
    per_procedural_1 = models.PositiveIntegerField()
    per_procedural_2 = models.PositiveIntegerField()
    per_procedural_3 = models.PositiveIntegerField()
    per_procedural_4 = models.PositiveIntegerField()
    per_procedural_5 = models.PositiveIntegerField()
    early_1 = models.PositiveIntegerField()
    early_2 = models.PositiveIntegerField()
    early_3 = models.PositiveIntegerField()
    early_4 = models.PositiveIntegerField()
    early_5 = models.PositiveIntegerField()
    delayed_1 = models.PositiveIntegerField()
    delayed_2 = models.PositiveIntegerField()
    delayed_3 = models.PositiveIntegerField()
    delayed_4 = models.PositiveIntegerField()
    delayed_5 = models.PositiveIntegerField()

    DEPARTMENT_PATH = "department"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["period", "unit", "department", "month"], name="outcome_month_one_row"
            )
        ]

    def __str__(self) -> str:
        return f"{self.unit}s of department {self.department_id} in {self.month:%Y-%m}"


class OutcomeTermMonth(models.Model):
    """Per unit, department, month (or year: ``period``), window and term (with its
    screw-fixation event, if any) or SOC (with no term): the units with a complication
    of that term (SOC) in the window, and those whose highest such grade is major."""

    period = models.CharField(max_length=5)
    unit = models.CharField(max_length=10)
    department = models.ForeignKey(
        "registry.Department", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    month = models.DateField()
    window = models.CharField(max_length=16)
    term = models.ForeignKey(
        CtcaeTerm, on_delete=models.CASCADE, related_name="+", db_index=False, null=True
    )
    soc = models.CharField(max_length=255)
    pigsf_event = models.CharField(max_length=32, default="", blank=True)
    events = models.PositiveIntegerField()
    major = models.PositiveIntegerField()

    DEPARTMENT_PATH = "department"

    class Meta:
        indexes = [
            models.Index(
                fields=["period", "unit", "department", "month"], name="outcome_term_month_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.unit}s with {self.term_id or self.soc} in {self.month:%Y-%m}"


class StatsChange(models.Model):
    """One committed change of the statistics; the live version is the sum of ``n``.

    Each clinical write inserts a row in its own transaction (inserts never wait on
    each other), so the version moves exactly when the write becomes visible, whatever
    the cache is doing. ``complications.live.stats_changes_compact`` folds the rows into
    one, keeping the sum.
    """

    n = models.PositiveBigIntegerField(default=1)

    class Meta:
        verbose_name = _("statistics change")

    def __str__(self) -> str:
        return f"+{self.n}"


class ImportJob(models.Model):
    """An import of a workbook (or a ZIP of CSVs) into one department: a dry run
    first, then, on request, its commit (``complications.imports``).

    ``summary`` counts per sheet what the rows do (create, update, unchanged);
    ``errors`` lists every error of the last run, each naming its sheet, row,
    column and value. A commit writes everything or nothing.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        VALIDATED = "validated", _("Validated (dry run)")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="import_jobs",
        verbose_name=_("owner"),
    )
    department = models.ForeignKey(
        "registry.Department",
        on_delete=models.CASCADE,
        related_name="import_jobs",
        verbose_name=_("department"),
    )
    file = models.FileField(
        _("file"), upload_to="imports/", blank=True, help_text=_("Deleted once imported.")
    )
    file_name = models.CharField(_("file name"), max_length=255, blank=True, default="")
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True, default="")
    dry_run = models.BooleanField(_("dry run"), default=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    report = models.FileField(_("row-by-row report (CSV)"), upload_to="imports/", blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    DEPARTMENT_PATH = "department"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import job")
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "validated", "done", "failed"]),
                name="importjob_status_valid",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="importjob_progress_range"),
        ]

    def __str__(self) -> str:
        return f"import #{self.pk} {self.file_name} ({self.get_status_display()})"


class ImportMapping(models.Model):
    """A department's saved column mapping for its legacy spreadsheet shape
    (``complications.imports.mapping``)."""

    department = models.ForeignKey(
        "registry.Department",
        on_delete=models.CASCADE,
        related_name="import_mappings",
        verbose_name=_("department"),
    )
    name = models.CharField(_("name"), max_length=100)
    mapping = models.JSONField(_("column mapping"), default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    DEPARTMENT_PATH = "department"

    class Meta:
        ordering = ["department", "name"]
        verbose_name = _("import mapping")
        constraints = [
            models.UniqueConstraint(
                fields=["department", "name"], name="importmapping_unique_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DataFreeze(models.Model):
    """A named selection frozen for publication: its rates, cohort and CSV tables as they
    were (``complications.freezes``), with their SHA-256, and the head's signature."""

    name = models.CharField(_("name"), max_length=200)
    filters = models.JSONField(_("filters"), default=dict)
    departments = models.JSONField(_("departments"), default=list)
    created_at = models.DateTimeField(_("frozen at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("frozen by"),
    )
    rates = models.JSONField(_("rates"), default=dict)
    cohort = models.JSONField(_("cohort"), default=dict)
    files = models.JSONField(_("files"), default=list)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("signed by"),
    )
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    signature_meaning = models.CharField(_("meaning of the signature"), max_length=200, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("data freeze")

    def __str__(self) -> str:
        return self.name
