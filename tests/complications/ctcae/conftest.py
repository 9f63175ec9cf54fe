"""Fixtures for the CTCAE core: the NCI reference table (when present) and the curated catalogue.

The reference CSV lives outside the repository (``../shared/reference``, or wherever
``CTCAE_REFERENCE_CSV`` points, e.g. from a git worktree) and must not be copied in; tests that
need it are skipped, with the reason, when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from complications.ctcae import Term, load_curated_catalogue, read_ctcae_csv

REPO = Path(__file__).resolve().parents[3]
REFERENCE_CSV = Path(
    os.environ.get("CTCAE_REFERENCE_CSV") or REPO.parent / "shared" / "reference" / "ctcae_v5.0.csv"
)
MISSING_REFERENCE = f"the CTCAE v5.0 reference table is not at {REFERENCE_CSV}"


@pytest.fixture(scope="session")
def reference_csv() -> Path:
    if not REFERENCE_CSV.exists():
        pytest.skip(MISSING_REFERENCE)
    return REFERENCE_CSV


@pytest.fixture(scope="session")
def reference_terms(reference_csv: Path) -> list[Term]:
    return read_ctcae_csv(reference_csv)


@pytest.fixture(scope="session")
def reference_by_name(reference_terms: list[Term]) -> dict[str, Term]:
    return {term.name: term for term in reference_terms}


@pytest.fixture(scope="session")
def curated_by_name() -> dict[str, Term]:
    return {term.name: term for term in load_curated_catalogue().values()}
