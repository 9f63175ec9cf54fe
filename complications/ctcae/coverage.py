"""How much of each term the recorded facts reach, and what is left to the term's checklist.

The report is the evidence behind the grading engine: every clause must be reachable, either by
the generic facts and measurements or by naming it in ``criteria`` (the checklist). A clause that
neither can reach (empty text after normalisation) is listed as unreachable, never hidden.
Clauses repeated later in the same term are counted apart ("repeated"): they are reached where
they first appear, which is the only place their text can name.

Per term, the report also lists the clauses the facts reach (with any qualifier they assume) and
those only the checklist reaches, so a reviewer can check each mapping against the CTCAE text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .catalogue import Term
from .facts import normalise_clause
from .grading import compile_term


@dataclass(frozen=True)
class ReachedClause:
    """A clause of a term: its grade, its CTCAE text, and the qualifier the facts assume, if any."""

    grade: int
    text: str
    qualifier: str | None = None


@dataclass(frozen=True)
class TermCoverage:
    """Clause counts of one term by how they are reached, and the clauses themselves."""

    code: str
    name: str
    clauses: int
    generic: int
    measurement: int
    checklist: int
    repeated: int
    reached: tuple[ReachedClause, ...] = ()
    checklist_only: tuple[ReachedClause, ...] = ()


@dataclass(frozen=True)
class CoverageReport:
    """Per-term counts, totals, and the (code, grade, clause) triples nothing can reach."""

    terms: tuple[TermCoverage, ...]
    clauses: int
    generic: int
    measurement: int
    checklist: int
    repeated: int
    unreachable: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def reached_by_facts(self) -> int:
        """Clauses decided by facts alone (generic or measurement)."""
        return self.generic + self.measurement


def coverage_report(terms: Iterable[Term]) -> CoverageReport:
    """Count every clause of every term by kind; list the clauses criteria cannot name."""
    rows: list[TermCoverage] = []
    unreachable: list[tuple[str, int, str]] = []
    for term in terms:
        counts = {"generic": 0, "measurement": 0, "checklist": 0, "repeated": 0}
        reached: list[ReachedClause] = []
        checklist_only: list[ReachedClause] = []
        compiled = compile_term(term)
        for item in compiled:
            counts[item.kind] += 1
            if item.kind in ("generic", "measurement"):
                reached.append(ReachedClause(item.grade, item.text, item.qualifier))
            elif item.kind == "checklist":
                checklist_only.append(ReachedClause(item.grade, item.text))
            # criteria name clauses by their normalised text; an empty one cannot be named
            if item.kind == "checklist" and not normalise_clause(item.text):
                unreachable.append((term.code, item.grade, item.text))
        rows.append(
            TermCoverage(
                code=term.code,
                name=term.name,
                clauses=len(compiled),
                generic=counts["generic"],
                measurement=counts["measurement"],
                checklist=counts["checklist"],
                repeated=counts["repeated"],
                reached=tuple(reached),
                checklist_only=tuple(checklist_only),
            )
        )
    return CoverageReport(
        terms=tuple(rows),
        clauses=sum(row.clauses for row in rows),
        generic=sum(row.generic for row in rows),
        measurement=sum(row.measurement for row in rows),
        checklist=sum(row.checklist for row in rows),
        repeated=sum(row.repeated for row in rows),
        unreachable=unreachable,
    )


def format_report(report: CoverageReport, *, clauses: bool = False) -> str:
    """A plain-text table: one line per term, then totals and any unreachable clauses.

    With ``clauses``, each term's line is followed by its clauses, grouped into those the facts
    reach and those only the checklist reaches.
    """
    name_width = max([len("term"), *(len(row.name) for row in report.terms)])
    header = (
        f"{'code':<8}  {'term':<{name_width}}  {'clauses':>7}  {'generic':>7}  "
        f"{'measure':>7}  {'checklist':>9}  {'repeated':>8}"
    )
    lines = [header, "-" * len(header)]
    for row in report.terms:
        lines.append(
            f"{row.code:<8}  {row.name:<{name_width}}  {row.clauses:>7}  {row.generic:>7}  "
            f"{row.measurement:>7}  {row.checklist:>9}  {row.repeated:>8}"
        )
        if clauses:
            lines.extend(_clause_lines(row))
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<8}  {f'{len(report.terms)} terms':<{name_width}}  {report.clauses:>7}  "
        f"{report.generic:>7}  {report.measurement:>7}  {report.checklist:>9}  "
        f"{report.repeated:>8}"
    )
    share = report.reached_by_facts / report.clauses if report.clauses else 0.0
    lines.append(f"Reached by facts: {report.reached_by_facts} of {report.clauses} ({share:.1%}).")
    if report.unreachable:
        lines.append("Unreachable clauses:")
        lines.extend(
            f"  {code} grade {grade}: {text!r}" for code, grade, text in report.unreachable
        )
    else:
        lines.append("Unreachable clauses: none.")
    return "\n".join(lines)


def _clause_lines(row: TermCoverage) -> list[str]:
    lines: list[str] = []
    for title, items in (("reached by facts", row.reached), ("checklist only", row.checklist_only)):
        if not items:
            continue
        lines.append(f"    {title}:")
        for item in items:
            assumed = f' (assuming "{item.qualifier}")' if item.qualifier else ""
            lines.append(f"      grade {item.grade}: {item.text}{assumed}")
    return lines
