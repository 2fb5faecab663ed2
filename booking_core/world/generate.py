"""Build a whole synthetic world into a ledger, deterministically from a seed
and the world's "today" (history runs up to today's start in UTC; bookings
for the weeks after it are on the books)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

import numpy as np
import sqlalchemy as sa
from faker import Faker

from booking_core.floor import load_floor
from booking_core.ledger import Ledger
from booking_core.outbox import hold_feed
from booking_core.restaurants import RestaurantSpec, create_restaurant
from booking_core.schema import (
    deposit_payments,
    diners,
    dining_areas,
    guest_notes,
    holidays,
    outbox,
    pos_checks,
    reservation_tables,
    reservations,
    restaurants,
    reviews,
    table_claims,
    turnaways,
    waitlist_entries,
    world_diner_truth,
    world_reservation_truth,
)
from booking_core.world.catalogue import ALLERGIES, AMBIENCES, COUNTRIES, CUISINES, DIETARY, SEATING
from booking_core.world.history import DaySimulator, Rows
from booking_core.world.people import Diner, affinity
from booking_core.world.places import PlaceTraits, make_place

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class WorldSize:
    name: str
    restaurants: int
    history_days: int
    future_days: int
    diners_per_restaurant: int


SIZES: dict[str, WorldSize] = {
    "tiny": WorldSize("tiny", 3, 21, 7, 150),
    "small": WorldSize("small", 8, 60, 14, 150),
    "demo": WorldSize("demo", 24, 150, 28, 100),
    "large": WorldSize("large", 200, 180, 28, 100),
}


@dataclass
class WorldSummary:
    size: str
    seed: int
    today: date
    restaurants: int = 0
    tables: int = 0
    diners: int = 0
    reservations: int = 0
    states: dict[str, int] = field(default_factory=dict)
    walk_ins: int = 0
    waitlist: int = 0
    turnaways: int = 0
    checks: int = 0
    reviews: int = 0
    covers_per_day: float = 0.0
    no_show_rate: float = 0.0
    cancellation_rate: float = 0.0
    seconds: float = 0.0


def _diners(
    rng: np.random.Generator,
    fakers: dict[str, Faker],
    city_weights: dict[str, float],
    city_country: dict[str, Any],
    n: int,
    first_id: int,
    created: datetime,
) -> tuple[list[Diner], list[dict[str, Any]], list[dict[str, Any]]]:
    cities = sorted(city_weights)
    p = np.array([city_weights[c] for c in cities])
    people, rows, truths = [], [], []
    cuisines = sorted(CUISINES)
    for k in range(n):
        diner_id = first_id + k
        city = cities[int(rng.choice(len(cities), p=p / p.sum()))]
        country = city_country[city]
        fake = fakers[country.faker_locale]
        first, last = fake.first_name(), fake.last_name()
        alpha = np.full(len(cuisines), 0.25)
        alpha[[cuisines.index(c) for c in cuisines if c in _home(country.code)]] = 0.8
        taste = dict(zip(cuisines, (float(x) for x in rng.dirichlet(alpha)), strict=True))
        ambience = dict(zip(AMBIENCES, (float(x) for x in rng.dirichlet(np.ones(6))), strict=True))
        diet = tuple(str(x) for x in rng.choice(DIETARY, size=1)) if rng.random() < 0.12 else ()
        allergy = (
            tuple(str(x) for x in rng.choice(ALLERGIES, size=1)) if rng.random() < 0.07 else ()
        )
        seats = tuple(str(x) for x in rng.choice(SEATING, size=1)) if rng.random() < 0.3 else ()
        flakiness = float(rng.normal())
        d = Diner(
            id=diner_id,
            city=city,
            locale=country.locale,
            first_name=first,
            activity=float(rng.lognormal(0, 0.9)),
            flakiness=flakiness,
            cuisine_affinity=taste,
            price_preference=float(np.clip(rng.normal(2.3, 0.8), 0.5, 4.5)),
            ambience_affinity=ambience,
            lead_days_mean=float(rng.lognormal(math.log(4.0), 0.7)),
            party_habit=int(rng.choice([1, 2, 2, 2, 2, 3, 4, 4, 5, 6])),
            channel_p=tuple(float(x) for x in rng.dirichlet([4, 1.5, 1, 1.5])),  # type: ignore[arg-type]
            dietary=diet,
            allergies=allergy,
            seating=seats,
            needs_access=rng.random() < 0.02,
            birthday=(int(rng.integers(1, 13)), int(rng.integers(1, 29))),
            anniversary=(int(rng.integers(1, 13)), int(rng.integers(1, 29)))
            if rng.random() < 0.5
            else None,
        )
        people.append(d)
        rows.append(
            {
                "id": diner_id,
                "name": f"{first} {last}",
                "email": f"diner{diner_id}@example.com",
                "phone": fake.phone_number()[:40],
                "locale": country.locale,
                "dietary": list(diet),
                "allergies": list(allergy),
                "seating_preferences": list(seats),
                "marketing_consent": bool(rng.random() < 0.45),
                "home_latitude": None,
                "home_longitude": None,
                "created_at": created,
            }
        )
        truths.append(
            {
                "diner_id": diner_id,
                "cuisine_affinity": taste,
                "price_preference": d.price_preference,
                "ambience_affinity": ambience,
                "reliability": d.reliability,
            }
        )
    return people, rows, truths


def _home(country: str) -> tuple[str, ...]:
    from booking_core.world.catalogue import COUNTRY_CUISINES

    return COUNTRY_CUISINES[country]


def _insert(
    conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], chunk: int = 20000
) -> None:
    for i in range(0, len(rows), chunk):
        conn.execute(table.insert(), rows[i : i + chunk])


def _flush(conn: sa.Connection, rows: Rows) -> None:
    txid = hold_feed(conn)
    for e in rows.events:
        e["txid"] = txid
    _insert(conn, reservations, rows.reservations)
    _insert(conn, deposit_payments, rows.deposit_payments)
    _insert(conn, reservation_tables, rows.reservation_tables)
    _insert(conn, table_claims, rows.table_claims)
    _insert(conn, world_reservation_truth, rows.truth)
    _insert(conn, pos_checks, rows.checks)
    _insert(conn, reviews, rows.reviews)
    for entry in rows.waitlist:
        for column in ("notified_at", "seated_at", "left_at", "reservation_id"):
            entry.setdefault(column, None)
    _insert(conn, waitlist_entries, rows.waitlist)
    _insert(conn, turnaways, rows.turnaways)
    rows.events.sort(key=lambda e: e["occurred_at"])
    _insert(conn, outbox, rows.events)


@dataclass
class Cast:
    """Who is in a world before any history: restaurants (spec and latent
    traits, in creation order) and diners, with the random state the history
    goes on with."""

    rng: np.random.Generator
    places: list[tuple[RestaurantSpec, PlaceTraits]]
    people: list[Diner]
    diner_rows: list[dict[str, Any]]
    truth_rows: list[dict[str, Any]]


def _cast(world: WorldSize, seed: int, today: date) -> Cast:
    # The draws happen in exactly the order generate_world has always made
    # them, so a world and its replayed cast agree diner by diner.
    now = datetime.combine(today, dtime(), tzinfo=UTC)
    first_day = today - timedelta(days=world.history_days)
    last_day = today + timedelta(days=world.future_days)
    rng = np.random.default_rng(seed)
    fakers = {c.faker_locale: Faker(c.faker_locale) for c in COUNTRIES}
    for k, fake in enumerate(fakers.values()):
        fake.seed_instance(seed * 1000 + k)
    places: list[tuple[RestaurantSpec, PlaceTraits]] = []
    for i in range(world.restaurants):
        country = COUNTRIES[i % len(COUNTRIES)]
        city = country.cities[int(rng.integers(0, len(country.cities)))]
        fake = fakers[country.faker_locale]
        places.append(
            make_place(
                rng, i, country, city, fake.first_name(), fake.last_name(), first_day, last_day
            )
        )
    weights: dict[str, float] = {}
    city_country: dict[str, Any] = {}
    for _, t in places:
        weights[t.city] = weights.get(t.city, 0.0) + 1.0
        city_country[t.city] = t.country
    n_diners = world.restaurants * world.diners_per_restaurant
    people, diner_rows, truth_rows = _diners(
        rng, fakers, weights, city_country, n_diners, 1, now - timedelta(days=400)
    )
    return Cast(rng, places, people, diner_rows, truth_rows)


def world_diners(size: str | WorldSize, seed: int, today: date) -> list[Diner]:
    """The diners of the world ``generate_world(size, seed, today)`` builds,
    with the facts the ledger does not hold (birthday, anniversary, need for
    wheelchair access, latent tastes): labels for benchmarks, never features.
    Diner ids are those in the ledger."""
    world = SIZES[size] if isinstance(size, str) else size
    return _cast(world, seed, today).people


def generate_world(
    ledger: Ledger,
    *,
    size: str | WorldSize = "demo",
    seed: int = 7,
    today: date | None = None,
    progress: Progress | None = None,
) -> WorldSummary:
    """Write a world into an empty ledger and summarise it."""
    began = time.perf_counter()
    world = SIZES[size] if isinstance(size, str) else size
    today = today or datetime.now(UTC).date()
    now = datetime.combine(today, dtime(), tzinfo=UTC)
    first_day = today - timedelta(days=world.history_days)
    last_day = today + timedelta(days=world.future_days)
    report = progress or (lambda *_: None)

    with ledger.write() as conn:
        existing = conn.execute(sa.select(sa.func.count()).select_from(restaurants)).scalar_one()
        if existing:
            from booking_core.errors import InvalidRequest

            raise InvalidRequest("The ledger already holds restaurants; seed an empty ledger.")
        cast = _cast(world, seed, today)
        rng = cast.rng
        places: list[tuple[int, PlaceTraits]] = []
        for i, (spec, traits) in enumerate(cast.places):
            places.append((create_restaurant(conn, spec, now - timedelta(days=365)), traits))
            report("restaurants", i + 1, world.restaurants)
        holiday_rows = [
            {"country": c.code, "local_date": date(y, m, d), "name": n}
            for c in COUNTRIES
            for y in range(first_day.year, last_day.year + 1)
            for m, d, n in c.holidays
        ]
        _insert(conn, holidays, holiday_rows)
        people, diner_rows, truth_rows = cast.people, cast.diner_rows, cast.truth_rows
        _insert(conn, diners, diner_rows)
        _insert(conn, world_diner_truth, truth_rows)
        notes = [
            {
                "diner_id": d.id,
                "restaurant_id": None,
                "author": "host",
                "text": f"Allergic to {d.allergies[0]}: confirm with the kitchen.",
                "created_at": now - timedelta(days=30),
            }
            for d in people
            if d.allergies and rng.random() < 0.3
        ]
        _insert(conn, guest_notes, notes)
        next_reservation = conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(reservations.c.id), 0))
        ).scalar_one()
        area_names = dict(conn.execute(sa.select(dining_areas.c.id, dining_areas.c.name)).all())
        floors = {rid: load_floor(conn, rid) for rid, _ in places}

    by_city: dict[str, list[Diner]] = {}
    for d in people:
        by_city.setdefault(d.city, []).append(d)
    next_id = [int(next_reservation)]
    diner_starts: dict[int, list[datetime]] = {}
    days = [first_day + timedelta(days=k) for k in range((last_day - first_day).days + 1)]
    for n, (rid, traits) in enumerate(places):
        floor = floors[rid]
        pool = by_city[traits.city]
        scores = np.array(
            [
                d.activity
                * math.exp(affinity(d, traits.cuisine, traits.price_tier, traits.ambience))
                for d in pool
            ]
        )
        p = scores / scores.sum()
        sim = DaySimulator(rng, floor, traits, now, next_id, diner_starts, Rows())
        sim.area_names = area_names
        for day in days:
            season = 1.0 + 0.12 * math.sin(2 * math.pi * (day.timetuple().tm_yday - 80) / 365.0)
            sim.run(day, pool, p, season)
            sim.flush()
        with ledger.write() as conn:
            _flush(conn, sim.rows)
        report("history", n + 1, len(places))

    with ledger.write() as conn:
        if conn.dialect.name == "postgresql":
            for table in ("reservations", "diners"):
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
                )
    summary = summarise(ledger, world.name, seed, today, first_day)
    summary.seconds = time.perf_counter() - began
    return summary


def summarise(ledger: Ledger, size: str, seed: int, today: date, first_day: date) -> WorldSummary:
    from booking_core.schema import dining_tables

    s = WorldSummary(size=size, seed=seed, today=today)
    r = reservations
    with ledger.read() as conn:
        count = sa.select(sa.func.count())
        s.restaurants = conn.execute(count.select_from(restaurants)).scalar_one()
        s.tables = conn.execute(count.select_from(dining_tables)).scalar_one()
        s.diners = conn.execute(count.select_from(diners)).scalar_one()
        s.states = dict(
            conn.execute(sa.select(r.c.state, sa.func.count()).group_by(r.c.state)).all()
        )
        s.reservations = sum(s.states.values())
        s.walk_ins = conn.execute(count.where(r.c.channel == "walk_in")).scalar_one()
        s.waitlist = conn.execute(count.select_from(waitlist_entries)).scalar_one()
        s.turnaways = conn.execute(count.select_from(turnaways)).scalar_one()
        s.checks = conn.execute(count.select_from(pos_checks)).scalar_one()
        s.reviews = conn.execute(count.select_from(reviews)).scalar_one()
        past = sa.and_(
            r.c.service_date < today, r.c.service_date >= first_day, r.c.channel != "walk_in"
        )
        booked = conn.execute(count.where(past)).scalar_one()
        covers = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(r.c.party_size), 0)).where(
                r.c.state == "completed", r.c.service_date < today
            )
        ).scalar_one()
    days = max((today - first_day).days, 1)
    s.covers_per_day = covers / days / max(s.restaurants, 1)
    if booked:
        with ledger.read() as conn:
            s.no_show_rate = (
                conn.execute(count.where(past, r.c.state == "no_show")).scalar_one() / booked
            )
            s.cancellation_rate = (
                conn.execute(count.where(past, r.c.state == "cancelled")).scalar_one() / booked
            )
    return s
