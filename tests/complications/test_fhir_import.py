"""The FHIR round trip: a Bundle exported by one department imports, through the
services, into an empty department with the same rates, cohort and grades (the
grades derived again by the grading service from the exported facts)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from django.core.management import CommandError, call_command

from complications.demo import build_cohort
from complications.exports import Selection
from complications.exports.fhir import fhir_bundle_chunks
from complications.fhir_import import IMPORTED_OVERRIDE_REASON
from complications.models import ComplicationEvent
from complications.services import complication_override
from complications.stats.cohort import cohort
from complications.stats.rates import rates
from registry.models import Department, FollowUp, Patient
from tests.fhir_schema import assert_valid


def export(user, department) -> dict:
    selection = Selection.for_user(user, {"department": department.pk})
    return json.loads("".join(fhir_bundle_chunks(selection)))


def grades(department) -> Counter:
    return Counter(
        ComplicationEvent.objects.filter(procedure__patient__department=department).values_list(
            "term_id",
            "specify",
            "window",
            "auto_grade",
            "grade_override",
            "grade",
            "outcome",
            "relatedness",
            "during_procedure",
            "onset_date",
            "onset_at",
            "cirse_grade",
            "sir_class",
        )
    )


def numbers(user, department) -> dict:
    return {
        "rates": {
            unit: rates(user=user, unit=unit, department=department.pk)
            for unit in ("fracture", "procedure", "patient")
        },
        "cohort": cohort(user=user, department=department.pk),
        "grades": grades(department),
        "contacts": FollowUp.objects.filter(procedure__patient__department=department).count(),
    }


@pytest.mark.django_db
def test_a_bundle_imports_into_an_empty_department_with_the_same_numbers(
    department, admin_user, head, tmp_path
):
    build_cohort(department)
    event = ComplicationEvent.objects.filter(auto_grade__lt=5).first()
    complication_override(event=event, grade=event.auto_grade + 1, reason="Reviewed at the M&M")
    identified, pseudonymised = export(admin_user, department), export(head, department)
    assert "birthDate" not in json.dumps(pseudonymised)
    expected = numbers(admin_user, department)
    assert expected["grades"] and expected["contacts"]
    for code, bundle in (("C", identified), ("D", pseudonymised)):
        target = Department.objects.create(code=code, name=code, time_zone=department.time_zone)
        path = tmp_path / f"{code}.json"
        path.write_text(json.dumps(bundle), encoding="utf-8")
        call_command("registry_fhir_import", str(path), "--department", code)
        assert numbers(admin_user, target) == expected, code
    # the identified Bundle brings the registry ids and birth dates back
    assert sorted(
        Patient.objects.filter(department__code="C").values_list("registry_id", "birth_date")
    ) == sorted(
        Patient.objects.filter(department=department).values_list("registry_id", "birth_date")
    )
    # overrides come back with their reason (only an identified export carries it)
    overridden = ComplicationEvent.objects.filter(grade_override__isnull=False)
    assert overridden.filter(procedure__patient__department=department).exists()
    assert set(
        overridden.filter(procedure__patient__department__code="C").values_list(
            "override_reason", flat=True
        )
    ) == set(
        overridden.filter(procedure__patient__department=department).values_list(
            "override_reason", flat=True
        )
    )
    assert set(
        overridden.filter(procedure__patient__department__code="D").values_list(
            "override_reason", flat=True
        )
    ) == {IMPORTED_OVERRIDE_REASON}
    # and the imported department exports a valid Bundle of the same resources
    again = export(admin_user, Department.objects.get(code="C"))
    assert_valid(again)
    assert Counter(e["resource"]["resourceType"] for e in again["entry"]) == Counter(
        e["resource"]["resourceType"] for e in identified["entry"]
    )


@pytest.mark.django_db
def test_a_bundle_that_is_not_the_registrys_imports_nothing(department, tmp_path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"resourceType": "Patient", "id": "x"}), encoding="utf-8")
    with pytest.raises(CommandError, match="Not a FHIR Bundle"):
        call_command("registry_fhir_import", str(path), "--department", department.code)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:1",
                "resource": {"resourceType": "Patient", "id": "1", "gender": "male"},
            },
            {
                "fullUrl": "urn:uuid:2",
                "resource": {
                    "resourceType": "Procedure",
                    "id": "2",
                    "status": "completed",
                    "subject": {"reference": "urn:uuid:1"},
                    "performedPeriod": {
                        "start": "2024-01-01T10:00:00+01:00",
                        "end": "2024-01-01T11:00:00+01:00",
                    },
                },
            },
        ],
    }
    path.write_text(json.dumps(bundle), encoding="utf-8")
    with pytest.raises(CommandError, match="Nothing imported"):
        call_command("registry_fhir_import", str(path), "--department", department.code)
    assert not Patient.objects.exists()
    with pytest.raises(CommandError, match="No department"):
        call_command("registry_fhir_import", str(path), "--department", "nope")
