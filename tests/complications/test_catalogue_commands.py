"""The importer loads the full official CTCAE v5.0 table; the coverage report reaches every clause."""

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from complications.models import CtcaeTerm

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "ctcae_v5.0.csv"
needs_reference = pytest.mark.skipif(
    not REFERENCE.exists(), reason=f"the CTCAE v5.0 table is not at {REFERENCE}"
)


def test_the_curated_catalogue_is_loaded_by_migration(db):
    curated = CtcaeTerm.objects.filter(curated=True)
    assert curated.count() >= 150
    assert curated.filter(name__endswith="Other, specify").count() == 26
    assert (
        CtcaeTerm.objects.get(code="10033425").grade_4 is None
    )  # Pain in extremity has no grade 4


@needs_reference
def test_importing_the_official_table_loads_all_837_terms_and_keeps_the_curated_flag(db):
    out = io.StringIO()
    call_command("ctcae_import", str(REFERENCE), "--no-regrade", stdout=out)
    assert CtcaeTerm.objects.count() == 837
    assert "837 terms read" in out.getvalue()
    assert CtcaeTerm.objects.filter(curated=True).count() >= 150
    assert CtcaeTerm.objects.get(code="10061017").grade_1 is None  # Bone infection has no grade 1
    # A second import changes nothing.
    out = io.StringIO()
    call_command("ctcae_import", str(REFERENCE), "--no-regrade", stdout=out)
    assert "0 created, 0 updated, 837 unchanged" in out.getvalue()


@needs_reference
def test_the_coverage_report_over_837_terms_finds_no_unreachable_clause(db):
    out = io.StringIO()
    call_command("ctcae_coverage", str(REFERENCE), stdout=out)
    assert "837" in out.getvalue()


def test_a_missing_file_is_a_clear_error(db):
    with pytest.raises(CommandError, match="no such file"):
        call_command("ctcae_import", "/nonexistent/CTCAE_v5.0.xlsx")
