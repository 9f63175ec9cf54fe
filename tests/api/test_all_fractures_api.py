"""Follow-ups and complications recorded for "all the fractures" stay all of them:
a fracture added afterwards is covered (and counted in the early and delayed
denominators), while one that names fractures is restricted to those."""

from __future__ import annotations

import pytest

from tests import factories as f

FOLLOW_UPS = "/api/v1/follow-ups/"
COMPLICATIONS = "/api/v1/complications/"
FRACTURES = "/api/v1/fractures/"
RATES = "/api/v1/stats/rates/"
WOUND_INFECTION = "10048038"


@pytest.fixture
def procedure(department):
    proc = f.procedure(f.patient(department))  # 2020-01-06 09:00-10:30 Paris
    f.fracture(proc, site="sacrum")
    return proc


def contact(api, proc, **overrides: object) -> dict:
    body = {"procedure": proc.pk, "contact_at": "2020-01-09T10:00:00+01:00", "kind": "clinical"}
    response = api.post(FOLLOW_UPS, {**body, **overrides}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def complication(api, proc, **overrides: object) -> dict:
    body = {
        "procedure": proc.pk,
        "term": WOUND_INFECTION,
        "onset_at": "2020-01-09T08:00:00+01:00",  # delayed: 2 days after the end
        "facts": {"intervention": "oral"},
    }
    response = api.post(COMPLICATIONS, {**body, **overrides}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def add_fracture(api, proc) -> int:
    response = api.post(
        FRACTURES,
        {"procedure": proc.pk, "type": "insufficiency", "site": "iliac", "side": "right"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


@pytest.mark.django_db
class TestAllFractures:
    @pytest.mark.parametrize("fractures", [None, []])
    def test_a_contact_and_a_complication_for_all_cover_a_fracture_added_later(
        self, api, procedure, fractures
    ):
        sacrum = procedure.fractures.get().pk
        given = {} if fractures is None else {"fractures": fractures}
        follow_up = contact(api, procedure, **given)
        event = complication(api, procedure, **given)
        assert follow_up["all_fractures"] is True and follow_up["fractures"] == [sacrum]
        assert event["all_fractures"] is True and event["fractures"] == [sacrum]

        iliac = add_fracture(api, procedure)

        for url, record in ((FOLLOW_UPS, follow_up), (COMPLICATIONS, event)):
            body = api.get(f"{url}{record['id']}/").json()
            assert body["all_fractures"] is True
            assert sorted(body["fractures"]) == sorted([sacrum, iliac])

    def test_a_fracture_added_later_counts_in_the_early_and_delayed_denominators(
        self, api, head_api, procedure
    ):
        contact(api, procedure)
        complication(api, procedure)
        add_fracture(api, procedure)

        windows = head_api.get(RATES).json()["windows"]

        assert windows["early"]["at_risk"] == 2
        assert windows["delayed"]["at_risk"] == 2
        assert windows["delayed"]["events"] == 2

    def test_naming_fractures_leaves_a_fracture_added_later_out(self, api, head_api, procedure):
        sacrum = procedure.fractures.get().pk
        follow_up = contact(api, procedure, fractures=[sacrum])
        event = complication(api, procedure, fractures=[sacrum])
        assert follow_up["all_fractures"] is False and event["all_fractures"] is False

        add_fracture(api, procedure)

        assert api.get(f"{FOLLOW_UPS}{follow_up['id']}/").json()["fractures"] == [sacrum]
        assert api.get(f"{COMPLICATIONS}{event['id']}/").json()["fractures"] == [sacrum]
        windows = head_api.get(RATES).json()["windows"]
        assert windows["per_procedural"]["at_risk"] == 2
        assert windows["early"]["at_risk"] == 1
        assert windows["delayed"]["at_risk"] == 1
        assert windows["delayed"]["events"] == 1

    @pytest.mark.parametrize("url", [FOLLOW_UPS, COMPLICATIONS])
    def test_a_patch_naming_fractures_restricts_and_an_empty_list_restores_all(
        self, api, procedure, url
    ):
        sacrum = procedure.fractures.get().pk
        record = (contact if url == FOLLOW_UPS else complication)(api, procedure)

        named = api.patch(f"{url}{record['id']}/", {"fractures": [sacrum]}, format="json").json()
        iliac = add_fracture(api, procedure)
        assert named["all_fractures"] is False
        assert api.get(f"{url}{record['id']}/").json()["fractures"] == [sacrum]

        restored = api.patch(f"{url}{record['id']}/", {"fractures": []}, format="json").json()
        assert restored["all_fractures"] is True
        assert sorted(restored["fractures"]) == sorted([sacrum, iliac])

    @pytest.mark.parametrize("url", [FOLLOW_UPS, COMPLICATIONS])
    @pytest.mark.parametrize("all_fractures", [True, False])
    def test_a_patch_without_fractures_keeps_the_mode(self, api, procedure, url, all_fractures):
        sacrum = procedure.fractures.get().pk
        create = contact if url == FOLLOW_UPS else complication
        record = create(api, procedure, **({} if all_fractures else {"fractures": [sacrum]}))

        change = {"notes": "Seen."} if url == FOLLOW_UPS else {"description": "Seen."}
        patched = api.patch(f"{url}{record['id']}/", change, format="json")
        assert patched.status_code == 200, patched.json()
        iliac = add_fracture(api, procedure)

        body = api.get(f"{url}{record['id']}/").json()
        assert body["all_fractures"] is all_fractures
        assert sorted(body["fractures"]) == ([sacrum, iliac] if all_fractures else [sacrum])

    def test_a_contact_recorded_before_any_fracture_covers_the_fractures_added_then(
        self, api, department
    ):
        proc = f.procedure(f.patient(department))
        follow_up = contact(api, proc)
        assert follow_up["fractures"] == [] and follow_up["all_fractures"] is True

        first = add_fracture(api, proc)

        assert api.get(f"{FOLLOW_UPS}{follow_up['id']}/").json()["fractures"] == [first]
