"""Every free-text field has a length limit, checked at every door: the API (a 400 naming the
field), the pages' forms and the services themselves."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import models

from complications.models import ComplicationEvent
from complications.services import complication_record
from registry.models import Department, FollowUp, Patient, Procedure
from registry.services import follow_up_create
from tests import factories as f

TWO_MB = "x" * (2 * 1024 * 1024)


@pytest.fixture
def procedure(department):
    proc = f.procedure(f.patient(department))
    f.fracture(proc)
    return proc


def complication_body(proc, **overrides):
    return {
        "procedure": proc.pk,
        "term": f.WOUND_INFECTION[0],
        "onset_at": "2020-01-09T08:00:00+01:00",
        "facts": {"intervention": "iv"},
        **overrides,
    }


# The free-text fields users write (not derived text such as the grade rationale).
FREE_TEXT = [
    (Department, "name"),
    (Department, "code"),
    (Patient, "registry_id"),
    (Procedure, "operator"),
    (FollowUp, "notes"),
    (ComplicationEvent, "specify"),
    (ComplicationEvent, "override_reason"),
    (ComplicationEvent, "description"),
]


@pytest.mark.parametrize(("model", "name"), FREE_TEXT)
def test_every_free_text_field_has_a_length_limit_the_model_checks(model, name):
    field = model._meta.get_field(name)
    assert field.max_length
    assert isinstance(field, models.CharField) or any(
        getattr(v, "limit_value", None) == field.max_length for v in field.validators
    ), "a TextField's max_length is not checked by full_clean without its validator"


@pytest.mark.django_db
class TestApi:
    @pytest.mark.parametrize("name", ["description", "override_reason", "specify"])
    def test_a_two_megabyte_complication_text_is_a_400_naming_the_field(self, api, procedure, name):
        body = complication_body(procedure, **{name: TWO_MB})
        if name == "override_reason":
            body["grade_override"] = 3
        response = api.post("/api/v1/complications/", body, format="json")
        assert response.status_code == 400
        assert name in response.json()
        assert not ComplicationEvent.objects.exists()

    def test_a_two_megabyte_follow_up_note_is_a_400_naming_the_field(self, api, procedure):
        response = api.post(
            "/api/v1/follow-ups/",
            {
                "procedure": procedure.pk,
                "contact_at": "2020-01-07T10:00:00+01:00",
                "kind": "clinical",
                "notes": TWO_MB,
            },
            format="json",
        )
        assert response.status_code == 400
        assert "notes" in response.json()

    def test_a_text_at_its_limit_is_accepted(self, api, procedure):
        limit = ComplicationEvent._meta.get_field("description").max_length
        response = api.post(
            "/api/v1/complications/",
            complication_body(procedure, description="d" * limit),
            format="json",
        )
        assert response.status_code == 201


@pytest.mark.django_db
class TestServices:
    def test_the_complication_service_refuses_a_description_too_long(self, procedure):
        with pytest.raises(ValidationError) as refused:
            complication_record(
                procedure=procedure,
                term=f.WOUND_INFECTION[0],
                facts={"intervention": "iv"},
                onset_at=procedure.ended_at,
                description="d" * 4001,
            )
        assert "description" in refused.value.message_dict

    def test_the_follow_up_service_refuses_notes_too_long(self, procedure):
        with pytest.raises(ValidationError) as refused:
            follow_up_create(
                procedure=procedure,
                contact_at=procedure.ended_at,
                kind="clinical",
                notes="n" * 4001,
            )
        assert "notes" in refused.value.message_dict


@pytest.mark.django_db
def test_the_follow_up_form_refuses_notes_too_long(client, radiologist, procedure):
    client.force_login(radiologist)
    response = client.post(
        f"/cases/{procedure.pk}/follow-ups/",
        {"contact_at": "2020-01-07T10:00", "kind": "clinical", "notes": "n" * 4001},
    )
    assert response.status_code == 200
    assert "notes" in response.context["follow_up_form"].errors
    assert not FollowUp.objects.exists()
