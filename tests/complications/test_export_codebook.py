"""The codebook covers every column of every export: the CSV tables (the Python path
and, on PostgreSQL, the SQL path), the XLSX sheets and the Stata and SPSS files,
with the default options and with every option on; and its documents (REDCap data
dictionary, page, PDF) are generated from it."""

from __future__ import annotations

import csv
import io

import pyreadstat
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from openpyxl import load_workbook

from complications import exports
from complications.exports import codebook, sql_csv
from complications.exports.codebook_documents import REDCAP_COLUMNS, redcap_csv
from complications.models import ComplicationEvent
from tests import factories

ALL_ON = exports.ExportOptions(
    labels=True,
    flatten_facts=True,
    dates="shifted",
    operators="pseudonyms",
    dialect="excel_eu",
    real_dates=True,
)
YEARS = exports.ExportOptions(dates="year", flatten_facts=True, operators="pseudonyms")
OPTIONS = [exports.ExportOptions(), ALL_ON, YEARS]


def documented(kind: str) -> set[str]:
    return {entry.variable.name for entry in codebook.entries() if entry.table == kind}


def undocumented(kind: str, columns: list[str]) -> list[str]:
    return [c for c in columns if c not in documented(kind)]


@pytest.fixture
def identifiers_head(head):
    head.user_permissions.add(Permission.objects.get(codename="export_identifiers"))
    return get_user_model().objects.get(pk=head.pk)  # a fresh permission cache


@pytest.fixture
def registry(department):
    patient = factories.patient(department)
    procedure = factories.procedure(patient, operator="Dr Martin")
    factories.fracture(procedure)
    event = factories.complication(procedure, window="early", grade=2)
    ComplicationEvent.objects.filter(pk=event.pk).update(
        facts={"symptoms": "mild", "hospitalization": True, "temperature_c": 38.5}
    )


def _csv_header(text: str) -> list[str]:
    delimiter = ";" if text.startswith("\ufeff") else ","
    return next(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter))


# The formats whose columns the tests below compare with the codebook; FHIR is a Bundle of
# resources, not a table (so is its Bulk Data NDJSON); the import layout's columns are the
# import format's (its template's notes sheet and docs/architecture.md "Import"), not the
# analysis tables'. A new tabular format must join COVERED (and the tests below).
COVERED = {"csv", "xlsx", "dta", "sav"}
NOT_TABULAR = {"fhir", "ndjson", "import"}


def test_every_registered_format_is_compared_with_the_codebook():
    assert set(exports.formats()) - NOT_TABULAR == COVERED


def test_a_column_without_an_entry_is_caught():
    assert undocumented("cases", ["fracture_id", "invented_column"]) == ["invented_column"]


def test_the_tables_columns_are_the_codebook_variables():
    assert exports.CASE_COLUMNS == [v.name for v in codebook.CASE_VARIABLES]
    assert exports.COMPLICATION_COLUMNS == [v.name for v in codebook.COMPLICATION_VARIABLES]


@pytest.mark.django_db
@pytest.mark.parametrize("options", OPTIONS, ids=["default", "all", "years"])
@pytest.mark.parametrize("kind", ["cases", "complications"])
def test_every_csv_column_has_an_entry(registry, identifiers_head, kind, options):
    selection = exports.Selection.for_user(identifiers_head, {}, options=options)
    text = "".join(exports.exporter_for("csv", selection, kind=kind).chunks())
    header = _csv_header(text)
    assert header and undocumented(kind, header) == []
    if options == exports.ExportOptions():
        assert "registry_id" in header  # the identifier column is covered too


@pytest.mark.django_db
@pytest.mark.parametrize("options", OPTIONS, ids=["default", "all", "years"])
def test_every_xlsx_column_has_an_entry(registry, identifiers_head, options, tmp_path):
    path = tmp_path / "export.xlsx"
    exports.exporter_for(
        "xlsx", exports.Selection.for_user(identifiers_head, {}, options=options)
    ).write(path)
    workbook = load_workbook(path, read_only=True)
    assert workbook.sheetnames == ["cases", "complications", "outcomes"]
    for kind in workbook.sheetnames:
        header = [cell.value for cell in next(workbook[kind].iter_rows(max_row=1))]
        assert header and undocumented(kind, header) == []


@pytest.mark.django_db
@pytest.mark.parametrize("format", ["dta", "sav"])
@pytest.mark.parametrize("options", OPTIONS, ids=["default", "all", "years"])
@pytest.mark.parametrize("kind", ["cases", "complications"])
def test_every_stata_and_spss_column_has_an_entry(
    registry, identifiers_head, format, kind, options, tmp_path
):
    path = tmp_path / f"export.{format}"
    selection = exports.Selection.for_user(identifiers_head, {}, options=options)
    exports.exporter_for(format, selection, kind=kind).write(path)
    reader = pyreadstat.read_dta if format == "dta" else pyreadstat.read_sav
    frame, meta = reader(str(path))
    assert list(frame.columns) and undocumented(kind, list(frame.columns)) == []
    assert len(frame) == 1


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["cases", "complications"])
def test_every_postgresql_csv_column_has_an_entry(registry, identifiers_head, kind):
    selection = exports.Selection.for_user(identifiers_head, {})
    header = _csv_header("".join(sql_csv.table_csv(kind, selection)))
    assert header and undocumented(kind, header) == []


def test_every_variable_has_a_label_a_type_and_codes_with_labels():
    for entry in codebook.entries():
        variable = entry.variable
        assert str(variable.label) and variable.type in codebook.TYPE_LABELS, variable.name
        for code, label in variable.codes():
            assert code not in ("", None) and str(label), variable.name


@pytest.mark.parametrize(
    "name",
    ["window", "grade", "severity", "hours_after_end", "contact_beyond_24h", "early_max_grade"],
)
def test_computed_columns_say_how_they_are_derived(name):
    kind = "cases" if name in documented("cases") else "complications"
    variable = codebook.variable(kind, name)
    assert variable is not None and str(variable.derivation)


def test_the_labels_exist_in_french():
    from django.utils.translation import override

    with override("fr"):
        assert str(codebook.variable("cases", "age_at_procedure").label) == "Âge à l'intervention"
        assert str(codebook.variable("complications", "window").label) == "Période"


def test_the_redcap_dictionary_has_redcap_columns_and_every_column_once():
    rows = list(csv.DictReader(io.StringIO(redcap_csv("en"))))
    assert tuple(rows[0].keys()) == REDCAP_COLUMNS
    names = [row["Variable / Field Name"] for row in rows]
    assert names[0] == "fracture_id"  # REDCap's record id comes first
    assert len(names) == len(set(names))
    assert documented("cases") | documented("complications") == set(names)
    window = next(row for row in rows if row["Variable / Field Name"] == "window")
    assert window["Field Type"] == "dropdown"
    assert window["Choices, Calculations, OR Slider Labels"].startswith("per_procedural, ")
    assert window["Field Annotation"] == "@READONLY"
    started = next(row for row in rows if row["Variable / Field Name"] == "procedure_started_at")
    assert started["Text Validation Type OR Show Slider Number"] == "datetime_seconds_ymd"


@pytest.mark.django_db
def test_the_codebook_page_redcap_file_and_pdf_are_for_those_who_may_export(
    head, radiologist, client
):
    client.force_login(radiologist)
    assert client.get(reverse("export-codebook")).status_code == 403
    client.force_login(head)
    page = client.get(reverse("export-codebook"))
    assert page.status_code == 200
    assert b"hours_after_end" in page.content and b"fact_symptoms" in page.content
    redcap = client.get(reverse("export-codebook-redcap"))
    assert redcap["Content-Type"].startswith("text/csv") and b"Field Annotation" in redcap.content
    pdf = client.get(reverse("export-codebook-pdf"))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
