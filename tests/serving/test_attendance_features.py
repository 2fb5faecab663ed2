"""Train/serve parity: the attendance row the API scores a booking with, at
the moment it is booked, is the row the nightly flow trains on for that
booking (``models.features.attendance_frame`` at the booking cut-off, as
``pipelines.nightly`` builds it), column by column.

A replay on a real SQLite ledger with a clock that moves: three restaurants
in three time zones, four diners and anonymous guests book over a few weeks;
parties come and go, do not show, cancel (some inside 24 hours), and change
their bookings after the fact (the trainer must then use the version known at
booking). Each booking is scored by the live scorer -- one for the whole
replay, as a worker holds one -- the moment it is made. Then the trainer's
frame is built from a snapshot of the same ledger and the two are compared.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from booking_core.domain import Channel
from booking_core.errors import BookingError, InvalidRequest, UnknownReservation
from booking_core.guests import DinerSpec, create_diner
from booking_core.ledger import Ledger
from booking_core.reservations import (
    BookingRequest,
    advance,
    book,
    cancel,
    modify,
    seat_walk_in,
)
from booking_core.restaurants import add_restaurant
from models.attendance import AttendanceRisk
from models.extract import LedgerSnapshot
from models.features import attendance_frame
from serving.attendance import FEATURE_SCHEMA, AttendanceScorer, Risk
from serving.champions import Loaded
from tests.conftest import bistro_spec
from tests.serving.conftest import Clock

# lead_hours and the shrunk no-show rate are computed with different
# arithmetic on each side (timedelta / hour vs microseconds / 3.6e9; SQL
# counts vs polars sums): equal to the last few bits, no more.
FLOAT_RTOL = 1e-12
STEPS = 260
TIMES = [f"{h:02d}:{m:02d}" for h in range(17, 22) for m in (0, 15, 30, 45)]
REQUESTS = ["", "", "", "Birthday", "window please", "allergic to nuts"]


@dataclass
class Replay:
    served: dict[int, dict[str, Any]] = field(default_factory=dict)
    trained: pl.DataFrame = field(default_factory=pl.DataFrame)
    modified: set[int] = field(default_factory=set)
    # At the end of the replay, every booking's row read one by one and all at once.
    one_by_one: pl.DataFrame = field(default_factory=pl.DataFrame)
    all_at_once: pl.DataFrame = field(default_factory=pl.DataFrame)
    # Every booking's row as known when it was made, read at the end.
    at_booking: pl.DataFrame = field(default_factory=pl.DataFrame)
    scored: dict[str, list[Risk]] = field(default_factory=dict)


def _replay(ledger: Ledger, clock: Clock, seed: int) -> Replay:
    rng = random.Random(seed)
    places = [
        add_restaurant(ledger, bistro_spec()),
        add_restaurant(
            ledger,
            bistro_spec(
                name="Corner Thai",
                timezone="America/New_York",
                country="US",
                currency="USD",
                cuisines=("thai", "street food"),
                price_tier=1,
            ),
        ),
        add_restaurant(
            ledger,
            bistro_spec(
                name="Sushi Bar", timezone="Asia/Tokyo", country="JP", currency="JPY", price_tier=4
            ),
        ),
    ]
    zones = {places[0]: "Europe/London", places[1]: "America/New_York", places[2]: "Asia/Tokyo"}
    diners: list[int | None] = [
        create_diner(ledger, DinerSpec(f"Diner {i}", email=f"d{i}-{seed}@example.com"))
        for i in range(4)
    ]
    diners.append(None)  # a guest without an account
    scorer = AttendanceScorer(ledger)
    out = Replay()
    open_: dict[int, datetime] = {}  # reservation -> planned start
    for _ in range(STEPS):
        # Steps longer than the scorer's one-minute cache of restaurant rates.
        clock.now += timedelta(minutes=rng.randint(61, 300))
        for rid, start in sorted(open_.items()):
            if start <= clock.now:
                del open_[rid]
                if rng.random() < 0.3:
                    advance(ledger, rid, "no_show")
                else:
                    advance(ledger, rid, "seated")
                    advance(ledger, rid, "completed")
        roll = rng.random()
        if roll < 0.12 and open_:
            rid = rng.choice(sorted(open_))
            cancel(ledger, rid)
            del open_[rid]
        elif roll < 0.2 and open_:
            rid = rng.choice(sorted(open_))
            try:
                changed = modify(ledger, rid, party_size=rng.randint(1, 4))
            except BookingError:
                continue
            open_[rid] = changed.start_at
            out.modified.add(rid)
        else:
            place = rng.choice(places)
            today = clock.now.astimezone(ZoneInfo(zones[place])).date()
            request = BookingRequest(
                place,
                today + timedelta(days=rng.choice([0, 1, 1, 2, 3, 5, 8, 13])),
                rng.choice(TIMES),
                rng.choice([1, 2, 2, 2, 3, 4, 6]),
                diner_id=rng.choice(diners),
                guest_name="Guest",
                channel=rng.choice(
                    [Channel.WEB, Channel.WEB, Channel.PHONE, Channel.WIDGET, Channel.AFFILIATE]
                ),
                special_requests=rng.choice(REQUESTS),
            )
            try:
                made = book(ledger, request)
            except BookingError:  # full, or a time already past: a diner would pick another
                continue
            open_[made.id] = made.start_at
            # Scored the moment it is booked, as the API would: now = booked_at.
            out.served[made.id] = scorer.features(made.id).row(0, named=True)
    with LedgerSnapshot.from_ledger(ledger) as snapshot:
        out.trained = attendance_frame(snapshot.frames(), "booking", as_of=clock.now)
    # Shuffled, so the batch must keep the order it was asked in.
    ids = rng.sample(sorted(out.served), len(out.served))
    out.one_by_one = pl.concat([scorer.features(i) for i in ids])
    out.all_at_once = scorer.features_many(ids)
    out.at_booking = scorer.features_at_booking(ids)
    champion = Loaded(
        "attendance_risk",
        "1",
        None,
        # A small ledger: small leaves, and enough rows kept to calibrate on.
        AttendanceRisk(
            n_estimators=30,
            early_stopping_rounds=None,
            num_leaves=4,
            min_child_samples=5,
            calibration_fraction=0.4,
        ).fit(out.trained.filter(pl.col("no_show").is_not_null())),
        clock.now,
    )
    for name, model in (("baseline", None), ("champion", champion)):
        out.scored[name] = [scorer.score(i, model) for i in ids]
        out.scored[f"{name}, all at once"] = scorer.score_many(ids, model)
    return out


@pytest.fixture(scope="module", params=[3, 8])
def replay(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replay]:
    path: Path = tmp_path_factory.mktemp("parity") / "ledger.db"
    ledger = Ledger.open(f"sqlite:///{path}")
    clock = Clock()
    ledger.clock = clock
    yield _replay(ledger, clock, request.param)
    ledger.dispose()


def mismatches(served: dict[str, Any], trained: dict[str, Any]) -> list[str]:
    """The columns on which the two rows differ (floats within FLOAT_RTOL)."""
    wrong = []
    for name, dtype in FEATURE_SCHEMA.items():
        a, b = served[name], trained[name]
        if dtype.is_float() and a is not None and b is not None:
            if not math.isclose(a, b, rel_tol=FLOAT_RTOL, abs_tol=0.0):
                wrong.append(f"{name}: served {a!r}, trained {b!r}")
        elif a != b or type(a) is not type(b):
            wrong.append(f"{name}: served {a!r}, trained {b!r}")
    return wrong


def test_the_served_row_at_booking_is_the_trainers_row(replay: Replay) -> None:
    trained = {r["reservation_id"]: r for r in replay.trained.iter_rows(named=True)}
    assert replay.trained.select(FEATURE_SCHEMA.names()).schema == FEATURE_SCHEMA
    assert set(replay.served) == set(trained)
    wrong = {
        rid: diff
        for rid in sorted(replay.served)
        if (diff := mismatches(replay.served[rid], trained[rid]))
    }
    assert not wrong, f"{len(wrong)} of {len(replay.served)} rows differ: {wrong}"


def test_the_replay_exercises_every_history_feature(replay: Replay) -> None:
    """Parity on rows whose histories are all zero would prove little."""
    frame = replay.trained
    assert frame.height >= 80
    assert frame["diner_prior_bookings"].max() >= 5  # type: ignore[operator]
    assert frame["diner_prior_no_shows"].max() >= 1  # type: ignore[operator]
    assert frame["diner_prior_cancellations"].max() >= 1  # type: ignore[operator]
    assert frame["diner_prior_late_cancellations"].max() >= 1  # type: ignore[operator]
    assert frame["diner_id"].null_count() >= 5
    assert frame["restaurant_prior_no_show_rate"].n_unique() >= 10
    assert frame["deposit_required"].any() and frame["special_requests"].str.len_chars().max()
    assert frame["local_hour"].n_unique() >= 4 and frame["weekday"].n_unique() == 7
    assert frame["cuisine"].n_unique() >= 2
    assert len(replay.modified & set(replay.served)) >= 3


def test_a_perturbed_row_is_caught(replay: Replay) -> None:
    """The comparison has teeth: one feature off by one, or by a hair, is found."""
    rid = max(replay.served, key=lambda r: replay.served[r]["diner_prior_bookings"] or 0)
    trained = replay.trained.filter(pl.col("reservation_id") == rid).row(0, named=True)
    served = replay.served[rid]
    assert mismatches(served, trained) == []
    for name, bump in (
        ("diner_prior_late_cancellations", lambda v: (v or 0) + 1),
        ("restaurant_prior_no_show_rate", lambda v: v * (1 + 1e-9)),
        ("lead_hours", lambda v: v + 1 / 60),
        ("local_hour", lambda v: v + 1),
        ("deposit_required", lambda v: not v),
        ("cuisine", lambda v: "other"),
        ("diner_id", lambda v: None),
    ):
        wrong = mismatches({**served, name: bump(served[name])}, trained)
        assert [w.split(":")[0] for w in wrong] == [name]


def test_a_service_read_at_once_is_the_rows_read_one_by_one(replay: Replay) -> None:
    """The seating plan and the manager's list read a whole service at once:
    the same rows, in the order asked, and the same risks and reasons, by the
    baseline and by a real fitted model."""
    assert replay.all_at_once.height == len(replay.served) >= 80
    assert replay.all_at_once.equals(replay.one_by_one)
    for name in ("baseline", "champion"):
        one, many = replay.scored[name], replay.scored[f"{name}, all at once"]
        assert [r.reservation_id for r in many] == [r.reservation_id for r in one]
        for a, b in zip(one, many, strict=True):
            assert b.probability == pytest.approx(a.probability, rel=1e-9)
            assert [w for w, _ in b.reasons] == [w for w, _ in a.reasons]
            assert (
                (b.source, b.model_version)
                == (a.source, a.model_version)
                == ((name, "1") if name == "champion" else ("baseline", None))
            )
    # The model does tell parties apart, or equal scores would prove nothing.
    assert len({round(r.probability, 6) for r in replay.scored["champion"]}) > 5


def test_rows_read_later_as_at_booking_are_the_trainers_rows(replay: Replay) -> None:
    """Read at the end of the replay, each booking's row as known when it was
    made (what the threshold planner weighs) is the trainer's row: histories
    and rates as of its booking, nothing recorded after. A booking changed
    since is read as it stands now, so its party and time may differ; its
    histories may not."""
    trained = {r["reservation_id"]: r for r in replay.trained.iter_rows(named=True)}
    rows = replay.at_booking.iter_rows(named=True)
    assert replay.at_booking.schema == FEATURE_SCHEMA
    assert replay.at_booking.height == len(replay.served)
    history = {
        "diner_prior_bookings",
        "diner_prior_no_shows",
        "diner_prior_cancellations",
        "diner_prior_late_cancellations",
        "restaurant_prior_no_show_rate",
        "cutoff_at",
        "booked_at",
    }
    wrong = {}
    for row in rows:
        diff = mismatches(row, trained[row["reservation_id"]])
        if row["reservation_id"] in replay.modified:
            diff = [d for d in diff if d.split(":")[0] in history]
        if diff:
            wrong[row["reservation_id"]] = diff
    assert not wrong, f"{len(wrong)} of {len(replay.served)} rows differ: {wrong}"
    # Read now, the same bookings' histories hold what came after booking.
    now = replay.all_at_once.select("reservation_id", "diner_prior_bookings")
    later = now.join(
        replay.at_booking.select("reservation_id", "diner_prior_bookings"),
        on="reservation_id",
        suffix="_at_booking",
    ).filter(pl.col("diner_prior_bookings") != pl.col("diner_prior_bookings_at_booking"))
    assert later.height >= 20


def test_a_batch_with_an_unknown_or_walk_in_booking_is_refused(tmp_path: Path) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        clock = Clock()
        ledger.clock = clock
        place = add_restaurant(ledger, bistro_spec())
        day = (clock.now + timedelta(days=2)).date()
        made = book(ledger, BookingRequest(place, day, "19:00", 2, guest_name="A"))
        walk_in = seat_walk_in(
            ledger, place, 2, now=datetime.combine(day, time(19, 30), ZoneInfo("Europe/London"))
        )
        scorer = AttendanceScorer(ledger)
        assert scorer.features_many([]).height == 0
        assert scorer.features_many([made.id, made.id]).height == 1
        with pytest.raises(UnknownReservation, match="999999"):
            scorer.features_many([made.id, 999_999])
        with pytest.raises(InvalidRequest, match="walk-in"):
            scorer.features_many([made.id, walk_in.id])
        assert scorer.features_at_booking([]).height == 0
        with pytest.raises(UnknownReservation, match="999999"):
            scorer.features_at_booking([made.id, 999_999])
        with pytest.raises(InvalidRequest, match="walk-in"):
            scorer.features_at_booking([walk_in.id])
    finally:
        ledger.dispose()
