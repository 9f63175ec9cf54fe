"""The department head's pages: live dashboard, Results paragraph, data quality."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from html import unescape

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from complications.models import ComplicationEvent
from complications.selectors import data_quality
from tests import factories as f
from tests.factories import PARIS

DASHBOARD = "/dashboard/"
REPORT = "/dashboard/report/"
DATA_QUALITY = "/dashboard/data-quality/"


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with no cached statistics (ids repeat between tests)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def browser(head) -> Client:
    client = Client()
    client.force_login(head)
    return client


def text_of(html: str, element_id: str) -> str:
    """The visible text of the element with that id, whitespace collapsed."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</p>', html, re.S)
    assert match, element_id
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def two_patients(department) -> None:
    """Two patients, one fracture each, both seen at 48 h: a minor per-procedural
    complication for one, a major delayed wound infection for the other."""
    first = f.procedure(
        f.patient(department, sex="female", birth_date=date(1950, 1, 1)),
        started_at=datetime(2020, 3, 2, 9, tzinfo=PARIS),
    )
    second = f.procedure(
        f.patient(department, sex="male", birth_date=date(1960, 1, 1)),
        started_at=datetime(2020, 5, 4, 9, tzinfo=PARIS),
        guidance="fluoroscopy",
    )
    for proc in (first, second):
        f.fracture(proc)
        f.follow_up(proc, hours_after_end=48)
    f.complication(first, window="per_procedural", grade=1, term_code=f.HEMATOMA)
    f.complication(second, window="delayed", grade=3, term_code=f.WOUND_INFECTION)


@pytest.mark.django_db
class TestDashboard:
    def test_it_shows_one_card_per_window_for_the_head(self, department, browser):
        two_patients(department)

        response = browser.get(DASHBOARD)

        assert response.status_code == 200
        html = response.content.decode()
        for window in ("per_procedural", "early", "delayed"):
            assert f'class="card card-rate h-100" data-window="{window}"' in html
        card = html[html.index('data-window="delayed"') :]
        assert '<span data-field="percent">50.0</span>' in card
        assert '<span data-field="events">1</span> / <span data-field="at_risk">2</span>' in card

    def test_it_lists_the_terms_and_draws_the_charts_with_the_local_chart_js(
        self, department, browser
    ):
        two_patients(department)

        html = browser.get(DASHBOARD).content.decode()

        assert "Wound infection" in html and "Hematoma" in html
        assert '<script src="/static/vendor/chart.js/chart.umd.js"></script>' in html
        assert '<script src="/static/js/dashboard.js"></script>' in html
        for chart in ("chart-quarters", "chart-grades", "chart-types", "chart-sites"):
            assert f'id="{chart}"' in html
        assert not re.search(r'<script[^>]+src="(https?:)?//', html)
        # The content security policy refuses inline code and styles.
        assert "<style" not in html and " style=" not in html
        assert not re.search(r"<script(?![^>]*(src=|application/json))", html)

    def test_it_gives_the_script_the_api_urls_the_filters_and_the_first_chart_data(
        self, department, browser
    ):
        two_patients(department)

        response = browser.get(DASHBOARD, {"unit": "patient", "guidance": "fluoroscopy"})

        config = json.loads(
            re.search(
                r'<script id="dashboard-config" type="application/json">(.*?)</script>',
                response.content.decode(),
                re.S,
            ).group(1)
        )
        assert config["versionUrl"] == "/api/v1/stats/version/"
        assert config["ratesUrl"] == "/api/v1/stats/rates/"
        assert config["breakdownUrl"] == "/api/v1/stats/breakdown/"
        assert config["query"] == "unit=patient&guidance=fluoroscopy"
        assert isinstance(config["version"], int)
        assert config["breakdown"]["unit"] == "patient"
        assert config["breakdown"]["grades"]["delayed"]["3"] == 1

    def test_its_links_keep_the_filters(self, department, browser):
        query = "fracture_type=pathological&site=sacrum&date_from=2020-01-01&unit=procedure"

        html = browser.get(f"{DASHBOARD}?{query}").content.decode()

        assert f'href="/dashboard/report/?{query.replace("&", "&amp;")}"' in html
        assert f'href="/dashboard/data-quality/?{query.replace("&", "&amp;")}"' in html
        patient_link = query.replace("unit=procedure", "unit=patient").replace("&", "&amp;")
        assert f'href="?{patient_link}"' in html
        assert '<input type="hidden" name="unit" value="procedure"' in html
        assert '<option value="pathological" selected>' in html
        assert 'value="2020-01-01"' in html

    def test_the_unit_switch_changes_what_the_cards_count(self, department, browser):
        proc = f.procedure(f.patient(department))
        f.fracture(proc)
        f.fracture(proc)

        fractures = browser.get(DASHBOARD).content.decode()
        procedures = browser.get(DASHBOARD, {"unit": "procedure"}).content.decode()

        assert '<span data-field="at_risk">2</span>' in fractures
        assert '<span data-field="at_risk">1</span>' in procedures

    def test_a_bad_filter_shows_the_error_instead_of_the_rates(self, browser):
        response = browser.get(DASHBOARD, {"date_from": "yesterday"})

        assert response.status_code == 200
        html = response.content.decode()
        assert 'class="alert alert-danger"' in html
        assert "card-rate" not in html

    def test_another_departments_id_is_refused(self, department, other_department, browser):
        response = browser.get(DASHBOARD, {"department": other_department.pk})

        html = response.content.decode()
        assert 'class="alert alert-danger"' in html
        assert "card-rate" not in html
        assert other_department.name not in html

    def test_an_anonymous_visitor_is_sent_to_the_login_page(self, db):
        response = Client().get(DASHBOARD)

        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")

    def test_it_takes_as_many_queries_for_50_procedures_as_for_5(self, department, browser):
        def build(n: int) -> None:
            for i in range(n):
                proc = f.procedure(
                    f.patient(department),
                    started_at=datetime(2019, 1, 7, 9, tzinfo=PARIS) + timedelta(days=9 * i),
                )
                f.fracture(proc)
                f.follow_up(proc, hours_after_end=48)
                f.complication(proc, window=("early", "delayed")[i % 2], grade=1 + i % 5)

        build(5)
        with CaptureQueriesContext(connection) as small:
            browser.get(DASHBOARD)
        cache.clear()
        build(45)
        with CaptureQueriesContext(connection) as large:
            assert browser.get(DASHBOARD).status_code == 200
        # (the breakdown groups by year and by quarter: one query each; the share of verified
        # cases and the open queries: one each)
        assert len(small.captured_queries) == len(large.captured_queries) <= 23


@pytest.mark.django_db
class TestReport:
    def test_it_regenerates_the_results_paragraph_from_live_data(self, department, browser):
        two_patients(department)

        paragraph = text_of(browser.get(REPORT).content.decode(), "results-paragraph")

        assert paragraph == (
            "From March 2020 to May 2020, 2 patients (1 women, 1 men; mean age at procedure "
            "65.0 ± 7.1 years, range 60–70) underwent 2 procedures for 2 fractures: "
            "2 insufficiency (100.0 %), 0 pathological (0.0 %) and 0 impending (0.0 %) fractures. "
            "The 24-hour follow-up was documented for all fractures; follow-up beyond 24 hours "
            "was available for 2/2 fractures (100.0 %) in 2/2 patients (100.0 %). "
            "Per-procedural complications occurred in 1/2 fractures (50.0 %; 95 % CI 9.5–90.5 %), "
            "all minor. Early complications (within 24 hours) occurred in 0/2 fractures "
            "(0.0 %; 95 % CI 0.0–65.8 %). Delayed complications (24 hours or later) occurred in "
            "1/2 fractures (50.0 %; 95 % CI 9.5–90.5 %), all major. The most frequent major "
            "delayed complication was wound infection (1/2, 50.0 %); by system organ class, "
            "infections and infestations (1/2, 50.0 %). "
            # The unit without a delayed complication is censored at its last contact, before
            # the other's event: every unit still followed then had one.
            "Taking death as a competing risk (0 deaths before any delayed complication) and "
            "counting each unit until its last follow-up, the cumulative incidence of delayed "
            "complications (Aalen-Johansen) was 100.0 % (95 % CI 100.0–100.0) at 30 days, "
            "100.0 % (95 % CI 100.0–100.0) at 90 days, 100.0 % (95 % CI 100.0–100.0) at 180 "
            "days and 100.0 % (95 % CI 100.0–100.0) at 365 days, against a crude delayed rate "
            "of 50.0 %."
        )

    def test_it_follows_the_filters(self, department, browser):
        two_patients(department)

        query = {"guidance": "fluoroscopy", "unit": "procedure"}
        html = browser.get(REPORT, query).content.decode()

        paragraph = text_of(html, "results-paragraph")
        assert "1 patients (0 women, 1 men" in paragraph
        assert "Per-procedural complications occurred in 0/1 procedures" in paragraph
        assert 'href="/dashboard/?guidance=fluoroscopy&amp;unit=procedure"' in html

    def test_it_names_every_term_tied_for_the_most_major_delayed_complications(
        self, department, browser
    ):
        for code in (f.WOUND_INFECTION, f.HEMATOMA):
            proc = f.procedure(f.patient(department))
            f.fracture(proc)
            f.complication(proc, window="delayed", grade=3, term_code=code)

        paragraph = text_of(browser.get(REPORT).content.decode(), "results-paragraph")

        assert (
            "The most frequent major delayed complications were hematoma (1/2, 50.0 %) "
            "and wound infection (1/2, 50.0 %)"
        ) in paragraph

    def test_a_single_patient_has_no_standard_deviation(self, department, browser):
        f.fracture(f.procedure(f.patient(department, birth_date=date(1950, 1, 1))))

        paragraph = text_of(browser.get(REPORT).content.decode(), "results-paragraph")

        assert "mean age at procedure 70.0 years, range 70–70" in paragraph

    def test_an_empty_selection_says_that_no_case_matches(self, department, browser):
        html = browser.get(REPORT).content.decode()

        assert "No case matches these filters." in html
        assert 'id="results-paragraph"' not in html

    def test_without_major_delayed_complication_it_says_so(self, department, browser):
        f.fracture(f.procedure(f.patient(department)))

        paragraph = text_of(browser.get(REPORT).content.decode(), "results-paragraph")

        assert "No major delayed complication was recorded. Taking death" in paragraph

    def test_it_has_a_copy_button_and_prints_the_paragraph_alone(self, department, browser):
        two_patients(department)

        html = browser.get(REPORT).content.decode()

        assert 'data-copy-target="results-paragraph"' in html
        assert re.search(r'<div class="d-print-none">\s*<form method="get"', html)
        assert '<script src="/static/js/report.js"></script>' in html
        assert "<style" not in html  # the content security policy refuses inline styles


def old_case(department, *, days_ago: float, now: datetime):
    proc = f.procedure(f.patient(department), started_at=now - timedelta(days=days_ago))
    return proc, f.fracture(proc)


@pytest.mark.django_db
class TestDataQuality:
    def test_a_delayed_complication_without_a_contact_beyond_24_hours_is_listed(
        self, department, head
    ):
        now = timezone.now()
        proc, _ = old_case(department, days_ago=60, now=now)
        f.follow_up(proc, hours_after_end=3)
        event = f.complication(proc, window="delayed", grade=2)

        problems = data_quality(user=head, now=now)

        assert [c["id"] for c in problems["complications_without_follow_up"]] == [event.pk]

    def test_a_complication_with_a_contact_in_its_window_is_not_listed(self, department, head):
        now = timezone.now()
        proc, _ = old_case(department, days_ago=60, now=now)
        f.follow_up(proc, hours_after_end=3)
        f.follow_up(proc, hours_after_end=72)
        f.complication(proc, window="early", grade=1)
        f.complication(proc, window="delayed", grade=2)

        assert data_quality(user=head, now=now)["complications_without_follow_up"] == []

    def test_a_contact_for_another_fracture_does_not_cover_the_complication(self, department, head):
        now = timezone.now()
        proc, first = old_case(department, days_ago=60, now=now)
        second = f.fracture(proc)
        f.follow_up(proc, hours_after_end=72, fractures=[second])
        event = f.complication(proc, window="early", grade=1, fractures=[first])

        listed = data_quality(user=head, now=now)["complications_without_follow_up"]

        assert [c["id"] for c in listed] == [event.pk]

    def test_a_fracture_is_missing_its_24_hour_check_only_once_24_hours_have_passed(
        self, department, head
    ):
        now = timezone.now()
        _, late = old_case(department, days_ago=2, now=now)
        old_case(department, days_ago=0.5, now=now)

        missing = data_quality(user=head, now=now)["fractures_without_contact_after_end"]

        assert [m["id"] for m in missing] == [late.pk]

    def test_a_fracture_is_missing_its_later_follow_up_only_after_30_days(self, department, head):
        now = timezone.now()
        old, old_fracture = old_case(department, days_ago=45, now=now)
        recent, _ = old_case(department, days_ago=10, now=now)
        seen, _ = old_case(department, days_ago=45, now=now)
        for proc in (old, recent):
            f.follow_up(proc, hours_after_end=3)
        f.follow_up(seen, hours_after_end=30)

        problems = data_quality(user=head, now=now)

        late = problems["fractures_without_contact_beyond_24h"]
        assert [m["id"] for m in late] == [old_fracture.pk]
        assert problems["fractures_without_contact_after_end"] == []

    def test_date_only_onsets_and_records_without_fracture_are_listed(self, department, head):
        now = timezone.now()
        proc, fracture = old_case(department, days_ago=60, now=now)
        dated = ComplicationEvent.objects.create(
            procedure=proc, term=f.term(), auto_grade=1, window="delayed",
            onset_date=(now - timedelta(days=50)).date(),
        )  # fmt: skip
        dated.fractures.set([fracture])
        loose = f.complication(proc, window="early", grade=1, fractures=[])
        empty = f.procedure(f.patient(department))

        problems = data_quality(user=head, now=now)

        assert [c["id"] for c in problems["date_only_onsets"]] == [dated.pk]
        assert [c["id"] for c in problems["complications_without_fracture"]] == [loose.pk]
        assert [p["id"] for p in problems["procedures_without_fracture"]] == [empty.pk]

    def test_the_outsider_sees_no_problem_of_another_department(self, department, outsider):
        now = timezone.now()
        proc, _ = old_case(department, days_ago=60, now=now)
        f.complication(proc, window="delayed", grade=2)

        problems = data_quality(user=outsider, now=now)

        assert all(items == [] for items in problems.values())

    def test_the_page_lists_each_problem_with_a_link_to_its_case(self, department, browser):
        now = timezone.now()
        proc, _ = old_case(department, days_ago=60, now=now)
        f.complication(proc, window="delayed", grade=2)

        html = browser.get(DATA_QUALITY).content.decode()

        section = html[html.index('id="complications-without-follow-up"') :]
        section = section[: section.index("</section>")]
        assert f'href="/cases/{proc.pk}/">{proc.patient.registry_id}</a>' in section
        assert 'id="fractures-without-contact-after-end"' in html
        assert 'id="date-only-onsets"' in html

    def test_the_page_follows_the_department_filter(self, department, admin_user):
        now = timezone.now()
        proc, _ = old_case(department, days_ago=60, now=now)
        client = Client()
        client.force_login(admin_user)

        mine = client.get(DATA_QUALITY, {"department": department.pk}).content.decode()
        assert proc.patient.registry_id in mine


@pytest.mark.django_db
def test_data_quality_takes_six_queries_however_many_cases(
    department, head, django_assert_max_num_queries
):
    now = timezone.now()

    def build(n: int) -> None:
        for i in range(n):
            proc, _ = old_case(department, days_ago=40 + i, now=now)
            f.complication(proc, window=("early", "delayed")[i % 2], grade=1 + i % 5)

    build(5)
    with CaptureQueriesContext(connection) as small:
        data_quality(user=head, now=now)
    build(45)
    with django_assert_max_num_queries(6), CaptureQueriesContext(connection) as large:
        problems = data_quality(user=head, now=now)
    assert len(small.captured_queries) == len(large.captured_queries)
    assert len(problems["complications_without_follow_up"]) == 50
