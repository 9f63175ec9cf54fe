"""How much of each term the recorded facts reach, and what is left to the term's checklist.

The report is the evidence behind the grading engine: every clause must be reachable, either by
the generic facts and measurements or by naming it in ``criteria`` (the checklist). A clause that
neither can reach (empty text after normalisation) is listed as unreachable, never hidden.
Clauses repeated later in the same term are counted apart ("repeated"): they are reached where
they first appear, which is the only place their text can name. Clauses that read the same facts
as a lower grade's clause and differ from it only by a qualifier ("qualified": Hypotension's
"Medical intervention indicated" beside "Non-urgent medical intervention indicated") are reached
by the checklist; the facts give the lower grade.

Per term, the report also lists the clauses the facts reach (with any qualifier they assume) and
those only the checklist reaches, so a reviewer can check each mapping against the CTCAE text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .catalogue import Term
from .compiling import compile_term
from .facts import normalise_clause


@dataclass(frozen=True)
class ReachedClause:
    """A clause of a term: its grade, its CTCAE text, and the qualifier the facts assume (or, for
    a qualified clause, the qualifier that sets it apart from ``same_facts_as``), if any."""

    grade: int
    text: str
    qualifier: str | None = None
    same_facts_as: str | None = None


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
    qualified: int = 0
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
    qualified: int = 0
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
        counts = dict.fromkeys(("generic", "measurement", "checklist", "repeated", "qualified"), 0)
        reached: list[ReachedClause] = []
        checklist_only: list[ReachedClause] = []
        compiled = compile_term(term)
        for item in compiled:
            counts[item.kind] += 1
            if item.kind in ("generic", "measurement"):
                reached.append(ReachedClause(item.grade, item.text, item.qualifier))
            elif item.kind == "checklist":
                checklist_only.append(ReachedClause(item.grade, item.text))
            elif item.kind == "qualified":
                checklist_only.append(
                    ReachedClause(item.grade, item.text, item.qualifier, item.same_facts_as)
                )
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
                qualified=counts["qualified"],
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
        qualified=sum(row.qualified for row in rows),
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
        f"{'measure':>7}  {'checklist':>9}  {'repeated':>8}  {'qualified':>9}"
    )
    lines = [header, "-" * len(header)]
    for row in report.terms:
        lines.append(
            f"{row.code:<8}  {row.name:<{name_width}}  {row.clauses:>7}  {row.generic:>7}  "
            f"{row.measurement:>7}  {row.checklist:>9}  {row.repeated:>8}  {row.qualified:>9}"
        )
        if clauses:
            lines.extend(_clause_lines(row))
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<8}  {f'{len(report.terms)} terms':<{name_width}}  {report.clauses:>7}  "
        f"{report.generic:>7}  {report.measurement:>7}  {report.checklist:>9}  "
        f"{report.repeated:>8}  {report.qualified:>9}"
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
            if item.same_facts_as:
                assumed = (
                    f' (same facts as "{item.same_facts_as}" but for "{item.qualifier}": '
                    "applies when ticked)"
                )
            elif item.qualifier:
                assumed = f' (assuming "{item.qualifier}")'
            else:
                assumed = ""
            lines.append(f"      grade {item.grade}: {item.text}{assumed}")
    return lines
