"""Placing an onset in its window: per-procedural, early (< 24 h) or delayed (>= 24 h)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complications.ctcae import (
    DELAYED,
    EARLY,
    PER_PROCEDURAL,
    Timing,
    TimingError,
    classify_onset,
)

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2020, 3, 4, 9, 0, tzinfo=PARIS)
END = datetime(2020, 3, 4, 10, 30, tzinfo=PARIS)


def classify(**onset: object) -> Timing:
    return classify_onset(started_at=START, ended_at=END, time_zone="Europe/Paris", **onset)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("onset", "window", "hours"),
    [
        (START, PER_PROCEDURAL, -1.5),
        (START + timedelta(minutes=45), PER_PROCEDURAL, -0.75),
        (END, PER_PROCEDURAL, 0.0),
        (END + timedelta(seconds=1), EARLY, 0.0),
        (END + timedelta(hours=1, minutes=20, seconds=24), EARLY, 1.34),
        (END + timedelta(hours=24) - timedelta(seconds=1), EARLY, 24.0),
        (END + timedelta(hours=24), DELAYED, 24.0),
        # 30 calendar days in Paris include the spring clock change: 719 hours elapse
        (END + timedelta(days=30), DELAYED, 719.0),
        # the same instants written in another offset
        (datetime(2020, 3, 4, 9, 30, tzinfo=UTC), PER_PROCEDURAL, 0.0),
        (datetime(2020, 3, 5, 9, 30, tzinfo=UTC), DELAYED, 24.0),
    ],
)
def test_it_places_a_timed_onset_in_its_window(onset: datetime, window: str, hours: float) -> None:
    assert classify(onset_at=onset) == Timing(window, hours)


def test_an_onset_during_the_procedure_is_per_procedural_without_hours() -> None:
    assert classify(during_procedure=True) == Timing(PER_PROCEDURAL, None)


def test_it_refuses_an_onset_before_the_procedure_started() -> None:
    with pytest.raises(TimingError) as caught:
        classify(onset_at=START - timedelta(minutes=1))
    assert caught.value.field == "onset_at"
    assert "onset is before the procedure started at 2020-03-04T09:00+01:00" in str(caught.value)


@pytest.mark.parametrize(
    "onset",
    [
        {},
        {"onset_at": END, "onset_date": date(2020, 3, 5)},
        {"onset_at": END, "during_procedure": True},
        {"onset_date": date(2020, 3, 6), "during_procedure": True},
    ],
)
def test_it_needs_exactly_one_way_of_giving_the_onset(onset: dict[str, object]) -> None:
    with pytest.raises(TimingError, match="exactly one of onset_at, onset_date") as caught:
        classify(**onset)
    assert caught.value.field == "non_field_errors"


def test_it_refuses_a_naive_onset() -> None:
    with pytest.raises(TimingError, match="needs a time zone") as caught:
        classify(onset_at=datetime(2020, 3, 4, 12, 0))
    assert caught.value.field == "onset_at"


@pytest.mark.parametrize(
    ("started_at", "ended_at", "message"),
    [
        (datetime(2020, 3, 4, 9, 0), END, "started_at has no time zone"),
        (START, datetime(2020, 3, 4, 10, 30), "ended_at has no time zone"),
        (END, START, "ends before it starts"),
    ],
)
def test_it_refuses_impossible_procedure_times(
    started_at: datetime, ended_at: datetime, message: str
) -> None:
    with pytest.raises(TimingError, match=message) as caught:
        classify_onset(
            started_at=started_at, ended_at=ended_at, time_zone=PARIS, during_procedure=True
        )
    assert caught.value.field == "non_field_errors"


def test_it_refuses_an_unknown_time_zone() -> None:
    with pytest.raises(TimingError, match="Unknown time zone 'Europe/Atlantis'"):
        classify_onset(
            started_at=START, ended_at=END, time_zone="Europe/Atlantis", during_procedure=True
        )


def test_a_date_wholly_in_the_delayed_window_is_delayed_without_hours() -> None:
    assert classify(onset_date=date(2020, 3, 6)) == Timing(DELAYED, None)


@pytest.mark.parametrize(
    ("ended_at", "message"),
    [
        (datetime(2020, 3, 4, 23, 59, tzinfo=PARIS), "early window and partly in the delayed"),
        (datetime(2020, 3, 5, 0, 0, tzinfo=PARIS), "per-procedural window and partly in the early"),
    ],
)
def test_an_ordinary_24_hour_day_never_lies_wholly_in_the_early_window(
    ended_at: datetime, message: str
) -> None:
    with pytest.raises(TimingError, match=message):
        classify_onset(
            started_at=START, ended_at=ended_at, time_zone=PARIS, onset_date=date(2020, 3, 5)
        )


def test_it_refuses_a_date_that_straddles_two_windows() -> None:
    with pytest.raises(TimingError) as caught:
        classify(onset_date=date(2020, 3, 5))
    assert caught.value.field == "onset_date"
    message = str(caught.value)
    assert "2020-03-05" in message
    assert "partly in the early window and partly in the delayed window" in message
    assert "give the time of onset" in message


def test_it_refuses_the_procedure_day_and_offers_during_the_procedure() -> None:
    with pytest.raises(TimingError) as caught:
        classify(onset_date=date(2020, 3, 4))
    assert "partly before the procedure and partly in the early window" in str(caught.value)


def test_a_day_ending_during_the_procedure_asks_for_the_time_or_during_the_procedure() -> None:
    with pytest.raises(TimingError, match="or mark it as during the procedure"):
        classify_onset(
            started_at=datetime(2020, 3, 4, 21, 0, tzinfo=PARIS),
            ended_at=datetime(2020, 3, 5, 1, 0, tzinfo=PARIS),
            time_zone=PARIS,
            onset_date=date(2020, 3, 4),
        )


def test_a_day_wholly_inside_a_long_procedure_is_per_procedural() -> None:
    timing = classify_onset(
        started_at=datetime(2020, 3, 4, 0, 0, tzinfo=PARIS),
        ended_at=datetime(2020, 3, 5, 1, 0, tzinfo=PARIS),
        time_zone=PARIS,
        onset_date=date(2020, 3, 4),
    )
    assert timing == Timing(PER_PROCEDURAL, None)


def test_it_refuses_a_date_before_the_procedure() -> None:
    with pytest.raises(TimingError) as caught:
        classify(onset_date=date(2020, 3, 3))
    assert caught.value.field == "onset_date"
    assert "onset is before the procedure started" in str(caught.value)


def test_the_spring_dst_day_has_23_hours_so_it_can_lie_wholly_in_the_early_window() -> None:
    # 2020-03-29 in Paris runs from 2020-03-28T23:00Z to 2020-03-29T22:00Z.
    started = datetime(2020, 3, 28, 22, 0, tzinfo=PARIS)
    late_end = datetime(2020, 3, 28, 23, 30, tzinfo=PARIS)  # + 24 h = 2020-03-29T22:30Z
    early_end = datetime(2020, 3, 28, 22, 45, tzinfo=PARIS)  # + 24 h = 2020-03-29T21:45Z
    day = date(2020, 3, 29)
    assert classify_onset(
        started_at=started, ended_at=late_end, time_zone="Europe/Paris", onset_date=day
    ) == Timing(EARLY, None)
    with pytest.raises(TimingError, match="early window and partly in the delayed window"):
        classify_onset(
            started_at=started, ended_at=early_end, time_zone="Europe/Paris", onset_date=day
        )


def test_the_autumn_dst_day_has_25_hours_so_it_never_fits_the_24_hour_early_window() -> None:
    # 2020-10-25 in Paris runs from 2020-10-24T22:00Z to 2020-10-25T23:00Z.
    started = datetime(2020, 10, 24, 22, 0, tzinfo=PARIS)
    ended = datetime(2020, 10, 24, 23, 59, 59, tzinfo=PARIS)  # 21:59:59Z, before the day
    with pytest.raises(TimingError, match="early window and partly in the delayed window"):
        classify_onset(
            started_at=started, ended_at=ended, time_zone=PARIS, onset_date=date(2020, 10, 25)
        )


@pytest.mark.parametrize(
    ("ended_at", "onset_at", "window", "hours"),
    [
        # wall clocks say 24 h 30 min, but the clocks went forward: 23.5 h elapsed
        (datetime(2020, 3, 28, 23, 0, tzinfo=PARIS), datetime(2020, 3, 29, 23, 30, tzinfo=PARIS),
         EARLY, 23.5),
        # wall clocks say 23 h 30 min, but the clocks went back: 24.5 h elapsed
        (datetime(2020, 10, 24, 23, 0, tzinfo=PARIS), datetime(2020, 10, 25, 22, 30, tzinfo=PARIS),
         DELAYED, 24.5),
    ],
)  # fmt: skip
def test_it_measures_elapsed_hours_across_dst_changes(
    ended_at: datetime, onset_at: datetime, window: str, hours: float
) -> None:
    timing = classify_onset(
        started_at=ended_at - timedelta(hours=1),
        ended_at=ended_at,
        time_zone=PARIS,
        onset_at=onset_at,
    )
    assert timing == Timing(window, hours)


@settings(max_examples=300, deadline=None)
@given(
    end_offset=st.integers(min_value=0, max_value=60 * 24 * 400),
    duration=st.integers(min_value=0, max_value=600),
    days_after=st.integers(min_value=-2, max_value=4),
    zone=st.sampled_from(["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "UTC"]),
)
def test_an_accepted_date_agrees_with_every_instant_of_that_day(
    end_offset: int, duration: int, days_after: int, zone: str
) -> None:
    tz = ZoneInfo(zone)
    ended = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=end_offset)
    started = ended - timedelta(minutes=duration)
    day = ended.astimezone(tz).date() + timedelta(days=days_after)
    try:
        timing = classify_onset(started_at=started, ended_at=ended, time_zone=zone, onset_date=day)
    except TimingError as error:
        assert error.field == "onset_date"
        return
    assert timing.hours_after_end is None
    first = datetime(day.year, day.month, day.day, tzinfo=tz)
    last = datetime(day.year, day.month, day.day, 23, 59, 59, 999999, tzinfo=tz)
    for instant in (first, last):
        at = classify_onset(started_at=started, ended_at=ended, time_zone=zone, onset_at=instant)
        assert at.window == timing.window


@settings(max_examples=300, deadline=None)
@given(seconds=st.integers(min_value=0, max_value=3 * 24 * 3600))
def test_the_window_follows_the_elapsed_time_after_the_end(seconds: int) -> None:
    timing = classify(onset_at=END + timedelta(seconds=seconds))
    if seconds == 0:
        assert timing.window == PER_PROCEDURAL
    elif seconds < 24 * 3600:
        assert timing.window == EARLY
    else:
        assert timing.window == DELAYED
    assert timing.hours_after_end == round(seconds / 3600, 2)
