"""The grading's rationales, warnings and refusals in the interface's language.

What is shown is translated; what is stored is not: a complication keeps its rationale in
English (the core's rendering), so that regrading, exports and the audit trail do not depend on
the language of whoever saved it. Refusals are never stored and are always translated.

The pure core (``complications.ctcae``) may not call gettext, so it returns structured messages
and renders them through a translate function; this module supplies gettext. Each English text
the core may look up is marked below for ``makemessages`` (context "ctcae grading", so that short
labels such as "mild" or "no" keep their own translations); a test checks that the list matches
the core's texts.
"""

from __future__ import annotations

import dataclasses

from django.utils import translation
from django.utils.translation import pgettext, pgettext_lazy

from complications import ctcae
from complications.models import ComplicationEvent, CtcaeTerm
from complications.term_translations import clause_labels

CONTEXT = "ctcae grading"

MARKED = (
    pgettext_lazy("ctcae grading", "Grade %(grade)s: %(clauses)s"),
    pgettext_lazy("ctcae grading", '"%(clause)s" (%(facts)s)'),
    pgettext_lazy(
        "ctcae grading",
        '"%(clause)s" (%(facts)s; assuming "%(qualifier)s", which no fact records)',
    ),
    pgettext_lazy("ctcae grading", '"%(clause)s" (ticked in the checklist)'),
    pgettext_lazy(
        "ctcae grading",
        'Grade %(grade)s "%(clause)s" reads the same facts and differs only by "%(qualifier)s": '
        "tick it in the checklist if it applies",
    ),
    pgettext_lazy("ctcae grading", "%(fact)s: %(value)s"),
    pgettext_lazy("ctcae grading", "haemoglobin lower limit of normal %(lln)s g/dL for %(sex)s"),
    pgettext_lazy("ctcae grading", "No clause of %(term)s uses the recorded %(fact)s."),
    pgettext_lazy("ctcae grading", '"%(clause)s" is not a clause of %(term)s; it was ignored.'),
    pgettext_lazy(
        "ctcae grading",
        "Sex unknown: the haemoglobin lower limit of normal was taken as %(lln)s g/dL.",
    ),
    pgettext_lazy(
        "ctcae grading",
        "The facts record death, but %(term)s has no grade 5; it has grades %(grades)s. "
        "Record the death under a term that has grade 5 (e.g. Death NOS).",
    ),
    pgettext_lazy(
        "ctcae grading",
        "The facts record life-threatening consequences, but %(term)s has no grade 4; it has "
        "grades %(grades)s. Choose a term whose grades reach the event, or correct the facts.",
    ),
    pgettext_lazy(
        "ctcae grading",
        "The facts record an urgent intervention, but %(term)s has no grade 4; it has grades "
        "%(grades)s. Choose a term whose grades reach the event, or correct the facts.",
    ),
    pgettext_lazy(
        "ctcae grading", "Facts fit no grade of %(term)s; it has grades %(grades)s: %(summary)s."
    ),
    pgettext_lazy("ctcae grading", 'Grade %(grade)s "%(clause)s" also needs %(facts)s.'),
    pgettext_lazy(
        "ctcae grading",
        'The ticked clause "%(clause)s" (grade %(grade)s) contradicts the recorded facts '
        "(%(facts)s).",
    ),
    pgettext_lazy("ctcae grading", "Untick the clause or correct the facts."),
    pgettext_lazy("ctcae grading", "symptoms"),
    pgettext_lazy("ctcae grading", "intervention"),
    pgettext_lazy("ctcae grading", "red cell units transfused"),
    pgettext_lazy("ctcae grading", "hospitalisation"),
    pgettext_lazy("ctcae grading", "ADL limitation"),
    pgettext_lazy("ctcae grading", "disabling"),
    pgettext_lazy("ctcae grading", "life-threatening consequences"),
    pgettext_lazy("ctcae grading", "death"),
    pgettext_lazy("ctcae grading", "temperature"),
    pgettext_lazy("ctcae grading", "fever duration"),
    pgettext_lazy("ctcae grading", "haemoglobin"),
    pgettext_lazy("ctcae grading", "yes"),
    pgettext_lazy("ctcae grading", "no"),
    pgettext_lazy("ctcae grading", "none"),
    pgettext_lazy("ctcae grading", "mild"),
    pgettext_lazy("ctcae grading", "moderate"),
    pgettext_lazy("ctcae grading", "severe"),
    pgettext_lazy("ctcae grading", "local"),
    pgettext_lazy("ctcae grading", "oral"),
    pgettext_lazy("ctcae grading", "intravenous"),
    pgettext_lazy("ctcae grading", "minimally invasive"),
    pgettext_lazy("ctcae grading", "invasive"),
    pgettext_lazy("ctcae grading", "urgent"),
    pgettext_lazy("ctcae grading", "instrumental"),
    pgettext_lazy("ctcae grading", "self-care"),
    pgettext_lazy("ctcae grading", "women"),
    pgettext_lazy("ctcae grading", "men"),
    pgettext_lazy("ctcae grading", "unknown sex"),
)


def translate(text: str) -> str:
    """One English text of the core in the active language."""
    return pgettext(CONTEXT, text)


def rationale(result: ctcae.GradeResult) -> str:
    return result.rationale_in(translate)


def warnings(result: ctcae.GradeResult) -> tuple[str, ...]:
    return result.warnings_in(translate)


def refusal(error: ctcae.GradingError) -> str:
    return error.render(translate)


def recorded_rationale(event: ComplicationEvent, *, sex: str | None) -> str:
    """A stored complication's rationale in the active language.

    The record keeps English; the facts are graded again to show the same explanation
    translated. Should the grade no longer come out as recorded (the catalogue or the rules
    changed since), the recorded text is shown as it is.
    """
    if translation.get_language() in (None, "en") or not event.facts:
        return event.grade_rationale
    from complications.services import core_term  # services imports this module

    core = core_term(event.term)
    try:
        result = ctcae.grade(core, ctcae.parse_facts(event.facts, core), sex=sex)
    except (ctcae.FactsError, ctcae.GradingError):
        return event.grade_rationale
    if result.grade != event.auto_grade:
        return event.grade_rationale
    return with_term_clauses(
        ". ".join([result.rationale_in(translate), *result.warnings_in(translate)]), event.term
    )


def with_term_clauses(text: str, term: CtcaeTerm | None) -> str:
    """``text`` with the term's clauses quoted in it in the reader's words, where the
    department translated them (``CtcaeTermTranslation.clauses``); longest clauses first, so
    that a clause inside a longer one is not replaced on its own."""
    labels = clause_labels(term) if term is not None else {}
    for english in sorted(labels, key=len, reverse=True):
        text = text.replace(english, labels[english])
    return text


def in_active_language(
    result: ctcae.GradeResult, *, term: CtcaeTerm | None = None
) -> ctcae.GradeResult:
    """The result with its rationale and warnings in the active language (with ``term``, its
    translated clauses too)."""
    return dataclasses.replace(
        result,
        rationale=with_term_clauses(rationale(result), term),
        warnings=tuple(with_term_clauses(w, term) for w in warnings(result)),
    )
