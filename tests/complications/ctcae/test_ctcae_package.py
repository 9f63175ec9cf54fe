"""The core stays pure: importable without Django, and without openpyxl until an .xlsx is read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import complications.ctcae

REPO = Path(__file__).resolve().parents[3]


def test_importing_the_core_loads_neither_django_nor_openpyxl() -> None:
    code = (
        "import sys, complications.ctcae as c; c.load_curated_catalogue(); "
        "print(sorted(m for m in ('django', 'openpyxl') if m in sys.modules))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "[]"


def test_every_public_name_is_exported() -> None:
    exported = set(complications.ctcae.__all__)
    assert {
        "Term",
        "read_ctcae_csv",
        "read_ctcae_xlsx",
        "load_curated_catalogue",
        "CatalogueError",
        "SYMPTOMS",
        "INTERVENTIONS",
        "ADL",
        "Facts",
        "parse_facts",
        "FactsError",
        "GENERIC_CLAUSES",
        "normalise_clause",
        "GradeResult",
        "grade",
        "GradingError",
        "severity_for",
        "clause_kind",
        "checklist",
        "coverage_report",
        "format_report",
        "PER_PROCEDURAL",
        "EARLY",
        "DELAYED",
        "classify_onset",
        "Timing",
        "TimingError",
        "OutcomeFacts",
        "cirse_grade",
        "sir_class",
        "wilson_interval",
        "percent",
        "proportion",
        "rate_summary",
    } <= exported
    assert all(hasattr(complications.ctcae, name) for name in exported)
