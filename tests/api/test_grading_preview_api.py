"""POST /api/v1/grading/preview/: grade facts for a term without saving anything."""

from __future__ import annotations

import pytest

from complications.models import ComplicationEvent

URL = "/api/v1/grading/preview/"


@pytest.mark.django_db
class TestPreview:
    def test_it_returns_the_grade_severity_rationale_and_the_terms_grades(self, api):
        response = api.post(
            URL, {"term": "10048038", "facts": {"intervention": "iv"}}, format="json"
        )

        assert response.status_code == 200, response.json()
        body = response.json()
        assert {"grade", "severity", "rationale", "grades_available"} <= set(body)
        assert (body["grade"], body["severity"]) == (3, "major")
        assert body["grades_available"] == [1, 2, 3, 4, 5]
        assert "IV antibiotic" in body["rationale"]
        assert body["matched"][0] == {
            "grade": 3,
            "clause": "IV antibiotic, antifungal, or antiviral intervention indicated",
            "source": "generic",
        }
        assert not ComplicationEvent.objects.exists()

    def test_it_warns_about_facts_the_term_ignores(self, api):
        response = api.post(
            URL,
            {"term": "10033425", "facts": {"symptoms": "moderate", "transfusion_units": 2}},
            format="json",
        )

        assert response.status_code == 200
        assert any(
            "red cell units transfused" in warning for warning in response.json()["warnings"]
        )

    def test_the_sex_sets_the_haemoglobin_lower_limit(self, api):
        facts = {"hemoglobin_g_dl": 12.5}

        female = api.post(URL, {"term": "10002272", "facts": facts, "sex": "female"}, format="json")
        male = api.post(URL, {"term": "10002272", "facts": facts, "sex": "male"}, format="json")

        assert female.status_code == 400  # 12.5 g/dL is normal for a woman: no grade
        assert male.status_code == 200 and male.json()["grade"] == 1

    def test_facts_that_fit_no_grade_are_a_400_naming_the_terms_grades(self, api):
        response = api.post(URL, {"term": "10061017", "facts": {"symptoms": "mild"}}, format="json")

        assert response.status_code == 400
        assert "grades 2, 3, 4, 5" in response.json()["facts"][0]

    def test_an_unknown_term_is_a_400(self, api):
        response = api.post(URL, {"term": "12345678", "facts": {}}, format="json")

        assert response.status_code == 400
        assert "term" in response.json()

    @pytest.mark.parametrize(
        "body",
        [
            {"term": "10048038", "facts": {"intervention": "prayer"}},
            {"term": "10048038", "facts": {"mood": "bad"}},
            {"term": "10048038", "facts": []},
            {"term": "10048038", "facts": {"intervention": "iv"}, "sex": "other"},
            {"facts": {"intervention": "iv"}},
            {"term": {"code": "10048038"}},
        ],
    )
    def test_a_bad_request_is_a_400_never_a_500(self, api, body):
        assert api.post(URL, body, format="json").status_code == 400

    def test_a_read_only_role_may_preview(self, head_api):
        response = head_api.post(
            URL, {"term": "10033425", "facts": {"symptoms": "severe"}}, format="json"
        )

        assert response.status_code == 200
        assert response.json()["grade"] == 3

    def test_an_anonymous_request_is_a_401(self, client, db):
        response = client.post(URL, {"term": "10048038"}, content_type="application/json")

        assert response.status_code == 401
