"""The points where registry's writes hand over to the apps built on it.

``complications`` depends on ``registry``, never the reverse (docs/architecture.md):
a clinical write here must still re-derive the complications it moves and refresh
the outcome summary, so it calls a hook point declared below, and
``complications`` fills each one in at start-up (``ComplicationsConfig.ready``).

Each point has exactly one implementation and is typed by its declaration: the
declaring function's signature is the contract, its body is never run. Calling a
point nobody filled raises ``HookNotConnected``: a skipped re-derivation or
summary refresh would silently leave wrong grades or rates behind. Hooks run
synchronously in the caller's transaction, so a refusal they raise rolls the
whole write back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q, QuerySet

if TYPE_CHECKING:
    from registry.models import Department, Patient, Procedure

P = ParamSpec("P")
R = TypeVar("R")


class HookNotConnected(ImproperlyConfigured):
    """A hook point was called before any app filled it in."""


class Hook(Generic[P, R]):
    """One named hook point with the signature of its declaration."""

    def __init__(self, declaration: Callable[P, R]) -> None:
        self.name = declaration.__name__
        self.__doc__ = declaration.__doc__
        self._implementation: Callable[P, R] | None = None

    def connect(self, implementation: Callable[P, R]) -> Callable[P, R]:
        """Fill the point in; a second, different implementation is refused."""
        if self._implementation is not None and self._implementation is not implementation:
            raise ImproperlyConfigured(f"The hook {self.name!r} is already connected.")
        self._implementation = implementation
        return implementation

    @property
    def connected(self) -> bool:
        return self._implementation is not None

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if self._implementation is None:
            raise HookNotConnected(
                f"The hook {self.name!r} has no implementation: is 'complications' "
                "in INSTALLED_APPS?"
            )
        return self._implementation(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Hook {self.name}{'' if self.connected else ' (not connected)'}>"


def hook(declaration: Callable[P, R]) -> Hook[P, R]:
    return Hook(declaration)


@hook
def outcomes_refresh(*, procedure_ids: list[int], months: Iterable[tuple[int, date]]) -> None:
    """Recompute the outcome summary of these procedures and of the months they
    (and ``months``) are counted in."""


@hook
def outcomes_months(*, procedure_ids: list[int]) -> set[tuple[int, date]]:
    """The summary months these procedures are counted in (read before a deletion)."""
    raise NotImplementedError


@hook
def stats_changed() -> None:
    """Tell open dashboards that the figures changed: called inside the write's transaction,
    so the change becomes visible with the write (and rolls back with it)."""


@hook
def patient_grading_changed(*, patient: Patient, field: str) -> None:
    """Re-derive the patient's complications after ``field`` (sex, department) changed;
    refuse with a ``ValidationError`` under ``field`` when one no longer fits."""


@hook
def procedure_timing_changed(*, procedure: Procedure, field: str | None) -> None:
    """Re-derive the procedure's complications after its times or patient changed;
    refusals go under ``field``, else under the complications' own fields."""


@hook
def department_zone_changed(*, department: Department) -> None:
    """Re-derive the department's complications after its time zone changed."""


@hook
def all_fractures_records(*, procedure_ids: list[int]) -> list[QuerySet[Any]]:
    """Other apps' records of these procedures that concern all their fractures
    (``all_fractures=True``, a ``fractures`` relation), to link a new fracture to."""
    raise NotImplementedError


@hook
def case_complications(*, procedure: Procedure) -> list[Any]:
    """The procedure's complications as its case page lists and draws them (term,
    grade, window, onset, fractures, and the grading rationale as ``rationale_shown``)."""
    raise NotImplementedError


@hook
def follow_up_evidence() -> tuple[Q, Q]:
    """Whether a fracture (``OuterRef("pk")``) was seen after the end of its procedure, and
    beyond 24 hours: a contact covering it, or a complication whose window shows it
    (docs/domain.md section 4; the rule is complications' counting rule)."""
    raise NotImplementedError


@hook
def latest_onset_day(*, patient: Patient) -> date | None:
    """The local day of the patient's latest complication onset (none without one): no onset
    may be recorded after the patient's death."""
    raise NotImplementedError
