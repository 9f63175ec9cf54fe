"""Pure-Python core of the complication domain: CTCAE v5.0 catalogue and grading, onset timing,
CIRSE/SIR classes and rate arithmetic. Standard library only (openpyxl is imported lazily by the
.xlsx reader); nothing here may import Django, so the rules can be tested and reused alone.
"""

from .catalogue import (
    GRADES,
    CatalogueError,
    Term,
    iter_clauses,
    load_curated_catalogue,
    read_ctcae_csv,
    read_ctcae_xlsx,
    term_from_record,
    term_to_record,
)
from .classification import OutcomeFacts, cirse_grade, sir_class
from .clauses import GENERIC_CLAUSES
from .compiling import CompiledClause, checklist, clause_kind, compile_term
from .coverage import (
    CoverageReport,
    ReachedClause,
    TermCoverage,
    coverage_report,
    format_report,
)
from .evaluation import HEMOGLOBIN_LLN_G_DL
from .facts import (
    ADL,
    FACT_NAMES,
    INTERVENTIONS,
    SYMPTOMS,
    Facts,
    FactsError,
    normalise_clause,
    parse_facts,
)
from .grading import MAJOR_GRADE, GradeResult, GradingError, Match, grade, severity_for
from .messages import Message, english_texts, render
from .rates import percent, proportion, rate_summary, wilson_interval
from .timing import (
    DELAYED,
    EARLY,
    EARLY_PERIOD,
    PER_PROCEDURAL,
    WINDOWS,
    Timing,
    TimingError,
    classify_onset,
)

__all__ = [
    "ADL",
    "DELAYED",
    "EARLY",
    "EARLY_PERIOD",
    "FACT_NAMES",
    "GENERIC_CLAUSES",
    "GRADES",
    "HEMOGLOBIN_LLN_G_DL",
    "MAJOR_GRADE",
    "INTERVENTIONS",
    "PER_PROCEDURAL",
    "SYMPTOMS",
    "WINDOWS",
    "CatalogueError",
    "CompiledClause",
    "CoverageReport",
    "Facts",
    "FactsError",
    "GradeResult",
    "GradingError",
    "Match",
    "Message",
    "OutcomeFacts",
    "ReachedClause",
    "Term",
    "TermCoverage",
    "Timing",
    "TimingError",
    "checklist",
    "cirse_grade",
    "english_texts",
    "classify_onset",
    "clause_kind",
    "compile_term",
    "coverage_report",
    "format_report",
    "grade",
    "iter_clauses",
    "load_curated_catalogue",
    "normalise_clause",
    "parse_facts",
    "percent",
    "proportion",
    "rate_summary",
    "read_ctcae_csv",
    "render",
    "read_ctcae_xlsx",
    "severity_for",
    "sir_class",
    "term_from_record",
    "term_to_record",
    "wilson_interval",
]
