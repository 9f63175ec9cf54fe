"""The CSV tables formatted by PostgreSQL (``complications.exports.sql_csv``) are
byte for byte those of the Python path (``complications.exports.table_csv``),
and the endpoint streams them without hanging on an error or a departed client.

The registry is built through the services (time zones with DST, half-hour and
45-minute offsets, DST edges, microseconds, date-only onsets, overrides,
multi-fracture complications, contacts covering subsets, empty optional
fields, quotes, commas and newlines in free text), then a few values only the
ORM can write (nested or exotic facts, odd floats, a pre-1900 onset with a
local-mean-time offset) cover the cells the SQL leaves to Python or rewrites.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, connection, connections
from django.http import StreamingHttpResponse

from complications import exports
from complications.exports import sql_csv
from complications.models import ComplicationEvent
from complications.services import complication_override, complication_record
from registry.services import (
    department_create,
    follow_up_create,
    fracture_create,
    patient_create,
    procedure_create,
)
from tests.conftest import api_client_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

WOUND_INFECTION, PAIN_IN_EXTREMITY = "10048038", "10033425"
KINDS = ("cases", "complications")
FREE_TEXT = 'Dr "Smith", Jones\nand Co\r\n=SUM(A1)'


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _procedure(patient, start: datetime, minutes: int = 75, **fields):
    return procedure_create(
        patient=patient,
        started_at=start,
        ended_at=start + timedelta(minutes=minutes),
        guidance=fields.pop("guidance", "ct"),
        anesthesia=fields.pop("anesthesia", "general"),
        **fields,
    )


def _fractures(procedure, *specs):
    return [
        fracture_create(procedure=procedure, type=t, site=s, side=side, **extra)
        for t, s, side, extra in specs
    ]


@pytest.fixture
def registry(department):
    """Several departments and zones; returns the departments by name."""
    paris = department  # code "A", Europe/Paris
    new_york = department_create(code='NY, "east"', name="New York", time_zone="America/New_York")
    kolkata = department_create(code="KOL", name="Kolkata", time_zone="Asia/Kolkata")
    lord_howe = department_create(code="LHI", name="Lord Howe", time_zone="Australia/Lord_Howe")
    chatham = department_create(code="CHT", name="Chatham", time_zone="Pacific/Chatham")

    def patient(dept, registry_id, birth, sex="female"):
        return patient_create(department=dept, registry_id=registry_id, sex=sex, birth_date=birth)

    # Paris: the spring-forward and fall-back edges, microseconds, a leap-day birthday.
    p1 = patient(paris, 'P,"1"\nx', date(1944, 2, 29))
    spring = _procedure(
        p1,
        datetime(2021, 3, 28, 0, 59, 59, 500000, tzinfo=UTC),  # 01:59:59.5+01:00, ends in CEST
        operator=FREE_TEXT,
        guidance="fluoroscopy",
    )
    s1, s2, s3 = _fractures(
        spring,
        ("pathological", "sacrum", "left", {"aetiology": "metastasis", "screws": 2}),
        ("insufficiency", "acetabulum", "right", {"cement_augmented": True}),
        ("impending", "proximal_femur", "left", {}),
    )
    follow_up_create(procedure=spring, contact_at=spring.ended_at, kind="clinical")  # not after
    follow_up_create(
        procedure=spring,
        contact_at=spring.ended_at + timedelta(microseconds=1),
        kind="clinical",
        fractures=[s1],
    )
    follow_up_create(
        procedure=spring,
        contact_at=spring.ended_at + timedelta(hours=24),  # after the end, not beyond 24 h
        kind="clinical",
        fractures=[s2, s3],
    )
    follow_up_create(
        procedure=spring,
        contact_at=spring.ended_at + timedelta(hours=24, seconds=1),
        kind="clinical",
        fractures=[s3],
    )
    complication_record(
        procedure=spring,
        term=PAIN_IN_EXTREMITY,
        facts={"symptoms": "mild"},
        during_procedure=True,
        fractures=[s1, s3],
        specify='left, "deep"\nwound',
    )
    early = complication_record(
        procedure=spring,
        term=WOUND_INFECTION,
        facts={"intervention": "iv"},
        onset_at=spring.ended_at + timedelta(hours=5, microseconds=250),
        outcome="resolved",
        relatedness="probable",
    )
    complication_override(event=early, grade=4, reason='Judged worse, "clearly"')
    complication_record(
        procedure=spring,
        term=PAIN_IN_EXTREMITY,
        facts={"symptoms": "moderate", "adl": "instrumental"},
        onset_date=date(2021, 4, 20),
        fractures=[s2],
    )
    fall = _procedure(
        p1,
        datetime(2021, 10, 31, 0, 30, tzinfo=UTC),  # 02:30+02:00, the first of the two
        minutes=60,  # ends 02:30+01:00
        anesthesia="sedation",
    )
    (f1,) = _fractures(fall, ("insufficiency", "sacrum", "right", {"aetiology": "osteoporosis"}))
    complication_record(
        procedure=fall,
        term=WOUND_INFECTION,
        facts={"intervention": "oral"},
        onset_at=fall.ended_at + timedelta(days=3),
        outcome="ongoing",
    )
    leap_day = _procedure(p1, datetime(2021, 2, 28, 10, 0, tzinfo=ZoneInfo("Europe/Paris")))
    _fractures(leap_day, ("insufficiency", "iliac", "left", {}))
    march_first = _procedure(p1, datetime(2021, 3, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris")))
    _fractures(march_first, ("insufficiency", "iliac", "right", {}))

    # New York: its own DST edge, the local date before the UTC date.
    p2 = patient(new_york, "NY-2", date(1960, 3, 14), sex="male")
    ny = _procedure(
        p2,
        datetime(2021, 3, 14, 6, 30, tzinfo=UTC),  # 01:30-05:00, ends after 03:00-04:00
        operator="  smith  ",
    )
    n1, n2 = _fractures(
        ny,
        ("pathological", "femoral_neck", "left", {}),
        ("pathological", "pubic_ramus", "left", {}),
    )
    follow_up_create(procedure=ny, contact_at=ny.ended_at + timedelta(days=2), kind="phone")
    complication_record(
        procedure=ny,
        term=PAIN_IN_EXTREMITY,
        facts={"symptoms": "severe"},
        onset_at=ny.ended_at + timedelta(hours=30),
        fractures=[n2],
    )

    # Kolkata (+05:30): the local date is the next day, the patient's birthday.
    p3 = patient(kolkata, "KOL-3", date(1970, 6, 2))
    kol = _procedure(p3, datetime(2019, 6, 1, 20, 0, tzinfo=UTC), guidance="cbct")
    _fractures(kol, ("impending", "other", "right", {"screws": 3}))
    follow_up_create(procedure=kol, contact_at=kol.ended_at + timedelta(hours=1), kind="clinical")

    # Lord Howe (half-hour DST) and Chatham (+12:45/+13:45).
    p4 = patient(lord_howe, "LHI-4", date(1955, 4, 4))
    lhi = _procedure(p4, datetime(2021, 4, 3, 14, 45, tzinfo=UTC), minutes=90)
    _fractures(lhi, ("insufficiency", "sacrum", "left", {}))
    complication_record(
        procedure=lhi,
        term=PAIN_IN_EXTREMITY,
        facts={"symptoms": "mild"},
        onset_at=lhi.ended_at + timedelta(hours=2),
    )
    p5 = patient(chatham, "CHT-5", date(1980, 1, 1))
    cht = _procedure(p5, datetime(2020, 12, 31, 11, 0, tzinfo=UTC))  # 00:45 on Jan 1, local
    c1, c2 = _fractures(
        cht, ("pathological", "sacrum", "right", {}), ("pathological", "iliac", "right", {})
    )
    for fractures in ([c1, c2], [c2]):
        complication_record(
            procedure=cht,
            term=PAIN_IN_EXTREMITY,
            facts={"symptoms": "mild"},
            onset_at=cht.ended_at + timedelta(days=1, hours=1),
            fractures=fractures,
        )

    # What only the ORM writes: facts the SQL must leave to Python or reorder, odd floats,
    # an onset before 1900 (Paris local mean time, +00:09:21), empty facts.
    odd = [
        ({"b": {"z": 1, "a": [1, 2.5]}, "a": 1e-07}, 1e-05),
        ({"ab": 1, "b": 2.0, "é": "x", "Z": None, "t": True}, 24.0),
        ([1, "two"], 1234567890123456.5),
        ("text, with comma", float("nan")),
        ({}, -0.0),
        ({"n": 12345678901234567890, "x": 0.1}, 1e16),
        ({"q": 'say "hi"\n'}, float("inf")),
        (3.0, 0.30000000000000004),
    ]
    assert ComplicationEvent.objects.count() == len(odd)
    events = list(ComplicationEvent.objects.order_by("pk"))
    for event, (facts, hours) in zip(events, odd, strict=False):
        ComplicationEvent.objects.filter(pk=event.pk).update(facts=facts, hours_after_end=hours)
    ComplicationEvent.objects.filter(pk=events[1].pk).update(
        onset_at=datetime(1850, 6, 1, 12, 0, 0, 7, tzinfo=UTC), cirse_grade=3, sir_class="B"
    )
    return {"paris": paris, "new_york": new_york}


FILTERS = [
    {},
    {"date_from": date(2021, 3, 1), "date_to": date(2021, 3, 31)},
    {"fracture_type": "pathological"},
    {"site": "sacrum"},
    {"guidance": "fluoroscopy"},
    {"operator": "SMITH"},
    {"date_from": date(2030, 1, 1)},  # nothing
]


def _both(kind: str, selection: exports.Selection) -> tuple[bytes, bytes]:
    python = "".join(exports.table_csv(kind, selection)).encode()
    sql = "".join(sql_csv.table_csv(kind, selection, batch=2)).encode()
    return python, sql


@pytest.mark.parametrize("who", ["superuser", "department member"])
def test_the_sql_tables_are_the_python_tables_byte_for_byte(registry, admin_user, head, who):
    user = admin_user if who == "superuser" else head
    filters = [*FILTERS, {"department": registry["paris"].pk}]
    if who == "superuser":
        filters.append({"department": registry["new_york"].pk})
    for kind in KINDS:
        for chosen in filters:
            selection = exports.Selection.for_user(user, chosen)
            python, sql = _both(kind, selection)
            assert sql == python, (kind, chosen)
    # The dataset is what it claims to be: rows, quoted text, Python-formatted facts.
    everything = exports.Selection.for_user(user, {})
    python, _ = _both("complications", everything)
    if who == "superuser":
        assert python.count(b"\r\n") >= 9  # the header and eight complications
        assert b'"P,""1""\nx"' in python  # a quoted registry id
        assert b"1850-06-01T12:09:21.000007+00:09:21" in python
        assert b'"{""Z"": null, ""ab"": 1, ""b"": 2.0, ""t"": true, ""\xc3\xa9"": ""x""}"' in python
    else:
        assert b"registry_id" not in python and b'P,""1' not in python


def test_a_job_selection_of_departments_is_kept(registry, admin_user):
    selection = exports.Selection.for_user(admin_user, {}, departments=[registry["new_york"].pk])
    for kind in KINDS:
        python, sql = _both(kind, selection)
        assert sql == python
        assert python.count(b"\r\n") > 1


@pytest.mark.parametrize("kind", KINDS)
def test_the_endpoint_streams_the_sql_tables(registry, head, kind):
    selection = exports.Selection.for_user(head, {"site": "sacrum"})
    expected = "".join(exports.table_csv(kind, selection)).encode()
    response = api_client_for(head).get(f"/api/v1/export/{kind}.csv", {"site": "sacrum"})
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    with deadline(30):
        assert b"".join(response.streaming_content) == expected


class _FailingCursor:
    """A server-side cursor whose second fetch fails, as a lost connection would."""

    def __init__(self, cursor):
        self.cursor, self.fetches = cursor, 0

    def __enter__(self):
        self.cursor.__enter__()
        return self

    def __exit__(self, *exc):
        return self.cursor.__exit__(*exc)

    def execute(self, *args):
        return self.cursor.execute(*args)

    def fetchmany(self, size):
        self.fetches += 1
        if self.fetches == 2:
            raise DatabaseError("connection lost mid-stream")
        return self.cursor.fetchmany(size)


def test_an_error_mid_stream_ends_the_stream_and_leaves_the_connection_usable(
    registry, head, monkeypatch
):
    monkeypatch.setattr(sql_csv, "BATCH", 1)
    cls = type(connections["default"])
    real = cls.chunked_cursor
    monkeypatch.setattr(cls, "chunked_cursor", lambda self: _FailingCursor(real(self)))
    response = api_client_for(head).get("/api/v1/export/cases.csv")
    assert response.status_code == 200
    received = []
    with deadline(30), pytest.raises(DatabaseError, match="mid-stream"):
        for chunk in response.streaming_content:
            received.append(chunk)
    assert len(received) == 2  # the header and the first row, then the error
    assert received[0].startswith(b"fracture_id,")
    monkeypatch.undo()
    assert not connection.needs_rollback
    assert ComplicationEvent.objects.exists()  # the connection still answers


def test_a_database_error_mid_stream_is_raised_not_hung(registry, head):
    """A real error raised by PostgreSQL while rows are fetched (a time zone it does
    not know) ends the stream with that error and rolls back only the export."""
    from registry.models import Department

    Department.objects.filter(pk=registry["paris"].pk).update(time_zone="Mars/Olympus_Mons")
    response = api_client_for(head).get("/api/v1/export/complications.csv")
    assert response.status_code == 200
    with deadline(30), pytest.raises(DatabaseError):
        b"".join(response.streaming_content)
    assert Department.objects.filter(time_zone="Mars/Olympus_Mons").exists()


def test_a_client_that_goes_away_closes_the_cursor_and_the_transaction(
    registry, admin_user, monkeypatch
):
    monkeypatch.setattr(sql_csv, "BATCH", 1)
    depth = len(connection.savepoint_ids)
    response = api_client_for(admin_user).get("/api/v1/export/complications.csv")
    stream = iter(response.streaming_content)
    next(stream), next(stream)  # the header and one row: the export's transaction is open
    assert len(connection.savepoint_ids) == depth + 1
    # The client goes away: the server closes the response, here through the test client's
    # own wrapper, which keeps the end-of-request signal from closing the test's connection.
    response._iterator.close()
    assert len(connection.savepoint_ids) == depth
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors")
        assert cursor.fetchone()[0] == 0
