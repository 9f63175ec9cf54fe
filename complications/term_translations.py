"""CTCAE terms in the reader's language: names, grade texts and clauses from
``CtcaeTermTranslation`` where a department has translated them, the official English otherwise.

Only what is shown is translated: grading, the stored rationale, the criteria posted back and the
exports keep the official English text.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.utils import translation

from complications.models import CtcaeTerm, CtcaeTermTranslation


def active_language() -> str:
    return (translation.get_language() or "en").split("-")[0]


def translation_of(term: CtcaeTerm, language: str | None = None) -> CtcaeTermTranslation | None:
    """The term's translation into ``language`` (the active one by default), if any."""
    language = language or active_language()
    if language == "en":
        return None
    cached = getattr(term, "_translations_cache", None)
    if cached is None:
        cached = {t.language: t for t in term.translations.all()}
        term._translations_cache = cached  # type: ignore[attr-defined]
    return cached.get(language)


def term_name(term: CtcaeTerm, language: str | None = None) -> str:
    found = translation_of(term, language)
    return found.name if found else term.name


def grade_texts(term: CtcaeTerm) -> dict[int, str | None]:
    """The term's grades (``None`` where the grade does not exist), translated where given."""
    found = translation_of(term)
    grades = term.grades
    if found is None:
        return grades
    return {
        g: (getattr(found, f"grade_{g}") or text) if text is not None else None
        for g, text in grades.items()
    }


def clause_labels(term: CtcaeTerm) -> dict[str, str]:
    """English clause -> the reader's words for it (only the translated ones)."""
    found = translation_of(term)
    return dict(found.clauses) if found else {}


def names_by_code(codes: Iterable[str], language: str | None = None) -> dict[str, str]:
    """Translated names of these terms (one query); a code without a translation is absent."""
    language = language or active_language()
    if language == "en":
        return {}
    rows = CtcaeTermTranslation.objects.filter(language=language, term_id__in=set(codes))
    return dict(rows.values_list("term_id", "name"))


def names_in_language(language: str | None = None) -> dict[str, str]:
    """Every translated term name of the language (code -> name; empty in English)."""
    language = language or active_language()
    if language == "en":
        return {}
    rows = CtcaeTermTranslation.objects.filter(language=language)
    return dict(rows.values_list("term_id", "name"))


def search(query: str) -> QuerySet[CtcaeTerm]:
    """Terms whose English or translated name contains ``query`` (any language)."""
    return CtcaeTerm.objects.filter(
        Q(name__icontains=query) | Q(translations__name__icontains=query)
    ).distinct()
