"""Analysis-ready and de-identified exports: the options of the tables.

Date shifting keeps every interval of a patient and moves every date; year-only
dates leave the year; pseudonyms replace the operators; no identifier remains in
a de-identified file; labels, flattened facts, the European CSV dialect, typed
XLSX dates, Stata and SPSS value labels; formula text stays neutralised."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

import pyreadstat
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from openpyxl import load_workbook

from complications import exports
from complications.exports.options import date_offset, operator_pseudonym
from complications.models import ComplicationEvent, ExportJob
from tests import factories
from tests.conftest import api_client_for

PARIS_START = datetime.fromisoformat("2020-03-02T08:30:00+01:00")
OPERATOR = "=HYPERLINK(1)"


@pytest.fixture
def identifiers_head(head):
    head.user_permissions.add(Permission.objects.get(codename="export_identifiers"))
    return get_user_model().objects.get(pk=head.pk)


@pytest.fixture
def registry(department):
    """Two patients, one with two procedures (one with an onset date only)."""
    first = factories.patient(department, registry_id="SECRET-001")
    second = factories.patient(department, registry_id="SECRET-002", sex="male")
    a = factories.procedure(first, started_at=PARIS_START, operator="Dr Martin")
    b = factories.procedure(first, started_at=PARIS_START + timedelta(days=40), operator=OPERATOR)
    c = factories.procedure(
        second, started_at=PARIS_START + timedelta(days=3), operator="Dr Martin"
    )
    for procedure in (a, b, c):
        factories.fracture(procedure)
    early = factories.complication(a, window="early", grade=2, hours_after_end=5.5)
    ComplicationEvent.objects.filter(pk=early.pk).update(
        facts={"symptoms": "mild", "hospitalization": True, "temperature_c": 38.5}
    )
    delayed = factories.complication(b, window="delayed", grade=3)
    ComplicationEvent.objects.filter(pk=delayed.pk).update(
        onset_at=None, onset_date=date(2020, 4, 20)
    )


def rows(user, kind, **options):
    selection = exports.Selection.for_user(user, {}, options=exports.ExportOptions(**options))
    text = "".join(exports.exporter_for("csv", selection, kind=kind).chunks())
    delimiter = ";" if text.startswith("\ufeff") else ","
    return text, list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter))


def _dt(text):
    return datetime.fromisoformat(text)


@pytest.mark.django_db
def test_date_shifting_moves_every_date_and_keeps_every_interval(registry, head):
    _, exact = rows(head, "cases")
    _, shifted = rows(head, "cases", dates="shifted")
    for before, after in zip(exact, shifted, strict=True):
        assert before["fracture_id"] == after["fracture_id"]
        moved = _dt(after["procedure_started_at"]) - _dt(before["procedure_started_at"])
        assert moved == date_offset(int(before["patient_id"])) and moved != timedelta(0)
        assert _dt(after["procedure_ended_at"]) - _dt(after["procedure_started_at"]) == _dt(
            before["procedure_ended_at"]
        ) - _dt(before["procedure_started_at"])
        assert after["age_at_procedure"] == before["age_at_procedure"]
    # The same offset for all of a patient's procedures: the days between them are kept.
    by_patient: dict[str, list[tuple[datetime, datetime]]] = {}
    for before, after in zip(exact, shifted, strict=True):
        by_patient.setdefault(before["patient_id"], []).append(
            (_dt(before["procedure_started_at"]), _dt(after["procedure_started_at"]))
        )
    pairs = max(by_patient.values(), key=len)
    assert len(pairs) == 2
    assert pairs[1][0] - pairs[0][0] == pairs[1][1] - pairs[0][1]
    # Stable across exports.
    assert rows(head, "cases", dates="shifted")[1] == shifted


@pytest.mark.django_db
def test_complications_keep_onset_intervals_when_shifted(registry, head):
    _, exact = rows(head, "complications")
    _, shifted = rows(head, "complications", dates="shifted")
    for before, after in zip(exact, shifted, strict=True):
        offset = date_offset(int(before["patient_id"]))
        if before["onset_at"]:
            assert _dt(after["onset_at"]) - _dt(before["onset_at"]) == offset
        if before["onset_date"]:
            assert (
                date.fromisoformat(after["onset_date"]) - date.fromisoformat(before["onset_date"])
                == offset
            )
        assert after["hours_after_end"] == before["hours_after_end"]


def test_the_offset_is_between_one_and_365_days_either_way():
    days = [date_offset(patient_id).days for patient_id in range(1, 2000)]
    assert all(1 <= abs(d) <= 365 for d in days)
    assert min(days) < -300 and max(days) > 300  # both directions, the whole range


def test_offsets_differ_between_patients_and_follow_the_secret(settings):
    offsets = {date_offset(i) for i in range(1, 50)}
    assert len(offsets) > 25
    before = date_offset(7)
    settings.EXPORT_PSEUDONYM_SECRET = "another secret"
    assert [date_offset(i) for i in range(1, 20)] != [before] + [
        date_offset(i) for i in range(2, 20)
    ]


@pytest.mark.django_db
def test_year_only_dates_keep_the_year_alone(registry, head):
    _, cases = rows(head, "cases", dates="year")
    assert {row["procedure_started_at"] for row in cases} == {"2020"}
    _, complications = rows(head, "complications", dates="year")
    assert {row["onset_date"] for row in complications} == {"", "2020"}


@pytest.mark.django_db
def test_a_deidentified_file_holds_no_identifier(registry, identifiers_head):
    text, cases = rows(identifiers_head, "cases")
    assert "SECRET-001" in text and "Dr Martin" in text  # with the permission, by default
    for kind in ("cases", "complications"):
        text, table = rows(identifiers_head, kind, dates="shifted", operators="pseudonyms")
        assert "SECRET-" not in text and "Dr Martin" not in text and "HYPERLINK" not in text
        assert "registry_id" not in table[0]
        assert "2020-03-02" not in text  # the exact first procedure date is gone
    _, cases = rows(identifiers_head, "cases", operators="pseudonyms")
    pseudonyms = [row["operator"] for row in cases]
    assert all(re.fullmatch(r"OP-[0-9A-F]{8}", p) for p in pseudonyms)
    assert len(set(pseudonyms)) == 2  # Dr Martin twice, one other operator
    assert operator_pseudonym("D1", "Dr Martin") == operator_pseudonym("D1", " dr martin ")


@pytest.mark.django_db
def test_labels_beside_codes_in_the_users_language(registry, head):
    _, cases = rows(head, "cases", labels=True, language="fr")
    row = next(r for r in cases if r["sex"] == "male")
    assert row["sex_label"] == "Homme"
    assert list(cases[0]).index("sex_label") == list(cases[0]).index("sex") + 1
    _, complications = rows(head, "complications", labels=True, language="en")
    assert {r["window_label"] for r in complications} == {"Early (< 24 h)", "Delayed (≥ 24 h)"}


@pytest.mark.django_db
def test_flattened_facts_leave_no_json_in_a_cell(registry, head):
    text, complications = rows(head, "complications", flatten_facts=True, labels=True)
    assert "facts" not in complications[0] and "{" not in text
    early = next(r for r in complications if r["window"] == "early")
    assert (early["fact_symptoms"], early["fact_hospitalization"]) == ("mild", "true")
    assert early["fact_temperature_c"] == "38.5" and early["fact_symptoms_label"] == "Mild"


@pytest.mark.django_db
def test_the_european_dialect(registry, head):
    text, complications = rows(head, "complications", dialect="excel_eu")
    assert text.startswith("\ufeffcomplication_id;procedure_id;")
    early = next(r for r in complications if r["window"] == "early")
    assert early["hours_after_end"] == "5,5"
    _, cases = rows(head, "cases", dialect="excel_eu")
    assert "'" + OPERATOR in {row["operator"] for row in cases}  # still neutralised


@pytest.mark.django_db
def test_the_xlsx_has_real_dates_a_frozen_header_and_filters(registry, head, tmp_path):
    path = tmp_path / "export.xlsx"
    selection = exports.Selection.for_user(
        head, {}, options=exports.ExportOptions(real_dates=True, labels=True)
    )
    exports.exporter_for("xlsx", selection).write(path)
    sheet = load_workbook(path)["cases"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}4"
    header = [cell.value for cell in sheet[1]]
    started = sheet.cell(2, header.index("procedure_started_at") + 1)
    assert started.value == datetime(2020, 3, 2, 8, 30) and started.number_format.startswith("yyyy")
    operator = next(
        sheet.cell(r, header.index("operator") + 1)
        for r in range(2, 5)
        if sheet.cell(r, header.index("operator") + 1).value == OPERATOR
    )
    assert operator.data_type == "s" and operator.quotePrefix


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("format", "reader"), [("dta", pyreadstat.read_dta), ("sav", pyreadstat.read_sav)]
)
def test_stata_and_spss_files_carry_value_and_variable_labels(
    registry, head, tmp_path, format, reader
):
    path = tmp_path / f"cases.{format}"
    exports.exporter_for(format, exports.Selection.for_user(head, {}), kind="cases").write(path)
    frame, meta = reader(str(path))
    assert len(frame) == 3
    assert meta.column_names_to_labels["age_at_procedure"] == "Age at the procedure"
    labels = meta.variable_value_labels["sex"]
    assert set(labels.values()) == {"Female", "Male"}
    assert set(frame["sex"].map(labels)) == {"Female", "Male"}
    assert "'" + OPERATOR in set(frame["operator"])  # text cells keep the formula rule
    assert str(frame["procedure_started_at"].dtype).startswith("datetime64")


@pytest.mark.django_db
def test_the_api_takes_the_options_and_refuses_a_bad_one(registry, head):
    client = api_client_for(head)
    response = client.get("/api/v1/export/cases.csv?dialect=excel_eu&labels=true&dates=year")
    body = b"".join(response.streaming_content).decode()
    assert response.status_code == 200 and body.startswith("\ufeff") and "sex_label" in body
    assert client.get("/api/v1/export/cases.csv?dates=someday").status_code == 400
    default = b"".join(client.get("/api/v1/export/cases.csv").streaming_content).decode()
    assert default.startswith("fracture_id,") and "_label" not in default


@pytest.mark.django_db
def test_a_job_keeps_its_options_and_writes_a_stata_file(
    registry, head, django_capture_on_commit_callbacks
):
    client = api_client_for(head)
    with django_capture_on_commit_callbacks(execute=True):
        body = client.post(
            "/api/v1/exports/",
            {"format": "dta", "kind": "cases", "options": {"dates": "shifted", "labels": True}},
            format="json",
        ).json()
    job = ExportJob.objects.get(pk=body["id"])
    assert job.options["dates"] == "shifted" and job.options["labels"] is True
    assert job.status == ExportJob.Status.DONE, job.error
    assert body["options"]["dates"] == "shifted"
    frame, _meta = pyreadstat.read_dta(job.file.path)
    assert "registry_id" not in frame.columns and "sex_label" in frame.columns


@pytest.mark.django_db
def test_a_fhir_job_refuses_the_table_options(head, client):
    response = api_client_for(head).post(
        "/api/v1/exports/", {"format": "fhir", "options": {"dates": "shifted"}}, format="json"
    )
    assert response.status_code == 400 and "options" in response.json()
    client.force_login(head)
    page = client.post("/exports/", {"format": "fhir", "operators": "pseudonyms"})
    assert b"apply to the tables" in page.content
    assert not ExportJob.objects.exists()
    client.post("/exports/", {"format": "fhir"})
    assert ExportJob.objects.get().format == "fhir"  # without options it starts


@pytest.mark.django_db
def test_the_page_starts_a_job_with_options(registry, head, client):
    client.force_login(head)
    client.post(
        "/exports/",
        {"format": "csv", "kind": "cases", "operators": "pseudonyms", "dialect": "excel_eu"},
    )
    job = ExportJob.objects.get(owner=head)
    assert job.options["operators"] == "pseudonyms" and job.options["dialect"] == "excel_eu"


@pytest.mark.django_db
@pytest.mark.parametrize("format", ["dta", "sav"])
@pytest.mark.parametrize("dates", ["shifted", "year"])
def test_stata_and_spss_take_the_deidentified_complications(
    registry, head, tmp_path, format, dates
):
    path = tmp_path / f"complications.{format}"
    options = exports.ExportOptions(dates=dates, flatten_facts=True, labels=True)
    selection = exports.Selection.for_user(head, {}, options=options)
    exports.exporter_for(format, selection, kind="complications").write(path)
    reader = pyreadstat.read_dta if format == "dta" else pyreadstat.read_sav
    frame, meta = reader(str(path))
    assert len(frame) == 2 and "facts" not in frame.columns
    assert meta.variable_value_labels["fact_symptoms"]  # a flattened scale keeps its labels
    if dates == "year":
        assert set(frame["onset_date"].dropna()) == {2020}
