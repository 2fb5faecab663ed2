"""Synthetic restaurants: names, descriptions, floors, hours and policies."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from booking_core.restaurants import CombinationSpec, PeriodSpec, RestaurantSpec, TableSpec
from booking_core.world.catalogue import (
    AMBIENCE_WORDS,
    AMBIENCES,
    COUNTRY_CUISINES,
    CUISINES,
    NAME_PATTERNS,
    NAME_WORDS,
    City,
    Country,
)


@dataclass(frozen=True)
class PlaceTraits:
    """Latent traits the world keeps for a restaurant (not in the ledger)."""

    cuisine: str
    ambience: str
    price_tier: int
    popularity: float
    quality: float
    pace: float
    city: str
    country: Country


def _turn_times(price_tier: int, scale: float) -> dict[int, int]:
    base = {2: 90, 4: 120, 6: 135, 8: 150, 40: 180}
    factor = (0.9 + 0.08 * price_tier) * scale
    return {size: max(60, round(m * factor / 15.0) * 15) for size, m in base.items()}


def _layout(
    rng: np.random.Generator, n_tables: int
) -> tuple[tuple[TableSpec, ...], tuple[CombinationSpec, ...]]:
    areas = ["Main room"] * 6 + ["Terrace"] * 2 + ["Bar"] + ["Private room"]
    tables: list[TableSpec] = []
    sizes = rng.choice([2, 4, 6, 8], size=n_tables, p=[0.42, 0.38, 0.13, 0.07])
    for i, seats in enumerate(sorted(int(s) for s in sizes)):
        area = "Bar" if seats == 2 and rng.random() < 0.15 else str(rng.choice(areas))
        if area == "Private room" and seats < 6:
            area = "Main room"
        features: list[str] = []
        if area == "Main room" and rng.random() < 0.25:
            features.append("window")
        if area == "Main room" and seats >= 4 and rng.random() < 0.3:
            features.append("booth")
        if area == "Terrace":
            features.append("outdoor")
        if rng.random() < 0.15:
            features.append("quiet")
        tables.append(
            TableSpec(
                name=f"{area[0]}{i + 1}",
                area=area,
                min_covers=1 if seats == 2 else max(1, seats // 2),
                max_covers=seats,
                accessible=area != "Bar" and rng.random() < 0.3,
                features=tuple(features),
            )
        )
    combos: list[CombinationSpec] = []
    by_area: dict[tuple[str, int], list[TableSpec]] = {}
    for t in tables:
        by_area.setdefault((t.area, t.max_covers), []).append(t)
    for (area, seats), group in sorted(by_area.items()):
        if area == "Bar" or seats > 4:
            continue
        for a, b in zip(group[::2], group[1::2], strict=False):
            combos.append(
                CombinationSpec(f"{a.name}+{b.name}", (a.name, b.name), seats + 1, 2 * seats)
            )
    return tuple(tables), tuple(combos)


def make_place(
    rng: np.random.Generator,
    index: int,
    country: Country,
    city: City,
    first: str,
    surname: str,
    start: date,
    end: date,
) -> tuple[RestaurantSpec, PlaceTraits]:
    options = COUNTRY_CUISINES[country.code]
    weights = np.array([1.0 / (k + 1.5) for k in range(len(options))])
    cuisine = str(rng.choice(options, p=weights / weights.sum()))
    ambience = str(rng.choice(AMBIENCES))
    price_tier = int(rng.choice([1, 2, 3, 4], p=[0.22, 0.42, 0.26, 0.10]))
    popularity = float(rng.lognormal(0.0, 0.35))
    quality = float(rng.normal())
    pattern = str(rng.choice(NAME_PATTERNS[cuisine]))
    name = pattern.format(surname=surname, first=first, word=str(rng.choice(NAME_WORDS)))
    dishes = [str(d) for d in rng.choice(CUISINES[cuisine], size=3, replace=False)]
    description = (
        f"{name} is a {AMBIENCE_WORDS[ambience]} in {city.name} serving {cuisine} cooking. "
        f"Guests come back for the {dishes[0]}, the {dishes[1]} and the {dishes[2]}."
    )
    n_tables = int(rng.integers(10, 27))
    tables, combos = _layout(rng, n_tables)
    seats = sum(t.max_covers for t in tables)
    closed_monday = rng.random() < 0.4
    dinner_days = tuple(d for d in range(7) if not (closed_monday and d == 0))
    periods = [
        PeriodSpec(
            "dinner",
            dinner_days,
            *country.dinner,
            turn_times=_turn_times(price_tier, 1.0),
            max_covers_per_slot=max(8, math.ceil(seats * 0.22)),
            max_parties_per_slot=max(3, n_tables // 3),
        )
    ]
    if country.lunch is not None and rng.random() < 0.55:
        periods.append(
            PeriodSpec(
                "lunch",
                tuple(d for d in range(1, 7)),
                *country.lunch,
                turn_times=_turn_times(price_tier, 0.75),
                max_covers_per_slot=max(8, math.ceil(seats * 0.2)),
                max_parties_per_slot=max(3, n_tables // 3),
            )
        )
    closed: dict[date, str] = {}
    for year in range(start.year, end.year + 1):
        for month, day, holiday in country.holidays:
            d = date(year, month, day)
            if start <= d <= end and rng.random() < 0.8:
                closed[d] = holiday
    if rng.random() < 0.2:
        first_day = start + timedelta(days=int(rng.integers(0, max(1, (end - start).days))))
        for k in range(5):
            closed.setdefault(first_day + timedelta(days=k), "annual holiday")
    deposit_min = 1 if price_tier == 4 else (6 if price_tier == 3 and rng.random() < 0.5 else None)
    spend = country.spend_tier1_minor * (1 + 0.7 * (price_tier - 1))
    lat = city.latitude + float(rng.normal(0, 0.02))
    lon = city.longitude + float(rng.normal(0, 0.02))
    spec = RestaurantSpec(
        name=name,
        timezone=country.timezone,
        currency=country.currency,
        country=country.code,
        locale=country.locale,
        latitude=round(lat, 6),
        longitude=round(lon, 6),
        cuisines=(cuisine,),
        price_tier=price_tier,
        tables=tables,
        combinations=combos,
        periods=tuple(periods),
        closed_dates=closed,
        description=description,
        menu_highlights=tuple(dishes),
        ambience=ambience,
        rating=round(float(np.clip(3.9 + 0.35 * quality, 2.5, 5.0)), 1),
        address=f"{int(rng.integers(1, 240))} {rng.choice(NAME_WORDS)!s} Street",
        city=city.name,
        deposit_min_party=deposit_min,
        deposit_per_cover_minor=int(spend * 0.5) if deposit_min else 0,
        card_hold_minor=int(spend) if price_tier >= 3 else 0,
        cancellation_fee_minor=int(spend * 0.5) if price_tier >= 3 else 0,
        source="synthetic",
        external_ref=f"world-{index}",
    )
    traits = PlaceTraits(
        cuisine,
        ambience,
        price_tier,
        popularity,
        quality,
        float(rng.lognormal(0, 0.08)),
        city.name,
        country,
    )
    return spec, traits
