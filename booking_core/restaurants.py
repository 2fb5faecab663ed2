"""Setting up a restaurant: its floor (areas, tables, combinations), hours,
closures and booking policy. Used by hosts' set-up screens, the world
generator and the importers alike."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from booking_core import outbox
from booking_core.daybook import TablePolicy
from booking_core.deposits import CONTROL_SHARE, PAY_WITHIN_MINUTES, RISK_THRESHOLD
from booking_core.domain import GRANULE_MINUTES, MAX_PARTY, MIN_PARTY, NOT_YET_SEATED
from booking_core.errors import (
    AlreadyExists,
    InvalidRequest,
    UnknownRestaurant,
    UnknownSpecialDate,
    UnknownTable,
)
from booking_core.floor import SpecialDate, load_floor
from booking_core.ledger import Ledger
from booking_core.schema import (
    dining_areas,
    dining_tables,
    reservation_tables,
    reservations,
    restaurants,
    service_periods,
    special_dates,
    table_combination_members,
    table_combinations,
)
from booking_core.slots import minute_of_service
from booking_core.stays import BookedStays, check_booked_stays
from booking_core.validation import parse_time


@dataclass(frozen=True)
class TableSpec:
    name: str
    area: str
    min_covers: int
    max_covers: int
    accessible: bool = False
    features: tuple[str, ...] = ()


@dataclass(frozen=True)
class CombinationSpec:
    name: str
    tables: tuple[str, ...]
    min_covers: int
    max_covers: int


@dataclass(frozen=True)
class PeriodSpec:
    """A service on some weekdays (Monday = 0). ``closes`` before ``opens``
    means after midnight; last seating likewise."""

    name: str
    weekdays: tuple[int, ...]
    opens: str
    closes: str
    last_seating: str
    turn_times: Mapping[int, int]
    slot_interval_min: int = 15
    max_covers_per_slot: int | None = None
    max_parties_per_slot: int | None = None


@dataclass(frozen=True)
class RestaurantSpec:
    name: str
    timezone: str
    currency: str
    country: str
    locale: str
    latitude: float
    longitude: float
    cuisines: tuple[str, ...]
    price_tier: int
    tables: tuple[TableSpec, ...]
    periods: tuple[PeriodSpec, ...]
    combinations: tuple[CombinationSpec, ...] = ()
    closed_dates: Mapping[date, str] = field(default_factory=dict)
    description: str = ""
    menu_highlights: tuple[str, ...] = ()
    ambience: str = "casual"
    rating: float | None = None
    address: str = ""
    city: str = ""
    deposit_min_party: int | None = None
    deposit_per_cover_minor: int = 0
    card_hold_minor: int = 0
    cancellation_fee_minor: int = 0
    cancellation_window_hours: int = 24
    deposit_pay_within_minutes: int = 60
    deposit_risk_threshold: float | None = None
    deposit_risk_control_share: float = 0.0
    source: str = "manual"
    external_ref: str | None = None
    table_policy: str = TablePolicy.LOCK_AT_BOOKING
    overbooking_max_wait_risk: float | None = None
    admission_control: bool = False
    booked_stays: str = BookedStays.TURN_TIMES


PERIOD_FIELDS = {
    "name": str,
    "weekdays": list,
    "opens": str,
    "closes": str,
    "last_seating": str,
    "turn_times": dict,
    "slot_interval_min": int,
    "max_covers_per_slot": int,
    "max_parties_per_slot": int,
}
KINDS = {str: "text", list: "a list", dict: "an object", int: "a whole number"}
OPTIONAL_PERIOD_FIELDS = {"slot_interval_min", "max_covers_per_slot", "max_parties_per_slot"}


def period_from_data(data: object, where: str = "period") -> PeriodSpec:
    """A service period from plain data (a JSON object with the fields of
    ``PeriodSpec``; turn times as ``{"2": 90, "4": 120}``), refused with a
    message naming the field rather than a traceback."""
    if not isinstance(data, Mapping):
        raise InvalidRequest(f"{where}: a period is an object with {', '.join(PERIOD_FIELDS)}.")
    unknown = sorted(set(data) - set(PERIOD_FIELDS))
    if unknown:
        raise InvalidRequest(f"{where}: unknown field(s) {', '.join(map(str, unknown))}.")
    missing = [f for f in PERIOD_FIELDS if f not in data and f not in OPTIONAL_PERIOD_FIELDS]
    if missing:
        raise InvalidRequest(f"{where}: missing {', '.join(missing)}.")
    for name, kind in PERIOD_FIELDS.items():
        value = data.get(name)
        if value is None and name in OPTIONAL_PERIOD_FIELDS:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            raise InvalidRequest(f"{where}: {name} must be {KINDS[kind]}, not {value!r}.")
    if not all(isinstance(d, int) and not isinstance(d, bool) for d in data["weekdays"]):
        raise InvalidRequest(f"{where}: weekdays are whole numbers, 0 (Monday) to 6.")
    turn_times: dict[int, int] = {}
    for size, minutes in data["turn_times"].items():
        try:
            turn_times[int(size)] = int(minutes)
        except (TypeError, ValueError):
            raise InvalidRequest(
                f"{where}: turn_times maps party sizes to minutes, not {size!r}: {minutes!r}."
            ) from None
    return PeriodSpec(
        name=data["name"],
        weekdays=tuple(data["weekdays"]),
        opens=data["opens"],
        closes=data["closes"],
        last_seating=data["last_seating"],
        turn_times=turn_times,
        slot_interval_min=15
        if data.get("slot_interval_min") is None
        else data["slot_interval_min"],
        max_covers_per_slot=data.get("max_covers_per_slot"),
        max_parties_per_slot=data.get("max_parties_per_slot"),
    )


def _minutes(value: str, what: str) -> int:
    t = parse_time(value, what)
    return t.hour * 60 + t.minute


def period_rows(restaurant_id: int, period: PeriodSpec) -> list[dict[str, Any]]:
    opens = _minutes(period.opens, f"{period.name} opening time")
    closes = _minutes(period.closes, f"{period.name} closing time")
    last = _minutes(period.last_seating, f"{period.name} last seating")
    if closes <= opens:
        closes += 1440
    if last < opens:
        last += 1440
    if not opens <= last < closes:
        raise InvalidRequest(
            f"{period.name}: the last seating {period.last_seating} must fall between opening "
            f"{period.opens} and closing {period.closes}."
        )
    if period.slot_interval_min <= 0 or period.slot_interval_min % GRANULE_MINUTES:
        # Claims and pacing are kept per granule, so slots must start on one.
        raise InvalidRequest(
            f"{period.name}: the slot interval must be a multiple of {GRANULE_MINUTES} minutes, "
            f"not {period.slot_interval_min}."
        )
    if not period.turn_times or any(
        size < 1 or minutes < 15 for size, minutes in period.turn_times.items()
    ):
        raise InvalidRequest(f"{period.name}: turn times need party sizes >= 1 and minutes >= 15.")
    if not period.weekdays or any(not 0 <= d <= 6 for d in period.weekdays):
        raise InvalidRequest(f"{period.name}: weekdays run from 0 (Monday) to 6 (Sunday).")
    return [
        {
            "restaurant_id": restaurant_id,
            "name": period.name,
            "weekday": weekday,
            "opens_min": opens,
            "closes_min": closes,
            "last_seating_min": last,
            "slot_interval_min": period.slot_interval_min,
            "turn_times": {str(k): int(v) for k, v in sorted(period.turn_times.items())},
            "max_covers_per_slot": period.max_covers_per_slot,
            "max_parties_per_slot": period.max_parties_per_slot,
        }
        for weekday in sorted(set(period.weekdays))
    ]


def check_table_policy(value: str) -> TablePolicy:
    """The seating setting named by ``value``, or ``InvalidRequest``."""
    try:
        return TablePolicy(value)
    except ValueError:
        names = " or ".join(repr(p.value) for p in TablePolicy)
        raise InvalidRequest(f"{value!r} is not a table policy; the setting is {names}.") from None


# The loosest bound a restaurant may set: beyond one guest in five waiting
# over 15 minutes, overbooking is no longer a courtesy to the floor.
MAX_WAIT_RISK_BOUND = 0.2


def check_overbooking(table_policy: TablePolicy, max_wait_risk: float | None) -> float | None:
    """The overbooking bound if it is allowed with this table policy, or
    ``InvalidRequest`` saying why not."""
    if max_wait_risk is None:
        return None
    if not 0.0 < max_wait_risk <= MAX_WAIT_RISK_BOUND:
        raise InvalidRequest(
            f"overbooking_max_wait_risk is a probability above 0 and at most "
            f"{MAX_WAIT_RISK_BOUND}, not {max_wait_risk}; leave it empty to turn overbooking off."
        )
    if table_policy is not TablePolicy.POOLED:
        # Only a pooled restaurant seats a party at whichever table frees
        # first; locked tables would leave an overbooked party no way in.
        raise InvalidRequest(
            "Overbooking applies to pooled restaurants only: set table_policy to 'pooled' "
            "to enable it."
        )
    return float(max_wait_risk)


def _check_timetable(rows: Sequence[Mapping[str, Any]]) -> None:
    """No two periods may overlap: a slot would belong to both. That holds
    within a weekday and across midnight (a period closing at 02:00 runs into
    the next weekday's early hours)."""
    by_day: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_day.setdefault(int(row["weekday"]), []).append(row)
    for weekday, periods in by_day.items():
        periods.sort(key=lambda r: r["opens_min"])
        for before, after in itertools.pairwise(periods):
            if after["opens_min"] < before["closes_min"]:
                raise InvalidRequest(
                    f"{before['name']} and {after['name']} overlap on weekday {weekday} "
                    "(0 is Monday): a period must close before the next one opens."
                )
        for late in periods:
            spill = int(late["closes_min"]) - 1440
            for early in by_day.get((weekday + 1) % 7, []):
                if spill > 0 and early["opens_min"] < spill:
                    raise InvalidRequest(
                        f"{late['name']} on weekday {weekday} runs past midnight into "
                        f"{early['name']} of weekday {(weekday + 1) % 7} (0 is Monday): "
                        "a period must close before the next one opens."
                    )


# ------------------------------------------------------------ the profile

# What a listing shows and a booking charges, as the schema stores it. The
# same limits hold when a restaurant is created and when its manager edits
# it (``booking_core.profile``), so a value is refused with the field's name
# rather than by a database constraint.
LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
MONEY_LIMIT = 100_000_000  # minor units: a million in any currency is no deposit


def _text(limit: int, *, required: bool = True, lines: bool = False) -> Callable[[str, Any], None]:
    def check(name: str, value: Any) -> None:
        if not isinstance(value, str):
            raise InvalidRequest(f"{name} must be text, not {value!r}.")
        if required and not value.strip():
            raise InvalidRequest(f"{name} cannot be empty.")
        if len(value) > limit:
            raise InvalidRequest(f"{name} holds at most {limit} characters.")
        allowed = "\n\t" if lines else ""
        if any(ord(ch) < 32 and ch not in allowed for ch in value):
            raise InvalidRequest(f"{name} cannot hold control characters.")

    return check


def _labels(count: int, limit: int) -> Callable[[str, Any], None]:
    one = _text(limit)

    def check(name: str, value: Any) -> None:
        if not isinstance(value, list | tuple):
            raise InvalidRequest(f"{name} must be a list of text, not {value!r}.")
        if len(value) > count:
            raise InvalidRequest(f"{name} holds at most {count} entries.")
        for item in value:
            one(name, item)
        if len({str(v).strip().lower() for v in value}) != len(value):
            raise InvalidRequest(f"{name} lists an entry twice.")

    return check


def _whole(low: int, high: int, *, nullable: bool = False) -> Callable[[str, Any], None]:
    def check(name: str, value: Any) -> None:
        if value is None and nullable:
            return
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"{name} must be a whole number, not {value!r}.")
        if not low <= value <= high:
            raise InvalidRequest(f"{name} runs from {low} to {high}, not {value}.")

    return check


def _probability(
    low: float, high: float, *, empty: str | None = None
) -> Callable[[str, Any], None]:
    """A probability from ``low`` to ``high``; ``empty``: what leaving it
    empty (null) means, when it may be."""

    def check(name: str, value: Any) -> None:
        if value is None and empty is not None:
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidRequest(f"{name} must be a probability, not {value!r}.")
        if not low <= value <= high:  # NaN fails this too
            raise InvalidRequest(
                f"{name} is a probability from {low:g} to {high:g}, not {value}"
                + (f"; leave it empty to {empty}." if empty else ".")
            )

    return check


def _degrees(limit: float) -> Callable[[str, Any], None]:
    def check(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidRequest(f"{name} must be a number, not {value!r}.")
        if not -limit <= value <= limit:  # NaN fails this too
            raise InvalidRequest(f"{name} lies between -{limit:g} and {limit:g}.")

    return check


def _pattern(rule: re.Pattern[str], what: str) -> Callable[[str, Any], None]:
    def check(name: str, value: Any) -> None:
        if not isinstance(value, str) or not rule.match(value):
            raise InvalidRequest(f"{name}: {value!r} is not {what}.")

    return check


PROFILE_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "name": _text(200),
    "description": _text(5000, required=False, lines=True),
    "cuisines": _labels(12, 60),
    "menu_highlights": _labels(20, 120),
    "ambience": _text(40),
    "price_tier": _whole(1, 4),
    "latitude": _degrees(90),
    "longitude": _degrees(180),
    "address": _text(300, required=False),
    "city": _text(100, required=False),
    "country": _pattern(COUNTRY, "an ISO 3166 country code such as GB"),
    "locale": _pattern(LOCALE, "a language tag such as en-GB"),
    "deposit_min_party": _whole(MIN_PARTY, MAX_PARTY, nullable=True),
    "deposit_per_cover_minor": _whole(0, MONEY_LIMIT),
    "card_hold_minor": _whole(0, MONEY_LIMIT),
    "cancellation_fee_minor": _whole(0, MONEY_LIMIT),
    "cancellation_window_hours": _whole(0, 720),
    "deposit_pay_within_minutes": _whole(*PAY_WITHIN_MINUTES),
    "deposit_risk_threshold": _probability(
        *RISK_THRESHOLD, empty="ask deposits by party size only"
    ),
    "deposit_risk_control_share": _probability(*CONTROL_SHARE),
}


def check_profile(values: Mapping[str, Any]) -> None:
    """Refuse profile and booking-policy values the listing or a booking
    could not use, naming the field (keys as ``PROFILE_CHECKS``)."""
    for name, value in values.items():
        PROFILE_CHECKS[name](name, value)


def check_deposit_policy(per_cover_minor: int, risk_threshold: float | None) -> None:
    """A deposit asked by risk is asked per cover: it needs an amount."""
    if risk_threshold is not None and per_cover_minor <= 0:
        raise InvalidRequest(
            "deposit_risk_threshold asks a deposit per cover: set deposit_per_cover_minor "
            "above 0, or leave the threshold empty."
        )


def check_table(t: TableSpec) -> None:
    _text(50)("table name", t.name)
    _text(100)(f"table {t.name}: area", t.area)
    _labels(12, 40)(f"table {t.name}: features", list(t.features))
    if not MIN_PARTY <= t.min_covers <= t.max_covers <= MAX_PARTY:
        raise InvalidRequest(
            f"Table {t.name}: covers must satisfy {MIN_PARTY} <= min <= max <= {MAX_PARTY}."
        )


def check_combination(c: CombinationSpec, table_names: set[str]) -> None:
    _text(100)("combination name", c.name)
    unknown = sorted(set(c.tables) - table_names)
    if unknown:
        raise InvalidRequest(f"Combination {c.name} joins unknown table(s) {', '.join(unknown)}.")
    if len(c.tables) < 2 or len(set(c.tables)) != len(c.tables):
        raise InvalidRequest(f"Combination {c.name} joins at least two different tables.")
    if not MIN_PARTY <= c.min_covers <= c.max_covers <= MAX_PARTY:
        raise InvalidRequest(
            f"Combination {c.name}: covers must satisfy {MIN_PARTY} <= min <= max <= {MAX_PARTY}."
        )


def _validate(spec: RestaurantSpec) -> None:
    check_overbooking(check_table_policy(spec.table_policy), spec.overbooking_max_wait_risk)
    try:
        ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(f"{spec.timezone!r} is not an IANA time zone.") from None
    if len(spec.currency) != 3 or not spec.currency.isalpha() or not spec.currency.isupper():
        raise InvalidRequest(f"{spec.currency!r} is not an ISO 4217 currency code.")
    check_profile({name: getattr(spec, name) for name in PROFILE_CHECKS})
    check_deposit_policy(spec.deposit_per_cover_minor, spec.deposit_risk_threshold)
    if spec.rating is not None and not 0 <= spec.rating <= 5:
        raise InvalidRequest("A rating lies between 0 and 5.")
    if not spec.tables:
        raise InvalidRequest(f"{spec.name} needs at least one table.")
    names = [t.name for t in spec.tables]
    if len(set(names)) != len(names):
        raise InvalidRequest(f"{spec.name}: table names must be unique.")
    for t in spec.tables:
        check_table(t)
    combos = [c.name for c in spec.combinations]
    if len(set(combos)) != len(combos):
        raise InvalidRequest(f"{spec.name}: combination names must be unique.")
    for c in spec.combinations:
        check_combination(c, set(names))
    _check_timetable([row for p in spec.periods for row in period_rows(0, p)])


def create_restaurant(conn: sa.Connection, spec: RestaurantSpec, now: datetime) -> int:
    """Insert a restaurant with its whole set-up, in the caller's transaction."""
    _validate(spec)
    if spec.external_ref is not None:
        taken = conn.execute(
            sa.select(restaurants.c.id).where(
                restaurants.c.source == spec.source, restaurants.c.external_ref == spec.external_ref
            )
        ).scalar()
        if taken is not None:
            raise AlreadyExists(
                f"Restaurant {taken} already has the reference {spec.external_ref!r}."
            )
    restaurant_id = int(
        conn.execute(
            restaurants.insert()
            .values(
                name=spec.name,
                description=spec.description,
                cuisines=list(spec.cuisines),
                menu_highlights=list(spec.menu_highlights),
                ambience=spec.ambience,
                price_tier=spec.price_tier,
                rating=spec.rating,
                latitude=spec.latitude,
                longitude=spec.longitude,
                address=spec.address,
                city=spec.city,
                country=spec.country,
                timezone=spec.timezone,
                currency=spec.currency,
                locale=spec.locale,
                deposit_min_party=spec.deposit_min_party,
                deposit_per_cover_minor=spec.deposit_per_cover_minor,
                card_hold_minor=spec.card_hold_minor,
                cancellation_fee_minor=spec.cancellation_fee_minor,
                cancellation_window_hours=spec.cancellation_window_hours,
                deposit_pay_within_minutes=spec.deposit_pay_within_minutes,
                deposit_risk_threshold=spec.deposit_risk_threshold,
                deposit_risk_control_share=spec.deposit_risk_control_share,
                source=spec.source,
                external_ref=spec.external_ref,
                table_policy=TablePolicy(spec.table_policy).value,
                overbooking_max_wait_risk=spec.overbooking_max_wait_risk,
                admission_control=bool(spec.admission_control),
                booked_stays=check_booked_stays(spec.booked_stays).value,
                created_at=now,
            )
            .returning(restaurants.c.id)
        ).scalar_one()
    )
    table_ids: dict[str, int] = {}
    for t in spec.tables:
        table_ids[t.name] = insert_table(conn, restaurant_id, t)
    for c in spec.combinations:
        insert_combination(conn, restaurant_id, c, table_ids)
    rows = [row for p in spec.periods for row in period_rows(restaurant_id, p)]
    if rows:
        conn.execute(service_periods.insert(), rows)
    if spec.closed_dates:
        conn.execute(
            special_dates.insert(),
            [
                {"restaurant_id": restaurant_id, "local_date": d, "closed": True, "note": note}
                for d, note in sorted(spec.closed_dates.items())
            ],
        )
    outbox.append(
        conn,
        "restaurant.created",
        "restaurant",
        restaurant_id,
        restaurant_id,
        {"name": spec.name, "tables": len(spec.tables), "timezone": spec.timezone},
        now,
    )
    return restaurant_id


def insert_table(conn: sa.Connection, restaurant_id: int, t: TableSpec) -> int:
    """A table (checked by the caller), in its area, created when new."""
    area_id = conn.execute(
        sa.select(dining_areas.c.id).where(
            dining_areas.c.restaurant_id == restaurant_id, dining_areas.c.name == t.area
        )
    ).scalar()
    if area_id is None:
        area_id = conn.execute(
            dining_areas.insert()
            .values(restaurant_id=restaurant_id, name=t.area)
            .returning(dining_areas.c.id)
        ).scalar_one()
    return int(
        conn.execute(
            dining_tables.insert()
            .values(
                restaurant_id=restaurant_id,
                area_id=area_id,
                name=t.name,
                min_covers=t.min_covers,
                max_covers=t.max_covers,
                accessible=t.accessible,
                features=list(t.features),
            )
            .returning(dining_tables.c.id)
        ).scalar_one()
    )


def insert_combination(
    conn: sa.Connection, restaurant_id: int, c: CombinationSpec, table_ids: Mapping[str, int]
) -> int:
    """A combination (checked by the caller) of the tables named, by id."""
    combo_id = int(
        conn.execute(
            table_combinations.insert()
            .values(
                restaurant_id=restaurant_id,
                name=c.name,
                min_covers=c.min_covers,
                max_covers=c.max_covers,
            )
            .returning(table_combinations.c.id)
        ).scalar_one()
    )
    conn.execute(
        table_combination_members.insert(),
        [{"combination_id": combo_id, "table_id": table_ids[n]} for n in c.tables],
    )
    return combo_id


def add_restaurant(ledger: Ledger, spec: RestaurantSpec) -> int:
    with ledger.write() as conn:
        return create_restaurant(conn, spec, ledger.clock())


@dataclass(frozen=True)
class OutsideHours:
    """A booking, not yet seated, whose time a new timetable no longer
    serves: it stays booked (the restaurant honours it or calls the guest)."""

    reservation_id: int
    service_date: date
    start_at: datetime


def set_special_date(
    ledger: Ledger,
    restaurant_id: int,
    local_date: date,
    *,
    closed: bool = True,
    note: str = "",
    opens: str | None = None,
    closes: str | None = None,
    last_seating: str | None = None,
) -> list[OutsideHours]:
    """Close a local date (today or later), or give it its own hours, which
    replace the week's periods that day (on a weekday the restaurant is
    normally closed too, with the limits of its nearest period). Setting a
    date again replaces what it had. Bookings already taken are honoured:
    the ones the day's hours no longer serve are returned, soonest first.
    Bumps the floor version."""
    if len(note) > 200:
        raise InvalidRequest("A special date's note is at most 200 characters.")
    values: dict[str, Any] = {"closed": closed, "note": note}
    if not closed:
        if opens is None or closes is None or last_seating is None:
            raise InvalidRequest("Special hours need opening, closing and last-seating times.")
        first = _minutes(opens, "opening time")
        close = _minutes(closes, "closing time")
        last = _minutes(last_seating, "last seating")
        close += 1440 if close <= first else 0
        last += 1440 if last < first else 0
        if not first <= last < close:
            raise InvalidRequest(
                f"The last seating {last_seating} must fall between opening {opens} and "
                f"closing {closes}."
            )
        values |= {"opens_min": first, "closes_min": close, "last_seating_min": last}
    with ledger.write() as conn:
        _check_not_past(conn, ledger, restaurant_id, local_date, "A date's hours")
        if not closed and not load_floor(conn, restaurant_id).timetable_on(local_date):
            raise InvalidRequest(
                f"{local_date} has no weekly hours to take turn times and pacing from: "
                "set the restaurant's hours first."
            )
        bump_floor(conn, restaurant_id)
        conn.execute(
            special_dates.delete().where(
                special_dates.c.restaurant_id == restaurant_id,
                special_dates.c.local_date == local_date,
            )
        )
        conn.execute(
            special_dates.insert().values(
                restaurant_id=restaurant_id, local_date=local_date, **values
            )
        )
        outbox.append(
            conn,
            "restaurant.special_date_set",
            "restaurant",
            restaurant_id,
            restaurant_id,
            {"local_date": local_date.isoformat(), **values},
            ledger.clock(),
        )
        return _outside_hours(conn, restaurant_id, local_date, local_date)


def remove_special_date(ledger: Ledger, restaurant_id: int, local_date: date) -> None:
    """The week's hours apply again on ``local_date`` (today or later)."""
    with ledger.write() as conn:
        _check_not_past(conn, ledger, restaurant_id, local_date, "A date's hours")
        sd = special_dates.c
        gone = conn.execute(
            special_dates.delete().where(
                sd.restaurant_id == restaurant_id, sd.local_date == local_date
            )
        )
        if gone.rowcount != 1:
            raise UnknownSpecialDate(
                f"Restaurant {restaurant_id} has nothing set for {local_date}."
            )
        bump_floor(conn, restaurant_id)
        outbox.append(
            conn,
            "restaurant.special_date_removed",
            "restaurant",
            restaurant_id,
            restaurant_id,
            {"local_date": local_date.isoformat()},
            ledger.clock(),
        )


def special_dates_between(
    ledger: Ledger, restaurant_id: int, first: date | None = None, last: date | None = None
) -> list[SpecialDate]:
    """The closures and special hours from ``first`` (default: today in the
    restaurant's time zone) to ``last`` (default: a year on), in date order."""
    with ledger.read() as conn:
        floor = load_floor(conn, restaurant_id)
    first = first or ledger.clock().astimezone(floor.zone).date()
    last = last or (first + timedelta(days=365) if first.year < date.max.year else date.max)
    return [floor.special_dates[d] for d in sorted(floor.special_dates) if first <= d <= last]


def _check_not_past(
    conn: sa.Connection, ledger: Ledger, restaurant_id: int, local_date: date, what: str
) -> None:
    """Past nights keep the hours they had (the service report, the audit and
    the demand features read them): changes start today, in the restaurant's
    time zone, or later."""
    zone = conn.execute(
        sa.select(restaurants.c.timezone).where(restaurants.c.id == restaurant_id)
    ).scalar()
    if zone is None:
        raise UnknownRestaurant(f"There is no restaurant with id {restaurant_id}.")
    today = ledger.clock().astimezone(ZoneInfo(zone)).date()
    if local_date < today:
        raise InvalidRequest(
            f"{what} can change from today ({today}) onwards, not on {local_date}: "
            "past nights keep the hours they had."
        )


def _outside_hours(
    conn: sa.Connection, restaurant_id: int, first: date, last: date | None = None
) -> list[OutsideHours]:
    """Bookings not yet seated, from ``first`` (to ``last``), whose time the
    hours now in the ledger do not serve, soonest first."""
    floor = load_floor(conn, restaurant_id)
    r = reservations.c
    window = [r.service_date >= first] + ([r.service_date <= last] if last else [])
    outside = []
    for rid, day, start in conn.execute(
        sa.select(r.id, r.service_date, r.start_at)
        .where(
            r.restaurant_id == restaurant_id,
            *window,
            r.state.in_([s.value for s in NOT_YET_SEATED]),
        )
        .order_by(r.service_date, r.start_at, r.id)
    ):
        minute = minute_of_service(floor, day, start)
        if not any(p.opens_min <= minute <= p.last_seating_min for p in floor.periods_on(day)):
            outside.append(OutsideHours(int(rid), day, start))
    return outside


def set_hours(
    ledger: Ledger,
    restaurant_id: int,
    periods: Sequence[PeriodSpec],
    effective_from: date,
) -> list[OutsideHours]:
    """Replace the restaurant's weekly hours from the local date
    ``effective_from`` onwards (today or later: past nights keep the hours
    they had, and so do the service report and the audit). A timetable
    scheduled to start on or after that date is replaced too. Special dates
    still override the week. Bookings already made are honoured, not
    cancelled: the ones the new hours no longer serve are returned, soonest
    first, for the manager to call. Bumps the floor version."""
    if not periods:
        raise InvalidRequest(
            "New hours need at least one service period (close single dates as special dates)."
        )
    rows = [row for p in periods for row in period_rows(restaurant_id, p)]
    _check_timetable(rows)
    with ledger.write() as conn:
        _check_not_past(conn, ledger, restaurant_id, effective_from, "Hours")
        bump_floor(conn, restaurant_id)
        sp = service_periods.c
        conn.execute(
            service_periods.delete().where(
                sp.restaurant_id == restaurant_id, sp.effective_from >= effective_from
            )
        )
        conn.execute(
            service_periods.insert(), [{**row, "effective_from": effective_from} for row in rows]
        )
        outbox.append(
            conn,
            "restaurant.hours_set",
            "restaurant",
            restaurant_id,
            restaurant_id,
            {
                "effective_from": effective_from.isoformat(),
                "periods": [{k: v for k, v in row.items() if k != "restaurant_id"} for row in rows],
            },
            ledger.clock(),
        )
        return _outside_hours(conn, restaurant_id, effective_from)


@dataclass(frozen=True)
class SeatingSettings:
    """How a restaurant seats its bookings: the table policy, the
    overbooking bound (None: no overbooking) and whether a lock-at-booking
    restaurant refuses bookings whose table time is worth more to the
    parties still expected (bid-price admission control; a pooled
    restaurant always does, whatever is stored here), and how long a
    booking holds its table (``booking_core.stays``)."""

    table_policy: TablePolicy
    overbooking_max_wait_risk: float | None = None
    admission_control: bool = False
    booked_stays: BookedStays = BookedStays.TURN_TIMES


def get_seating_settings(ledger: Ledger, restaurant_id: int) -> SeatingSettings:
    with ledger.read() as conn:
        return _seating_settings(conn, restaurant_id)


def _seating_settings(conn: sa.Connection, restaurant_id: int) -> SeatingSettings:
    row = conn.execute(
        sa.select(
            restaurants.c.table_policy,
            restaurants.c.overbooking_max_wait_risk,
            restaurants.c.admission_control,
            restaurants.c.booked_stays,
        ).where(restaurants.c.id == restaurant_id)
    ).first()
    if row is None:
        raise UnknownRestaurant(f"There is no restaurant with id {restaurant_id}.")
    return SeatingSettings(
        TablePolicy(row.table_policy),
        row.overbooking_max_wait_risk,
        bool(row.admission_control),
        BookedStays(row.booked_stays),
    )


def get_table_policy(ledger: Ledger, restaurant_id: int) -> TablePolicy:
    return get_seating_settings(ledger, restaurant_id).table_policy


def set_seating_settings(
    ledger: Ledger,
    restaurant_id: int,
    table_policy: str,
    overbooking_max_wait_risk: float | None = None,
    admission_control: bool = False,
    booked_stays: str = BookedStays.TURN_TIMES,
) -> SeatingSettings:
    """Set the whole setting at once (overbooking off unless a bound is
    given, admission control off unless asked for; it is stored as given
    and matters only while the restaurant locks at booking; turn times
    booked unless predicted stays are asked for). Applies
    to bookings and searches from now on; bookings already taken keep their
    tables, and those taken overbooked stay so until seated. Bumps the floor
    version, so every cached floor, and the settings with it, is reloaded."""
    policy = check_table_policy(table_policy)
    if not isinstance(admission_control, bool):
        raise InvalidRequest(f"admission_control is true or false, not {admission_control!r}.")
    settings = SeatingSettings(
        policy,
        check_overbooking(policy, overbooking_max_wait_risk),
        admission_control,
        check_booked_stays(booked_stays),
    )
    with ledger.write() as conn:
        _write_seating_settings(conn, ledger, restaurant_id, settings)
    return settings


def set_table_policy(ledger: Ledger, restaurant_id: int, policy: str) -> TablePolicy:
    """Change how the restaurant's tables are chosen for new bookings and
    searches, keeping its overbooking bound (refused if the new policy
    cannot overbook while a bound is set), its admission control and its
    booked stays."""
    chosen = check_table_policy(policy)
    with ledger.write() as conn:
        current = _seating_settings(conn, restaurant_id)
        bound = check_overbooking(chosen, current.overbooking_max_wait_risk)
        _write_seating_settings(
            conn,
            ledger,
            restaurant_id,
            SeatingSettings(chosen, bound, current.admission_control, current.booked_stays),
        )
    return chosen


def _write_seating_settings(
    conn: sa.Connection, ledger: Ledger, restaurant_id: int, settings: SeatingSettings
) -> None:
    before = _seating_settings(conn, restaurant_id)
    bump_floor(conn, restaurant_id)
    conn.execute(
        restaurants.update()
        .where(restaurants.c.id == restaurant_id)
        .values(
            table_policy=settings.table_policy.value,
            overbooking_max_wait_risk=settings.overbooking_max_wait_risk,
            admission_control=settings.admission_control,
            booked_stays=settings.booked_stays.value,
        )
    )
    bound = settings.overbooking_max_wait_risk
    events: list[tuple[str, dict[str, Any]]] = []
    admission = settings.admission_control
    stays = settings.booked_stays
    # The table policy is announced when it changes or nothing else does.
    if settings.table_policy is not before.table_policy or (
        bound == before.overbooking_max_wait_risk
        and admission == before.admission_control
        and stays is before.booked_stays
    ):
        events.append(
            ("restaurant.table_policy_set", {"table_policy": settings.table_policy.value})
        )
    if bound != before.overbooking_max_wait_risk:
        events.append(("restaurant.overbooking_set", {"overbooking_max_wait_risk": bound}))
    if admission != before.admission_control:
        events.append(("restaurant.admission_control_set", {"admission_control": admission}))
    if stays is not before.booked_stays:
        events.append(("restaurant.booked_stays_set", {"booked_stays": stays.value}))
    at = ledger.clock()
    for event, payload in events:
        outbox.append(conn, event, "restaurant", restaurant_id, restaurant_id, payload, at)


def set_table_active(ledger: Ledger, restaurant_id: int, table_id: int, active: bool) -> None:
    """Take a table out of service or put it back. The event says what it
    was as well, so a report on a past night can count the tables it had."""
    with ledger.write() as conn:
        bump_floor(conn, restaurant_id)
        mine = (dining_tables.c.id == table_id, dining_tables.c.restaurant_id == restaurant_id)
        was = conn.execute(sa.select(dining_tables.c.active).where(*mine)).scalar_one_or_none()
        if was is None:
            raise UnknownTable(f"Restaurant {restaurant_id} has no table with id {table_id}.")
        conn.execute(dining_tables.update().where(*mine).values(active=active))
        outbox.append(
            conn,
            "restaurant.table_changed",
            "table",
            table_id,
            restaurant_id,
            {"active": active, "was_active": bool(was)},
            ledger.clock(),
        )


def bookings_holding_table(
    ledger: Ledger, restaurant_id: int, table_id: int, after: datetime
) -> list[tuple[int, date, datetime]]:
    """The reservations not yet seated that hold ``table_id`` at some time
    after ``after``, soonest first, as (reservation id, service date,
    start): the ones to move when the table goes out of service."""
    rt, r = reservation_tables.c, reservations.c
    query = (
        sa.select(r.id, r.service_date, r.start_at)
        .join(reservation_tables, rt.reservation_id == r.id)
        .where(
            r.restaurant_id == restaurant_id,
            rt.table_id == table_id,
            rt.released_at.is_(None),
            rt.end_at > after,
            r.state.in_([s.value for s in NOT_YET_SEATED]),
        )
        .order_by(r.service_date, r.start_at, r.id)
    )
    with ledger.read() as conn:
        return [(int(rid), day, start) for rid, day, start in conn.execute(query)]


def bump_floor(conn: sa.Connection, restaurant_id: int) -> None:
    done = conn.execute(
        restaurants.update()
        .where(restaurants.c.id == restaurant_id)
        .values(floor_version=restaurants.c.floor_version + 1)
    )
    if done.rowcount != 1:
        raise UnknownRestaurant(f"There is no restaurant with id {restaurant_id}.")


def table_ids_by_name(conn: sa.Connection, restaurant_id: int) -> dict[str, int]:
    return dict(
        conn.execute(
            sa.select(dining_tables.c.name, dining_tables.c.id).where(
                dining_tables.c.restaurant_id == restaurant_id
            )
        ).all()
    )


__all__: Sequence[str] = [
    "MAX_WAIT_RISK_BOUND",
    "CombinationSpec",
    "OutsideHours",
    "PeriodSpec",
    "RestaurantSpec",
    "SeatingSettings",
    "TableSpec",
    "add_restaurant",
    "bookings_holding_table",
    "check_overbooking",
    "check_table_policy",
    "create_restaurant",
    "get_seating_settings",
    "get_table_policy",
    "remove_special_date",
    "set_hours",
    "set_seating_settings",
    "set_special_date",
    "set_table_active",
    "set_table_policy",
    "special_dates_between",
]
