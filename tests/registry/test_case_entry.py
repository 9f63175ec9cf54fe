"""Case entry through the web forms: one submit saves a whole case or nothing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from complications.models import ComplicationEvent
from registry.models import FollowUp, Fracture, Patient, Procedure, hash_identifier
from tests import factories

PARIS = ZoneInfo("Europe/Paris")
WOUND_INFECTION = "10048038"


def case_data(department, **overrides: str) -> dict[str, str]:
    data = {
        "department": str(department.pk),
        "registry_id": "NEW-001",
        "sex": "female",
        "birth_date": "1950-03-04",
        "hospital_number": "H 123 456",
        "started_at": "2025-06-02T09:15",
        "ended_at": "2025-06-02T10:40",
        "guidance": "cbct",
        "anesthesia": "general",
        "operator": "JG",
        "fractures-TOTAL_FORMS": "2",
        "fractures-INITIAL_FORMS": "0",
        "fractures-MIN_NUM_FORMS": "0",
        "fractures-MAX_NUM_FORMS": "10",
        "fractures-0-type": "insufficiency",
        "fractures-0-site": "sacrum",
        "fractures-0-side": "left",
        "fractures-0-screws": "2",
        "fractures-1-type": "insufficiency",
        "fractures-1-site": "sacrum",
        "fractures-1-side": "right",
        "fractures-1-screws": "1",
        "fractures-1-cement_augmented": "on",
    }
    data.update(overrides)
    return data


@pytest.fixture
def as_radiologist(client, radiologist, department):
    client.force_login(radiologist)
    return client


@pytest.fixture
def case(department):
    proc = factories.procedure(factories.patient(department, sex="male"))
    factories.fracture(proc, side="left")
    factories.fracture(proc, side="right")
    return proc


def test_the_form_starts_now_in_the_department_time_zone_with_its_usual_guidance(
    as_radiologist, department
):
    department.default_guidance = "fluoroscopy"
    department.time_zone = "America/New_York"
    department.save()
    response = as_radiologist.get(reverse("case-create"))
    form = response.context["form"]
    assert form["guidance"].value() == "fluoroscopy"
    # Shown as the department's wall clock, not the server's (Paris).
    local_now = datetime.now(ZoneInfo("America/New_York"))
    assert f'value="{local_now:%Y-%m-%dT%H:}' in response.content.decode()
    assert b"autofocus" in response.content


def test_a_full_case_saves_patient_procedure_and_fractures(as_radiologist, department):
    response = as_radiologist.post(reverse("case-create"), case_data(department))
    procedure = Procedure.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("case-detail", args=[procedure.pk])
    patient = procedure.patient
    assert (patient.department, patient.registry_id, patient.sex) == (
        department,
        "NEW-001",
        "female",
    )
    assert patient.hospital_number_hash == hash_identifier("H123456")
    # Typed times are the department's wall clock (Paris, summer time).
    assert procedure.started_at == datetime(2025, 6, 2, 9, 15, tzinfo=PARIS)
    assert procedure.ended_at == datetime(2025, 6, 2, 10, 40, tzinfo=PARIS)
    assert (procedure.guidance, procedure.anesthesia, procedure.operator) == (
        "cbct",
        "general",
        "JG",
    )
    fractures = list(
        procedure.fractures.order_by("id").values_list("side", "screws", "cement_augmented")
    )
    assert fractures == [("left", 2, False), ("right", 1, True)]


def test_an_existing_patient_is_found_by_registry_id_and_reused(as_radiologist, department):
    existing = factories.patient(department, registry_id="OLD-7", sex="male")
    response = as_radiologist.post(
        reverse("case-create"),
        case_data(department, registry_id="OLD-7", sex="", birth_date="", hospital_number=""),
    )
    assert response.status_code == 302
    assert Procedure.objects.get().patient == existing
    assert Patient.objects.count() == 1


def test_a_new_patient_needs_sex_and_birth_date(as_radiologist, department):
    response = as_radiologist.post(
        reverse("case-create"), case_data(department, sex="", birth_date="")
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "Needed for a new patient" in form.errors["sex"][0]
    assert "birth_date" in form.errors
    assert not Patient.objects.exists()


def test_an_end_before_the_start_saves_nothing(as_radiologist, department):
    response = as_radiologist.post(
        reverse("case-create"), case_data(department, ended_at="2025-06-02T08:00")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["ended_at"] == [
        "The procedure cannot end before it starts."
    ]
    assert (
        not Patient.objects.exists()
        and not Procedure.objects.exists()
        and not Fracture.objects.exists()
    )
    assert b"Nothing was saved" in response.content


def test_a_service_refusal_after_the_patient_was_created_rolls_the_patient_back(
    as_radiologist, department
):
    # The patient service accepts this birth date; the procedure service then refuses a start
    # before it, and the whole case (patient included) is rolled back.
    response = as_radiologist.post(
        reverse("case-create"), case_data(department, birth_date="2025-07-01")
    )
    assert response.status_code == 200
    assert "before the patient's birth date" in response.context["form"].errors["started_at"][0]
    assert not Patient.objects.exists()


def test_a_fracture_error_is_shown_on_its_row_and_saves_nothing(as_radiologist, department):
    response = as_radiologist.post(
        reverse("case-create"), case_data(department, **{"fractures-1-screws": "0"})
    )
    assert response.status_code == 200
    assert "screws" in response.context["formset"].forms[1].errors
    assert not Patient.objects.exists()


def test_a_case_needs_at_least_one_fracture(as_radiologist, department):
    data = {k: v for k, v in case_data(department).items() if not k.startswith("fractures-")}
    data.update(
        {"fractures-TOTAL_FORMS": "1", "fractures-INITIAL_FORMS": "0", "fractures-0-screws": "1"}
    )
    response = as_radiologist.post(reverse("case-create"), data)
    assert response.context["formset"].non_form_errors() == ["Add at least one treated fracture."]
    assert not Patient.objects.exists()


def test_a_duplicate_hospital_number_is_refused_on_its_field(as_radiologist, department):
    as_radiologist.post(reverse("case-create"), case_data(department))
    response = as_radiologist.post(
        reverse("case-create"), case_data(department, registry_id="NEW-002")
    )
    assert "already registered" in response.context["form"].errors["hospital_number"][0]
    assert Patient.objects.count() == 1


def test_a_department_head_may_read_but_not_enter_a_case(client, head, case):
    client.force_login(head)
    assert client.get(reverse("case-detail", args=[case.pk])).status_code == 200
    assert client.get(reverse("case-create")).status_code == 403
    assert client.get(reverse("case-complication-add", args=[case.pk])).status_code == 403


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("case-detail", "get"),
        ("case-complication-add", "get"),
        ("case-complication-preview", "post"),
        ("case-follow-up-add", "post"),
    ],
)
def test_an_outsider_gets_404_for_another_departments_case(client, outsider, case, name, method):
    client.force_login(outsider)
    response = getattr(client, method)(reverse(name, args=[case.pk]))
    assert response.status_code == 404


def test_an_outsider_cannot_attach_a_case_to_another_department(client, outsider, department):
    client.force_login(outsider)
    response = client.post(reverse("case-create"), case_data(department))
    # The only department offered is the outsider's own: A is an invalid choice, nothing saved.
    assert "department" in response.context["form"].errors
    assert not Patient.objects.filter(department=department).exists()


# --- the case page: follow-ups, complications ---------------------------------------------------


def test_the_case_page_draws_its_timeline(as_radiologist, case):
    factories.follow_up(case, hours_after_end=20)
    factories.complication(case, window="delayed", grade=3, hours_after_end=240)
    response = as_radiologist.get(reverse("case-detail", args=[case.pk]))
    content = response.content.decode()
    assert "<svg" in content and 'class="tl-follow-up"' in content
    assert "tl-complication tl-major" in content


def test_a_follow_up_covers_all_fractures_by_default(as_radiologist, case):
    response = as_radiologist.post(
        reverse("case-follow-up-add", args=[case.pk]),
        {"contact_at": "2020-01-07T09:00", "kind": "phone"},
    )
    assert response.status_code == 302
    follow_up = FollowUp.objects.get()
    assert follow_up.contact_at == datetime(2020, 1, 7, 9, 0, tzinfo=PARIS)
    assert set(follow_up.fractures.all()) == set(case.fractures.all())


def test_a_follow_up_before_the_procedure_is_refused_inline(as_radiologist, case):
    response = as_radiologist.post(
        reverse("case-follow-up-add", args=[case.pk]),
        {"contact_at": "2020-01-05T09:00", "kind": "phone"},
    )
    assert response.status_code == 200
    assert (
        "before the procedure start" in response.context["follow_up_form"].errors["contact_at"][0]
    )
    assert not FollowUp.objects.exists()


def complication_data(**overrides: str) -> dict[str, str]:
    data = {
        "term": f"{WOUND_INFECTION} Wound infection",
        "onset_kind": "at",
        "onset_at": "2020-01-10T08:00",
        "intervention": "iv",
        "hospitalization": "on",
        "outcome": "resolved",
    }
    data.update(overrides)
    return data


def test_a_complication_is_graded_from_the_facts(as_radiologist, case, radiologist):
    response = as_radiologist.post(
        reverse("case-complication-add", args=[case.pk]), complication_data()
    )
    assert response.status_code == 302
    event = ComplicationEvent.objects.get()
    assert (event.auto_grade, event.grade, event.window) == (3, 3, "delayed")
    assert event.facts == {"intervention": "iv", "hospitalization": True}
    assert event.created_by == radiologist
    assert set(event.fractures.all()) == set(case.fractures.all())


def test_an_override_without_a_reason_is_refused_on_the_reason_field(as_radiologist, case):
    response = as_radiologist.post(
        reverse("case-complication-add", args=[case.pk]), complication_data(grade_override="4")
    )
    assert response.status_code == 200
    assert response.context["form"].errors["override_reason"] == [
        "An override needs a written reason."
    ]
    assert not ComplicationEvent.objects.exists()


def test_an_unknown_term_says_how_to_pick_one(as_radiologist, case):
    response = as_radiologist.post(
        reverse("case-complication-add", args=[case.pk]), complication_data(term="wound inf")
    )
    assert "pick it from the list" in response.context["form"].errors["term"][0]


def test_an_other_specify_term_needs_its_text(as_radiologist, case):
    response = as_radiologist.post(
        reverse("case-complication-add", args=[case.pk]),
        complication_data(term="10028395", intervention="", hospitalization="", symptoms="mild"),
    )
    assert "specify" in response.context["form"].errors


def test_a_complication_is_edited_and_regraded(as_radiologist, case):
    as_radiologist.post(reverse("case-complication-add", args=[case.pk]), complication_data())
    event = ComplicationEvent.objects.get()
    url = reverse("case-complication-edit", args=[case.pk, event.pk])
    form = as_radiologist.get(url).context["form"]
    assert form["intervention"].value() == "iv" and form["onset_kind"].value() == "at"
    response = as_radiologist.post(
        url,
        complication_data(
            intervention="oral", hospitalization="", onset_kind="during", onset_at=""
        ),
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.auto_grade, event.window, event.during_procedure) == (2, "per_procedural", True)


def test_the_checklist_offers_the_terms_own_criteria(as_radiologist, case):
    response = as_radiologist.post(
        reverse("case-complication-add", args=[case.pk]),
        complication_data(
            intervention="", hospitalization="", criteria="Localized, local intervention indicated"
        ),
    )
    assert response.status_code == 302
    assert ComplicationEvent.objects.get().auto_grade == 1


def test_the_preview_returns_grade_severity_window_and_rationale(as_radiologist, case):
    response = as_radiologist.post(
        reverse("case-complication-preview", args=[case.pk]), complication_data()
    )
    data = response.json()
    assert (data["grade"], data["severity"], data["window"]) == (3, "major", "delayed")
    assert data["rationale"].startswith("Grade 3:")
    assert data["hours_after_end"] == pytest.approx(93.5)
    assert not ComplicationEvent.objects.exists()


def test_the_preview_asks_for_the_time_when_a_date_straddles_two_windows(as_radiologist, case):
    response = as_radiologist.post(
        reverse("case-complication-preview", args=[case.pk]),
        complication_data(onset_kind="date", onset_date="2020-01-06", onset_at=""),
    )
    data = response.json()
    assert data["window"] is None
    assert "give the time of onset" in data["errors"]["onset_date"][0]
    assert data["grade"] == 3


def test_the_preview_says_when_facts_point_beyond_the_terms_grades(as_radiologist, case):
    response = as_radiologist.post(
        reverse("case-complication-preview", args=[case.pk]),
        complication_data(term="10033425", intervention="", hospitalization="", death="on"),
    )
    data = response.json()
    assert data["grade"] is None
    assert "has no grade 5" in data["errors"]["facts"][0]


def test_terms_are_found_by_name_or_code(as_radiologist):
    by_name = as_radiologist.get(reverse("case-terms"), {"q": "wound inf"}).json()["results"]
    by_code = as_radiologist.get(reverse("case-terms"), {"q": "1004803"}).json()["results"]
    assert [t["code"] for t in by_name] == [WOUND_INFECTION]
    assert WOUND_INFECTION in [t["code"] for t in by_code]
    assert by_name[0]["checklist"] == [[1, ["Localized, local intervention indicated"]]]


# --- lists -------------------------------------------------------------------------------------


def test_the_case_list_filters_and_scopes(as_radiologist, department, other_department):
    with_event = factories.procedure(
        factories.patient(department, registry_id="AAA"), guidance="cbct"
    )
    factories.complication(with_event, window="early", grade=1)
    factories.procedure(factories.patient(department, registry_id="BBB"), guidance="ct")
    factories.procedure(factories.patient(other_department, registry_id="AAB"))
    url = reverse("case-list")

    def ids(**params: str) -> list[str]:
        return [p.patient.registry_id for p in as_radiologist.get(url, params).context["page"]]

    assert sorted(ids()) == ["AAA", "BBB"]
    assert ids(q="AA") == ["AAA"]
    assert ids(guidance="ct") == ["BBB"]
    assert ids(has_complications="yes") == ["AAA"]
    assert ids(has_complications="no") == ["BBB"]
    assert ids(date_from="2020-01-07") == []


def test_the_patient_list_paginates_and_links_the_latest_case(
    as_radiologist, department, django_assert_max_num_queries
):
    for n in range(30):
        factories.procedure(factories.patient(department, registry_id=f"P-{n:02d}"))
    with django_assert_max_num_queries(8):
        response = as_radiologist.get(reverse("patients"))
    page = response.context["page"]
    assert page.paginator.count == 30 and len(page.object_list) == 25
    assert page.object_list[0].latest_procedure is not None
    assert (
        as_radiologist.get(reverse("patients"), {"page": 2})
        .context["page"]
        .object_list[-1]
        .registry_id
        == "P-29"
    )


@pytest.mark.parametrize("name", ["case-create", "case-terms", "patients", "worklist", "profile"])
def test_every_case_entry_page_needs_a_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


# --- every error of the form in one pass, in clinical words, in both languages ---------------

ONE_PASS_CASES = [
    # (overrides, {field: words expected in its error})
    (
        {"birth_date": "1850-01-01", "fractures-0-screws": "0"},
        {"birth_date": "before 1900", "fractures-0-screws": "greater than or equal to 1"},
    ),
    (
        {"sex": "", "ended_at": "2025-06-02T09:00", "anesthesia": ""},
        {
            "sex": "Needed for a new patient",
            "ended_at": "cannot end before it starts",
            "anesthesia": "required",
        },
    ),
    (
        {"birth_date": "2025-07-01", "fractures-1-side": ""},
        {"started_at": "before the patient's birth date", "fractures-1-side": "required"},
    ),
    ({"birth_date": "2999-01-01"}, {"birth_date": "in the future"}),
]


@pytest.mark.parametrize(("overrides", "expected"), ONE_PASS_CASES)
def test_every_error_of_the_case_is_shown_at_once_beside_its_field(
    as_radiologist, department, overrides, expected
):
    response = as_radiologist.post(reverse("case-create"), case_data(department, **overrides))
    assert response.status_code == 200
    form, formset = response.context["form"], response.context["formset"]
    errors = dict(form.errors)
    for index, fracture_form in enumerate(formset.forms):
        errors.update({f"fractures-{index}-{k}": v for k, v in fracture_form.errors.items()})
    assert set(errors) == set(expected)
    for field, words in expected.items():
        assert words in " ".join(errors[field]), (field, errors[field])
    page = response.content.decode()
    assert "Constraint" not in page and 'id="form-errors"' in page
    assert not Patient.objects.exists()


def test_the_errors_are_in_french_for_a_french_user(as_radiologist, department):
    response = as_radiologist.post(
        reverse("case-create"),
        case_data(department, birth_date="1850-01-01", ended_at="2025-06-02T09:00"),
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    errors = response.context["form"].errors
    assert "pas plausible" in errors["birth_date"][0]
    assert "avant" in errors["ended_at"][0]


def test_a_new_patient_s_needed_fields_are_marked(as_radiologist):
    page = as_radiologist.get(reverse("case-create")).content.decode()
    assert page.count("Needed for a new patient.") == 2
    assert "Fields marked * are required" in page


def test_in_french_dates_are_typed_day_first_without_am_pm(as_radiologist, department):
    page = as_radiologist.get(reverse("case-create"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert 'type="text" name="birth_date"' in page and 'placeholder="jj/mm/aaaa"' in page
    assert 'placeholder="jj/mm/aaaa hh:mm"' in page and "datetime-local" not in page
    response = as_radiologist.post(
        reverse("case-create"),
        case_data(
            department,
            birth_date="04/03/1950",
            started_at="02/06/2025 09:15",
            ended_at="02/06/2025 10:40",
        ),
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.status_code == 302, response.context["form"].errors
    procedure = Procedure.objects.get()
    assert str(procedure.patient.birth_date) == "1950-03-04"
    assert procedure.started_at.astimezone(PARIS).strftime("%Y-%m-%d %H:%M") == "2025-06-02 09:15"
    # In English the browser's own pickers, read in ISO 8601.
    english = as_radiologist.get(reverse("case-create"), HTTP_ACCEPT_LANGUAGE="en").content
    assert b'type="date" name="birth_date"' in english and b"datetime-local" in english
