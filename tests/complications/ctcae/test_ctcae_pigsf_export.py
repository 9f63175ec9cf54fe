"""Exports carry each complication's screw-fixation event code, the same from Python and SQL."""

from __future__ import annotations

import csv
import io

import pytest

from complications import exports
from complications.ctcae.pigsf import MUSCULOSKELETAL_OTHER, PIGSF_EVENTS, specify_text
from complications.exports import sql_csv
from complications.models import ComplicationEvent, CtcaeTerm
from tests import factories as f

BY_CODE = {event.code: event for event in PIGSF_EVENTS}

# (term, specifying text, the export code it must give)
SPECIFIED = [
    (MUSCULOSKELETAL_OTHER, "Screw migration or back-out", "PIGSF-MIGRATION"),
    (MUSCULOSKELETAL_OTHER, "screw LOOSENING: both screws, 6 weeks", "PIGSF-LOOSENING"),
    (MUSCULOSKELETAL_OTHER, "Screw loosening and more", ""),  # free text
    (MUSCULOSKELETAL_OTHER, "Screw breakage:", "PIGSF-BREAKAGE"),
    ("10022117", specify_text(BY_CODE["PIGSF-CEMENT-LEAK"], "into the sacral foramen"),
     "PIGSF-CEMENT-LEAK"),
    ("10047065", "Screw malposition", ""),  # another term's event
    ("10047065", "Fat or cement embolism", "PIGSF-EMBOLISM"),
]  # fmt: skip


@pytest.fixture
def specified(department, head):
    procedure = f.procedure(f.patient(department))
    f.fracture(procedure)
    for term, specify, _code in SPECIFIED:
        event = f.complication(procedure, window="delayed", grade=3)
        ComplicationEvent.objects.filter(pk=event.pk).update(
            term=CtcaeTerm.objects.get(code=term), specify=specify
        )
    return exports.Selection.for_user(head, {})


def codes(table: str) -> list[str]:
    rows = list(csv.DictReader(io.StringIO(table)))
    return [row["pigsf_event"] for row in rows]


@pytest.mark.django_db
def test_the_complications_table_has_the_event_code_after_the_specifying_text(specified) -> None:
    columns = exports.COMPLICATION_COLUMNS
    assert columns.index("pigsf_event") == columns.index("specify") + 1
    table = "".join(exports.table_csv("complications", specified))
    assert codes(table) == [code for _term, _text, code in SPECIFIED]


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_formats_the_same_codes(specified) -> None:
    python = "".join(exports.table_csv("complications", specified))
    sql = "".join(sql_csv.table_csv("complications", specified, batch=3))
    assert sql == python
