"""The booking core's seating decisions against the seating simulator's, on
the same simulated request streams.

    python benchmarks/seating_product.py [--nights 2] [--restaurants 2] [--seed 101]

The seating policies are measured in the simulator (``optimizer.simulation``,
``benchmarks/seating.py``); the product implements them separately (a
restaurant's ``table_policy``, ``admission_control`` and ``booked_stays``,
``optimizer.pooled_policy.PooledAcceptance`` plugged into
``booking_core.daybook.table_policy``, demand history from
``booking_core.past_demand``, steering through ``find_times``). This replays
the booking phase of simulated nights (every request made before the service
opens, in order) through both and compares, per policy, the requests
accepted, the covers booked, and the share of requests both sides decide
alike, with a breakdown of why they differ.

Each night's restaurant is created in a fresh SQLite ledger from the
simulator's floor (tables, joinable combinations, one dinner period with the
night's last seating, closing and turn times). Its past demand
(``Night.demand``, the history the simulator's bid prices forecast from) is
written as past bookings of the same weekday eight weeks before the service
date, so ``past_demand`` reads the same sizes, seating minutes and lead
times. What cannot match: the booking core reads the last 56 days before
*today*, so a request made more than 56 days ahead sees no history (no
admission control) where the simulator prices it (counted as
``requests_without_history``).

Each request is replayed with the ledger's clock at its time: a guest with no
flexibility books the time asked; a flexible one searches their window
(``find_times``) and books the ``recommended`` time when the policy steers,
else the first time that fits in the simulator's order (the time asked, then
15 minutes earlier, later, 30 earlier, ...). A refused guest asks for the
time they wanted, so the refusal is recorded as a turn-away, as the
simulator counts every request received. Predicted stays come from a
``StayForecast`` that books the request its stay by the simulator's rule
(``SeatingPolicy.stay_minutes``, reset added), and a request still to come
(what admission control holds tables for) the stay the rule gives the
restaurant's past stays of its size, as the simulator does.

Known difference: the booking core holds tables in 15-minute granules (a
50-minute stay holds 60), the simulator in minutes rounded up to 5. For the
predicted-stays policies the simulator is also replayed with stays rounded
up to whole granules; a request decided differently by the product and the
simulator, but alike by the product and the granule simulator, is put down
to granule rounding. Before the service opens this cannot happen: every
booking starts on the 15-minute grid, so two bookings of one table overlap
in minutes exactly when they overlap in granules (the bid prices' LP holds
granules on both sides); rounding matters only once parties sit down at
other minutes. The other differences are named by the side that refused:
on price (admission control), for want of a table (``search found none``:
a flexible guest's search offered nothing, which for a pooled restaurant
is the quick re-pack only, and the time asked was refused too), or on
pacing; or, when both took the request, another time (``steering tie``:
the two times' displaced covers are within the product's tie margin,
``TIE_COVERS``; both sides take the tied time nearest the one asked, so a
tie left here is one the two sides priced a little differently) or other
tables. Once the two sides decide
one request differently their books differ, and later requests may differ
for that reason alone: each night's first difference is counted apart.

Seeds: 101 (the calibration nights) by default, with the calibration's
restaurants (a synthetic world of seed 11); never the benchmark's seeds.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table  # noqa: E402

from booking_core.availability import find_times, get_floor  # noqa: E402
from booking_core.daybook import table_policy  # noqa: E402
from booking_core.domain import (  # noqa: E402
    GRANULE_MINUTES,
    TIE_COVERS,
    Channel,
    ReservationState,
)
from booking_core.errors import (  # noqa: E402
    BookingError,
    NoTableFree,
    PacingLimitReached,
    TablesKeptForLaterParties,
)
from booking_core.floor import Floor  # noqa: E402
from booking_core.guests import DinerSpec, diner_row  # noqa: E402
from booking_core.ledger import Ledger, create_ledger_engine, upgrade  # noqa: E402
from booking_core.past_demand import LOOKBACK_DAYS, service_history  # noqa: E402
from booking_core.reservations import BookingRequest, book  # noqa: E402
from booking_core.restaurants import (  # noqa: E402
    CombinationSpec,
    PeriodSpec,
    RestaurantSpec,
    TableSpec,
    add_restaurant,
    set_seating_settings,
    table_ids_by_name,
)
from booking_core.schema import diners, reservations  # noqa: E402
from booking_core.stays import stay_forecast  # noqa: E402
from optimizer.pooled_policy import PooledAcceptance  # noqa: E402
from optimizer.simulation import (  # noqa: E402
    LOCK_ADMISSION,
    LOCK_AT_BOOKING,
    LOCK_PREDICTIVE,
    POOLED_PREDICTIVE,
    Night,
    Request,
    SeatingPolicy,
    _Offer,
    _Service,
    percentile,
)

RESULTS = ROOT / "benchmarks" / "results" / "seating_product.json"
RECRUIT = ROOT.parent / "shared" / "data" / "recruit"
# A Saturday (the world's restaurants' nights are their Saturday dinners).
SERVICE_DATE = date(2026, 9, 5)
OPENS = clock(17, 0)
# The past demand's night: the oldest date the booking core still reads, so
# that every request made less than LOOKBACK_DAYS ahead sees all of it.
PAST_DATE = SERVICE_DATE - timedelta(days=LOOKBACK_DAYS)
HIGH_LOAD = 1.2
console = Console(width=170)


@dataclasses.dataclass(frozen=True)
class Variant:
    """One seating policy, as the simulator replays it and as a restaurant
    sets it in the product."""

    name: str
    sim: SeatingPolicy
    table_policy: str
    admission_control: bool
    booked_stays: str

    @property
    def steers(self) -> bool:
        return self.sim.steer_times


LOCK = Variant("lock-at-booking", LOCK_AT_BOOKING, "lock_at_booking", False, "turn_times")
LOCK_ADMITTING = Variant(
    "lock + admission",
    dataclasses.replace(LOCK_ADMISSION, name="lock + admission"),
    "lock_at_booking",
    True,
    "turn_times",
)
LOCK_PREDICTED = Variant(
    "lock + admission + predicted stays + steering",
    dataclasses.replace(LOCK_PREDICTIVE, name="lock + admission + predicted stays + steering"),
    "lock_at_booking",
    True,
    "predicted",
)
# Admission comes with pooled seating when there is history.
POOLED = Variant("pooled-predictive", POOLED_PREDICTIVE, "pooled", False, "predicted")
VARIANTS = (LOCK, LOCK_ADMITTING, LOCK_PREDICTED, POOLED)


@dataclasses.dataclass(frozen=True)
class GranuleStays(SeatingPolicy):
    """A policy's stays held in whole granules, reset included, as the
    booking core holds them (the simulator rounds up to 5 minutes)."""

    def stay_minutes(self, night: Night, size: int, median: float, spread: float) -> int:
        minutes = SeatingPolicy.stay_minutes(self, night, size, median, spread)
        held = GRANULE_MINUTES * math.ceil((minutes + night.reset_minutes) / GRANULE_MINUTES)
        return held - night.reset_minutes


def in_granules(policy: SeatingPolicy) -> GranuleStays:
    return GranuleStays(**{f.name: getattr(policy, f.name) for f in dataclasses.fields(policy)})


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one side decided for one request: the start (minutes from the
    opening) and tables when accepted, else why not."""

    accepted: bool
    reason: str  # "accepted", "price", "no table", "pacing" or the error's class
    start: int | None = None
    tables: tuple[int, ...] = ()

    @property
    def decision(self) -> tuple[bool, int | None, tuple[int, ...]]:
        """Taken (when, at which tables) or refused; not why (a flexible
        guest may be refused for want of room at one time and on price at
        another)."""
        return self.accepted, self.start, self.tables


ACCEPTED = "accepted"


def booking_phase(night: Night) -> Night:
    """The night's requests made before the service opens (later ones are
    the service's business, which the product decides with the host)."""
    return dataclasses.replace(
        night, requests=tuple(r for r in night.requests if r.requested_at < 0)
    )


# ---------------------------------------------------------------- simulator


class _Recording(_Service):
    """The simulator's service, noting why each refused request was refused."""

    def __init__(self, night: Night, policy: SeatingPolicy) -> None:
        super().__init__(night, policy)
        self.refused: dict[int, str] = {}
        self.given: dict[int, tuple[int, ...]] = {}  # tables at booking
        self._fitted = False

    def on_request(self, r: Request) -> None:
        self._fitted = False
        super().on_request(r)
        if r.id not in self.bookings:
            self.refused[r.id] = "price" if self._fitted else "no table"

    def take(
        self, r: Request, t: int, minutes: int, tables: tuple[int, ...], *, overbooked: bool
    ) -> None:
        super().take(r, t, minutes, tables, overbooked=overbooked)
        self.given[r.id] = tuple(sorted(tables))

    def try_accept(self, r: Request, t: int, minutes: int) -> _Offer | None:
        offer = super().try_accept(r, t, minutes)
        self._fitted |= offer is not None
        return offer


def replay_sim(night: Night, policy: SeatingPolicy) -> dict[int, Outcome]:
    """The simulator's decision for every request of ``night``'s booking phase."""
    service = _Recording(booking_phase(night), policy)
    service.run()
    out = {}
    for r in service.night.requests:
        b = service.bookings.get(r.id)
        if b is None:
            out[r.id] = Outcome(False, service.refused[r.id])
        else:
            out[r.id] = Outcome(True, ACCEPTED, b.start, service.given[r.id])
    return out


# ---------------------------------------------------------------- product


class ReplayStays:
    """The stay forecast a replay plugs in: the request being replayed is
    booked for its own predicted stay, any other party (a request still to
    come, as admission control holds tables for it) for the stay the rule
    gives the restaurant's past stays of its size; by the simulator's rule,
    reset included."""

    def __init__(self, night: Night, policy: SeatingPolicy) -> None:
        self.night = night
        self.policy = policy
        self.request: Request | None = None

    def minutes(
        self,
        ledger: Ledger,
        floor: Floor,
        party_size: int,
        starts: Sequence[datetime],
        *,
        channel: str,
    ) -> list[int | None]:
        r = self.request
        if r is not None and r.size == party_size:
            stay = self.policy.planned_minutes(self.night, r)
        else:
            stay = self.policy.expected_minutes(self.night, party_size)
        return [stay + self.night.reset_minutes] * len(starts)


@contextmanager
def plugged(forecast: ReplayStays) -> Iterator[None]:
    """What the application plugs in at start-up (``serving.app``), fresh for
    each replay: a policy caches bid prices per restaurant id and date, which
    every replay's ledger shares."""
    before = (table_policy.pooled, table_policy.admission, stay_forecast.forecast)
    table_policy.pooled = PooledAcceptance()
    table_policy.admission = PooledAcceptance(pool=False)
    stay_forecast.forecast = forecast
    try:
        yield
    finally:
        table_policy.pooled, table_policy.admission, stay_forecast.forecast = before


def _hhmm(minute: int) -> str:
    return f"{minute // 60 % 24:02d}:{minute % 60:02d}"


def restaurant_spec(night: Night) -> RestaurantSpec:
    """The simulator's floor and the night's hours as a restaurant's set-up."""
    opens = OPENS.hour * 60 + OPENS.minute
    floor = night.floor
    tables = tuple(
        TableSpec(f"T{t.id}", f"Area {t.area_id}", t.min_covers, t.max_covers, t.accessible)
        for t in sorted(floor.tables.values(), key=lambda t: t.id)
    )
    combos = tuple(
        CombinationSpec(f"C{k}", tuple(f"T{t}" for t in o.table_ids), o.min_covers, o.max_covers)
        for k, o in enumerate((o for o in floor.options if len(o.table_ids) > 1), start=1)
    )
    period = PeriodSpec(
        "dinner",
        (SERVICE_DATE.weekday(),),
        _hhmm(opens),
        _hhmm(opens + night.closes),
        _hhmm(opens + night.last_seating),
        dict(night.turn_times),
        slot_interval_min=night.slot_minutes,
    )
    return RestaurantSpec(
        name=night.name[:100],
        timezone="UTC",
        currency="EUR",
        country="GB",
        locale="en-GB",
        latitude=51.5,
        longitude=0.0,
        cuisines=("modern",),
        price_tier=2,
        tables=tables,
        periods=(period,),
        combinations=combos,
    )


@dataclasses.dataclass
class ProductNight:
    outcomes: dict[int, Outcome]
    book_ms: list[float]
    search_ms: list[float]
    no_history: int  # requests made too far ahead to see the past demand
    # Per flexible request, the covers each time its search found displaces
    # (None where nothing is priced).
    offered: dict[int, dict[int, float | None]] = dataclasses.field(default_factory=dict)


def _opening(day: date) -> datetime:
    return datetime.combine(day, OPENS, tzinfo=UTC)


def set_up(ledger: Ledger, night: Night) -> tuple[int, dict[int, int], dict[int, int]]:
    """The night's restaurant, its past demand and one diner per request:
    the restaurant id, sim table id -> ledger table id, request id -> diner id."""
    rid = add_restaurant(ledger, restaurant_spec(night))
    past = night.demand
    assert past is not None, "a replayed night carries its restaurant's past demand"
    opening = _opening(PAST_DATE)
    rows = []
    for size, start, lead in zip(past.sizes, past.starts, past.leads, strict=True):
        at = opening + timedelta(minutes=start)
        rows.append(
            {
                "restaurant_id": rid,
                "service_date": PAST_DATE,
                "start_at": at,
                "end_at": at + timedelta(minutes=night.turn_time(size)),
                "party_size": size,
                "channel": Channel.WEB.value,
                "state": ReservationState.COMPLETED.value,
                "currency": "EUR",
                "source": "import",
                "booked_at": at - timedelta(minutes=lead),
                "updated_at": at,
            }
        )
    now = ledger.clock()
    with ledger.write() as conn:
        conn.execute(reservations.insert(), rows)
        ids = conn.execute(
            diners.insert().returning(diners.c.id, sort_by_parameter_order=True),
            [diner_row(DinerSpec(f"Guest {r.id}"), now) for r in night.requests],
        ).scalars()
        guests = dict(zip((r.id for r in night.requests), ids, strict=True))
        by_name = table_ids_by_name(conn, rid)
    return rid, {t: by_name[f"T{t}"] for t in night.floor.tables}, guests


def _offsets(r: Request, step: int) -> list[int]:
    """The simulator's order of the times a guest would take."""
    out = [0]
    for k in range(step, r.flexibility + 1, step):
        out += [-k, k]
    return out


def replay_product(ledger: Ledger, night: Night, variant: Variant) -> ProductNight:
    """Every request of ``night``'s booking phase through the booking core,
    on an empty, migrated ``ledger`` (see the module's docstring)."""
    night = booking_phase(night)
    rid, table_ids, guests = set_up(ledger, night)
    set_seating_settings(
        ledger,
        rid,
        variant.table_policy,
        admission_control=variant.admission_control,
        booked_stays=variant.booked_stays,
    )
    sim_table = {v: k for k, v in table_ids.items()}
    opening = _opening(SERVICE_DATE)
    opens = OPENS.hour * 60 + OPENS.minute
    forecast = ReplayStays(night, variant.sim)
    result = ProductNight({}, [], [], 0)
    moment = [opening]
    ledger.clock = lambda: moment[0]
    with ledger.read() as conn:
        floor = get_floor(ledger, conn, rid)
    period = floor.periods_on(SERVICE_DATE)[0]
    with plugged(forecast):
        for r in night.requests:
            now = moment[0] = opening + timedelta(minutes=r.requested_at)
            # The service's history is read (and cached for the day) with no
            # request in hand: what it holds tables for is the typical stay.
            forecast.request = None
            with ledger.read() as conn:
                known = service_history(ledger, conn, floor, period, SERVICE_DATE, now)
            result.no_history += known is None
            forecast.request = r
            target = r.start
            times = None
            if r.flexibility:
                started = time.perf_counter()
                times = find_times(
                    ledger,
                    rid,
                    SERVICE_DATE,
                    r.size,
                    earliest=_hhmm(opens + max(r.start - r.flexibility, 0)),
                    latest=_hhmm(opens + r.start + r.flexibility),
                    accessible=r.accessible,
                    now=now,
                )
                result.search_ms.append(1000 * (time.perf_counter() - started))
                found = {round((t.start_at - opening).total_seconds()) // 60: t for t in times}
                result.offered[r.id] = {m: t.displaced_covers for m, t in found.items()}
                order = [
                    r.start + o for o in _offsets(r, night.slot_minutes) if r.start + o in found
                ]
                steered = [m for m in order if found[m].recommended] if variant.steers else []
                if steered or order:
                    target = (steered or order)[0]
            request = BookingRequest(
                rid,
                SERVICE_DATE,
                _hhmm(opens + target),
                r.size,
                diner_id=guests[r.id],
                accessible=r.accessible,
            )
            started = time.perf_counter()
            try:
                done = book(ledger, request, now=now)
            except TablesKeptForLaterParties:
                result.outcomes[r.id] = Outcome(False, "price")
            except NoTableFree:
                # A flexible guest whose search offered nothing asked anyway.
                why = "no table" if times is None or times else "no table (search found none)"
                result.outcomes[r.id] = Outcome(False, why)
            except PacingLimitReached:
                result.outcomes[r.id] = Outcome(False, "pacing")
            except BookingError as exc:
                result.outcomes[r.id] = Outcome(False, type(exc).__name__)
            else:
                start = round((done.start_at - opening).total_seconds()) // 60
                tables = tuple(sorted(sim_table[t] for t in done.table_ids))
                result.outcomes[r.id] = Outcome(True, ACCEPTED, start, tables)
            result.book_ms.append(1000 * (time.perf_counter() - started))
    return result


# ---------------------------------------------------------------- comparing


@dataclasses.dataclass
class Tally:
    """One policy's comparison, summed over nights."""

    policy: str
    requests: int = 0
    product_accepted: int = 0
    sim_accepted: int = 0
    product_covers: int = 0
    sim_covers: int = 0
    agree: int = 0
    same_time: int = 0  # both accepted, at the same time
    both_accepted: int = 0
    same_tables: int = 0  # of those at the same time, given the same tables at booking
    no_history: int = 0
    why: Counter[str] = dataclasses.field(default_factory=Counter)
    # Each night's first difference: the ones after it may follow from it.
    first: Counter[str] = dataclasses.field(default_factory=Counter)
    book_ms: list[float] = dataclasses.field(default_factory=list)
    search_ms: list[float] = dataclasses.field(default_factory=list)

    def add(
        self,
        night: Night,
        product: ProductNight,
        sim: dict[int, Outcome],
        granular: dict[int, Outcome] | None,
    ) -> None:
        self.no_history += product.no_history
        self.book_ms += product.book_ms
        self.search_ms += product.search_ms
        diverged = False
        for r in booking_phase(night).requests:
            p, s = product.outcomes[r.id], sim[r.id]
            self.requests += 1
            self.product_accepted += p.accepted
            self.sim_accepted += s.accepted
            self.product_covers += r.size * p.accepted
            self.sim_covers += r.size * s.accepted
            if p.accepted == s.accepted:
                self.agree += 1
                if p.accepted:
                    self.both_accepted += 1
                    self.same_time += p.start == s.start
                    self.same_tables += p.start == s.start and p.tables == s.tables
                if p.decision == s.decision:
                    continue
                why = elsewhere(p, s, product.offered.get(r.id, {}))
            else:
                why = difference(p, s, granular[r.id] if granular else None)
            self.why[why] += 1
            if not diverged:
                self.first[why] += 1
                diverged = True

    def summary(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "requests": self.requests,
            "accepted": {"product": self.product_accepted, "simulator": self.sim_accepted},
            "covers_booked": {"product": self.product_covers, "simulator": self.sim_covers},
            "agreement": self.agree / self.requests if self.requests else 1.0,
            "same_time_when_both_accept": (
                self.same_time / self.both_accepted if self.both_accepted else 1.0
            ),
            "same_tables_when_same_time": (
                self.same_tables / self.same_time if self.same_time else 1.0
            ),
            "differences": dict(sorted(self.why.items())),
            "first_difference_per_night": dict(sorted(self.first.items())),
            "requests_without_history": self.no_history,
            "book_ms": {"p50": percentile(self.book_ms, 50), "p99": percentile(self.book_ms, 99)},
            "search_ms": {
                "p50": percentile(self.search_ms, 50),
                "p99": percentile(self.search_ms, 99),
            },
        }


def elsewhere(product: Outcome, sim: Outcome, offered: dict[int, float | None]) -> str:
    """Why both took a request but at another time or table: a steering tie
    when the product's prices of the two times are within its tie margin
    (each side takes the tied time nearest the one asked, so such a tie
    comes from prices that differ within the margin), else the time or the
    tables."""
    if product.start == sim.start:
        return "other tables"
    mine, theirs = offered.get(product.start or 0), offered.get(sim.start or 0)
    if mine is not None and theirs is not None and abs(mine - theirs) <= TIE_COVERS:
        return "other time: steering tie"
    return "other time"


def difference(product: Outcome, sim: Outcome, granular: Outcome | None) -> str:
    """Why one request was decided differently: granule rounding when the
    simulator holding whole granules decides as the product does, else the
    refusing side's reason."""
    if granular is not None and granular.accepted == product.accepted:
        return "granule rounding"
    if not product.accepted:
        return f"{product.reason}: product refused"
    return f"{sim.reason}: simulator refused"


# ---------------------------------------------------------------- running


def fresh_ledger(template: Path, path: Path) -> Ledger:
    """A copy of the migrated, empty template ledger (migrating each costs a second)."""
    with sqlite3.connect(template) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    return Ledger.open(f"sqlite:///{path}", migrate=False)


def nights(args: argparse.Namespace, workdir: Path) -> dict[str, list[Night]]:
    from booking_core.world.generate import generate_world
    from serving.simulate import nights_for, recruit_restaurants, world_restaurants

    url = f"sqlite:///{workdir / 'world.db'}"
    generate_world(Ledger.open(url), size="tiny", seed=args.world_seed, today=date(2026, 6, 1))
    chosen = {"world": (world_restaurants(url, limit=args.restaurants), "model")}
    if RECRUIT.is_dir():
        chosen["recruit"] = (
            recruit_restaurants(RECRUIT, limit=args.restaurants, seed=args.world_seed),
            "baseline",
        )
    return {
        source: nights_for(
            restaurants, load=args.load, nights=args.nights, seed=args.seed, predictions=kind
        )
        for source, (restaurants, kind) in chosen.items()
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        by_source = nights(args, workdir)
        template = workdir / "template.db"
        engine = create_ledger_engine(f"sqlite:///{template}")
        upgrade(engine)
        engine.dispose()
        tallies = {(s, v.name): Tally(v.name) for s in by_source for v in VARIANTS}
        jobs = [(s, n) for s, ns in by_source.items() for n in ns]
        bar = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        started = time.perf_counter()
        with bar:
            task = bar.add_task("nights x policies", total=len(jobs) * len(VARIANTS))
            for k, (source, night) in enumerate(jobs):
                for v in VARIANTS:
                    sim = replay_sim(night, v.sim)
                    granular = replay_sim(night, in_granules(v.sim)) if v.sim.predictive else None
                    ledger = fresh_ledger(template, workdir / f"night{k}-{v.name[:4]}.db")
                    try:
                        product = replay_product(ledger, night, v)
                    finally:
                        ledger.dispose()
                    tallies[source, v.name].add(night, product, sim, granular)
                    bar.advance(task)
    rows: dict[str, list[dict[str, Any]]] = {}
    for source in [*by_source, "all"]:
        rows[source] = []
        for v in VARIANTS:
            mine = [t for (s, n), t in tallies.items() if n == v.name and source in (s, "all")]
            total = Tally(v.name)
            for t in mine:
                for f in dataclasses.fields(Tally):
                    if f.name != "policy":
                        value = getattr(t, f.name)
                        setattr(total, f.name, getattr(total, f.name) + value)
            rows[source].append(total.summary())
    return {
        "seed": args.seed,
        "world_seed": args.world_seed,
        "load": args.load,
        "nights_per_restaurant": args.nights,
        "restaurants_per_source": args.restaurants,
        "sources": {s: len(ns) for s, ns in by_source.items()},
        "minutes": round((time.perf_counter() - started) / 60, 1),
        "by_source": rows,
    }


def table(title: str, rows: list[dict[str, Any]]) -> Table:
    out = Table(title=title, caption="product / simulator; differences: count by reason")
    for name in (
        "policy",
        "accepted",
        "covers",
        "agree",
        "same time",
        "differences (all)",
        "first each night",
        "book p50/p99 ms",
    ):
        out.add_column(name, justify="right" if name in ("agree", "same time") else "left")
    for row in rows:
        out.add_row(
            row["policy"],
            "{product} / {simulator}".format(**row["accepted"]),
            "{product} / {simulator}".format(**row["covers_booked"]),
            f"{row['agreement']:.1%}",
            f"{row['same_time_when_both_accept']:.1%}",
            "; ".join(f"{k} {n}" for k, n in row["differences"].items()) or "-",
            "; ".join(f"{k} {n}" for k, n in row["first_difference_per_night"].items()) or "-",
            "{p50:.1f}/{p99:.1f}".format(**row["book_ms"]),
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nights", type=int, default=2, help="nights per restaurant")
    parser.add_argument("--restaurants", type=int, default=2, help="restaurants per source")
    parser.add_argument("--load", type=float, default=HIGH_LOAD)
    # The calibration nights (benchmarks/seating.py --calibrate): never 23, 37 or 59.
    parser.add_argument("--seed", type=int, default=101, help="nights")
    parser.add_argument("--world-seed", type=int, default=11, help="the restaurants")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.nights < 1 or args.restaurants < 1 or args.load <= 0:
        parser.error("nights, restaurants and load must be positive")
    if args.seed in (23, 37, 59):
        parser.error("seeds 23, 37 and 59 are the seating benchmark's held-out nights")
    results = run(args)
    for source, rows in results["by_source"].items():
        console.print(table(f"{source}: booking phase, load {args.load:g}", rows))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    console.print(f"written to {args.output}")


if __name__ == "__main__":
    main()
