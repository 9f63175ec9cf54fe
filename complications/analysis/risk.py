"""Risk-adjusted observed/expected ratios of major complications per department and per
operator (``/api/v1/stats/risk-adjusted/``).

The model (``ctcae.risk``) is fitted on every selected fracture of the registry, whoever
asks: the outcome is a major complication (grade 3-5, any window) concerning the fracture;
the case mix is age at the procedure, sex, fracture type, site, the number of fractures
treated in the procedure and cement augmentation. Departments the user does not belong to
are anonymised unless the user is a superuser or a registry coordinator; operators are
listed for the departments shown by name only.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Unpack

import numpy as np
from django.db.models import Count, Exists, OuterRef
from django.utils.translation import gettext as _

from complications.ctcae import MAJOR_GRADE
from complications.ctcae.risk import MIN_EPV, fit_risk_model, observed_expected
from complications.models import ComplicationEvent
from complications.quality import SYSTEM
from complications.stats.selection import Selection, selected_fractures
from registry.models import Department, Fracture, FractureType, Sex, Site
from registry.roles import is_registry_coordinator
from registry.scoping import visible_departments

COVARIATES = (
    "age (years)",
    "male sex",
    *(f"type: {t}" for t in FractureType.values[1:]),
    *(f"site: {s}" for s in Site.values[1:]),
    "fractures treated in the procedure",
    "cement augmentation",
)


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _cases(**filters: Unpack[Selection]) -> list[tuple[Any, ...]]:
    fractures = selected_fractures(user=SYSTEM, **filters)
    major = ComplicationEvent.fractures.through.objects.filter(
        fracture_id=OuterRef("pk"), complicationevent__grade__gte=MAJOR_GRADE
    )
    per_procedure = (
        Fracture.objects.filter(procedure_id=OuterRef("procedure_id"))
        .values("procedure_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return list(
        fractures.annotate(major=Exists(major), treated=per_procedure)
        .values_list(
            "procedure__patient__department_id",
            "procedure__operator",
            "procedure__patient__birth_date",
            "procedure__started_on",
            "procedure__patient__sex",
            "type",
            "site",
            "treated",
            "cement_augmented",
            "major",
        )
        .iterator(chunk_size=5000)
    )


def _design(rows: list[tuple[Any, ...]]) -> tuple[np.ndarray, np.ndarray]:
    types, sites = FractureType.values[1:], Site.values[1:]
    x = np.zeros((len(rows), len(COVARIATES)))
    y = np.zeros(len(rows))
    for i, (_dep, _op, born, on, sex, ftype, site, treated, cement, major) in enumerate(rows):
        age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
        x[i, 0] = age
        x[i, 1] = sex == Sex.MALE
        for j, t in enumerate(types):
            x[i, 2 + j] = ftype == t
        for j, s in enumerate(sites):
            x[i, 2 + len(types) + j] = site == s
        x[i, -2] = treated or 1
        x[i, -1] = bool(cement)
        y[i] = bool(major)
    return x, y


def _group_rows(
    groups: dict[Any, list[int]], y: np.ndarray, risk: np.ndarray
) -> dict[Any, dict[str, Any]]:
    result = {}
    for key, indices in groups.items():
        observed = int(y[indices].sum())
        expected = float(risk[indices].sum())
        ratio, low, high = observed_expected(observed, expected)
        result[key] = {
            "cases": len(indices),
            "observed": observed,
            "expected": _r(expected, 2),
            "oe": _r(ratio, 3),
            "ci95": [_r(low, 3), _r(high, 3)],
        }
    return result


def risk_adjusted(*, user: Any, **filters: Unpack[Selection]) -> dict[str, Any]:
    filters.pop("department", None)
    rows = _cases(**filters)
    x, y = _design(rows)
    model = fit_risk_model(x, y)
    answer: dict[str, Any] = {
        "outcome": "major",
        "unit": "fracture",
        "covariates": list(COVARIATES),
        "model": {
            "cases": model.cases,
            "events": model.events,
            "parameters": model.parameters,
            "events_per_variable": _r(model.epv, 1),
            "min_events_per_variable": MIN_EPV,
            "enough_events": model.enough_events,
            "c_statistic": _r(model.c_statistic, 3),
            "hosmer_lemeshow": None
            if model.hosmer_lemeshow_chi2 is None
            else {
                "chi2": _r(model.hosmer_lemeshow_chi2, 2),
                "df": model.hosmer_lemeshow_df,
                "p": _r(model.hosmer_lemeshow_p, 3),
            },
        },
        "message": None,
        "departments": [],
        "operators": [],
    }
    if not model.enough_events or model.expected is None:
        answer["message"] = _(
            "Not enough events for a risk-adjusted comparison: %(events)s major complication(s) "
            "for %(parameters)s case-mix terms (%(epv)s events per variable; at least %(min)s "
            "are needed)."
        ) % {
            "events": model.events,
            "parameters": model.parameters,
            "epv": _r(model.epv, 1),
            "min": int(MIN_EPV),
        }
        return answer
    by_department: dict[int, list[int]] = defaultdict(list)
    by_operator: dict[tuple[int, str], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_department[row[0]].append(i)
        by_operator[(row[0], (row[1] or "").strip())].append(i)
    named = is_registry_coordinator(user)
    own = set(visible_departments(user).values_list("pk", flat=True))
    codes = dict(Department.objects.values_list("pk", "code"))
    departments = _group_rows(by_department, y, model.expected)
    others = 0
    for pk, values in sorted(departments.items(), key=lambda item: (-item[1]["cases"], item[0])):
        shown = named or pk in own
        if not shown:
            others += 1
        answer["departments"].append(
            {
                "department": pk if shown else None,
                "label": codes[pk] if shown else _("Other department %(n)s") % {"n": others},
                **values,
            }
        )
    operators = _group_rows(
        {key: idx for key, idx in by_operator.items() if named or key[0] in own},
        y,
        model.expected,
    )
    for (pk, operator), values in sorted(
        operators.items(), key=lambda i: (codes[i[0][0]], i[0][1])
    ):
        answer["operators"].append(
            {
                "department": pk,
                "label": codes[pk],
                "operator": operator or _("(not recorded)"),
                **values,
            }
        )
    return answer
