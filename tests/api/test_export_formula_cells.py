"""Text a spreadsheet would take for a formula is neutralised in every export; numbers stay.

CSV tables (the Python path and, on PostgreSQL, the SQL path: the same bytes), the
XLSX workbook and the audit CSV.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from complications import exports
from complications.exports import sql_csv
from complications.models import ComplicationEvent
from complications.services import complication_override, complication_record
from registry.models import Procedure
from registry.spreadsheets import FORMULA_TRIGGERS, csv_text
from tests import factories

# One operator per trigger, and text that only contains a trigger further on.
OPERATORS = [f"{c}HYPERLINK(1)" for c in FORMULA_TRIGGERS] + ["A=B", ""]
SPECIFY = '-left, "deep"'


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+33 1 23", "'+33 1 23"),
        ("-left", "'-left"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("'quoted", "'quoted"),
        (" =x", " =x"),
        ("a-b", "a-b"),
        ("", ""),
        (-3, -3),
        (-1.5, -1.5),
        (0, 0),
        (None, None),
    ],
)
def test_only_text_beginning_like_a_formula_gets_the_quote(value, cell):
    assert csv_text(value) == cell


@pytest.fixture
def risky(department, head):
    """Procedures whose operator begins with each trigger, a complication whose "specify"
    does, a negative number and facts that are a bare string."""
    for operator in OPERATORS:
        procedure = factories.procedure(factories.patient(department), operator=operator)
        factories.fracture(procedure)
    procedure = Procedure.objects.get(operator=OPERATORS[0])
    event = factories.complication(procedure, window="early", grade=2)
    ComplicationEvent.objects.filter(pk=event.pk).update(
        specify=SPECIFY, hours_after_end=-1.5, facts="=cmd", grade_rationale="+Grade 2"
    )
    return exports.Selection.for_user(head, {})


def _rows(kind: str, selection: exports.Selection) -> list[dict[str, str]]:
    text = "".join(exports.table_csv(kind, selection))
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.django_db
def test_the_csv_tables_quote_formula_text_and_leave_numbers(risky):
    cases = _rows("cases", risky)
    (complication,) = _rows("complications", risky)

    assert sorted(row["operator"] for row in cases) == sorted(
        csv_text(operator) for operator in OPERATORS
    )
    assert {"'=HYPERLINK(1)", "'\rHYPERLINK(1)", "A=B", ""} <= {row["operator"] for row in cases}
    assert complication["specify"] == "'" + SPECIFY
    assert complication["grade_rationale"] == "'+Grade 2"
    assert complication["facts"] == "'=cmd"
    assert complication["hours_after_end"] == "-1.5"


@pytest.mark.postgres
@pytest.mark.django_db
def test_the_sql_tables_quote_exactly_as_the_python_tables(risky):
    tables = {
        kind: (
            "".join(exports.table_csv(kind, risky)).encode(),
            "".join(sql_csv.table_csv(kind, risky, batch=3)).encode(),
        )
        for kind in ("cases", "complications")
    }

    for kind, (python, sql) in tables.items():
        assert sql == python, kind
    assert b"'=HYPERLINK(1)" in tables["cases"][0]
    assert b"'+Grade 2" in tables["complications"][0]


@pytest.mark.django_db
def test_the_xlsx_keeps_formula_text_as_quoted_text_and_numbers_as_numbers(risky, tmp_path):
    path = tmp_path / "export.xlsx"
    exports.exporter_for("xlsx", risky).write(path)
    workbook = load_workbook(path)

    cases = workbook["cases"]
    header = [cell.value for cell in cases[1]]
    operators = {
        row[header.index("operator")].value: row[header.index("operator")]
        for row in cases.iter_rows(min_row=2)
    }
    for operator in OPERATORS[: len(FORMULA_TRIGGERS)]:
        cell = operators[operator.replace("\r", "\n")]  # XML reads a bare CR as LF
        assert (cell.data_type, cell.quotePrefix) == ("s", True), repr(operator)
    assert operators["A=B"].quotePrefix is False
    events = workbook["complications"]
    header = [cell.value for cell in events[1]]
    row = next(events.iter_rows(min_row=2))
    assert row[header.index("hours_after_end")].value == -1.5
    assert row[header.index("hours_after_end")].data_type == "n"
    assert (row[header.index("facts")].value, row[header.index("facts")].quotePrefix) == (
        "=cmd",
        True,
    )


@pytest.mark.django_db
def test_the_audit_csv_quotes_a_reason_that_begins_like_a_formula(client, department, admin_user):
    procedure = factories.procedure(factories.patient(department))
    factories.fracture(procedure)
    event = complication_record(
        procedure=procedure,
        term="10048038",
        facts={"intervention": "oral"},
        onset_at=procedure.ended_at + timedelta(hours=3),
    )
    complication_override(event=event, grade=3, reason="=HYPERLINK(1)")
    client.force_login(admin_user)

    response = client.get(reverse("audit-export"))
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))

    assert "'=HYPERLINK(1)" in {row["reason"] for row in rows}
    assert all(not row["record_id"].startswith("'") for row in rows)
