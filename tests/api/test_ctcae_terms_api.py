"""GET /api/v1/ctcae/terms/: the catalogue with its grades and per-grade checklist."""

from __future__ import annotations

import pytest

from complications.ctcae import load_curated_catalogue

URL = "/api/v1/ctcae/terms/"


@pytest.mark.django_db
class TestTerms:
    def test_the_curated_catalogue_is_listed_paginated(self, api):
        body = api.get(URL).json()

        assert body["count"] == len(load_curated_catalogue())
        assert len(body["results"]) == 50 and body["next"]
        first = body["results"][0]
        assert {"code", "term", "soc", "grades"} <= set(first)
        assert set(first["grades"]) == {"1", "2", "3", "4", "5"}

    def test_a_grade_the_term_lacks_is_null(self, api):
        (bone,) = api.get(URL + "?search=10061017").json()["results"]

        assert bone["term"] == "Bone infection"
        assert bone["grades"]["1"] is None
        assert bone["grades"]["5"] == "Death"

    def test_search_matches_the_name_or_the_code(self, api):
        by_name = api.get(URL + "?search=wound infect").json()["results"]
        by_code = api.get(URL + "?search=1004803").json()["results"]

        assert [t["code"] for t in by_name] == ["10048038"]
        assert "10048038" in [t["code"] for t in by_code]

    def test_soc_filters_by_system_organ_class(self, api):
        results = api.get(URL + "?soc=infections&page_size=500").json()["results"]

        assert results and all(t["soc"] == "Infections and infestations" for t in results)

    def test_the_checklist_holds_the_clauses_facts_cannot_reach(self, api):
        (wound,) = api.get(URL + "?search=10048038").json()["results"]

        assert wound["checklist"]["1"] == ["Localized, local intervention indicated"]
        assert wound["checklist"]["3"] == []

    def test_one_term_by_its_code_carries_an_etag(self, api):
        response = api.get(URL + "10048038/")

        assert response.status_code == 200
        assert response.json()["term"] == "Wound infection"
        assert response["ETag"]

    def test_an_unknown_code_is_a_404(self, api):
        assert api.get(URL + "12345678/").status_code == 404

    def test_the_catalogue_is_read_only(self, api):
        assert api.post(URL, {"code": "12345678"}, format="json").status_code == 405
        assert api.delete(URL + "10048038/").status_code == 405

    def test_an_anonymous_request_is_a_401(self, client, db):
        assert client.get(URL).status_code == 401

    def test_the_number_of_queries_does_not_depend_on_the_page_size(self, api, count_queries):
        assert count_queries(lambda: api.get(URL + "?page_size=5")) == count_queries(
            lambda: api.get(URL + "?page_size=170")
        )
