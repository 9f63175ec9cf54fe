"""The round trip: the demo cohort exported in the import layout, imported into
an empty department, gives the same cohort, rates and grades; importing the
same file again changes nothing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from complications import exports
from complications.demo import build_cohort
from complications.imports import import_file, import_reason
from complications.models import ComplicationEvent
from complications.stats.cohort import cohort
from complications.stats.rates import rates
from registry.models import Department, Patient

pytestmark = pytest.mark.django_db


def _grades(department: Department) -> Counter:
    return Counter(
        ComplicationEvent.objects.filter(procedure__patient__department=department).values_list(
            "procedure__patient__registry_id",
            "term__code",
            "window",
            "grade",
            "auto_grade",
            "outcome",
        )
    )


def _strip(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k not in ("filters", "department")}


def test_the_demo_cohort_comes_back_with_the_same_rates_cohort_and_grades(admin_user, tmp_path):
    source = Department.objects.create(code="SRC", name="Source", time_zone="Europe/Paris")
    target = Department.objects.create(code="DST", name="Target", time_zone="Europe/Paris")
    build_cohort(source)
    selection = exports.Selection.for_user(admin_user, {"department": source.pk})
    path = Path(tmp_path) / "layout.xlsx"
    exports.exporter_for("import", selection).write(path)

    report = import_file(
        department=target, path=path, commit=True, reason=import_reason(None, path.name)
    )

    assert report.errors == []
    assert report.committed
    assert report.summary["patients"]["create"] == Patient.objects.filter(department=source).count()
    assert _grades(target) == _grades(source)
    for unit in ("fracture", "procedure"):
        assert _strip(rates(user=admin_user, unit=unit, department=target.pk)) == _strip(
            rates(user=admin_user, unit=unit, department=source.pk)
        )
    assert _strip(cohort(user=admin_user, department=target.pk)) == _strip(
        cohort(user=admin_user, department=source.pk)
    )

    again = import_file(department=target, path=path, commit=True, reason="again")

    assert again.errors == []
    assert all(counts["create"] == 0 and counts["update"] == 0 for counts in again.summary.values())
    assert sum(counts["unchanged"] for counts in again.summary.values()) > 300
