"""Inputs for the recommender from our ledger and from the UCI restaurant
data set, and the availability callback that keeps the model off the database.

Every builder returns the recommender's generic frames (see
``models.recommend``): ``interactions`` (user, item, time, rating),
``items`` (item, text, name, attributes) and ``users`` (user, preferences,
location, dietary). Ledger frames are read as of a moment, so a holdout
never leaks into what the model learns from.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from pathlib import Path

import polars as pl

from booking_core.availability import find_times
from booking_core.errors import BookingError
from booking_core.ledger import Ledger

# Reviews per restaurant folded into its text: the latest few say how it is now.
REVIEWS_IN_TEXT = 3


def _json_list(text: str | None) -> list[str]:
    if not text:
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def restaurant_items(
    restaurants: pl.DataFrame, reviews: pl.DataFrame | None = None, *, as_of: datetime | None = None
) -> pl.DataFrame:
    """The catalogue: one row per restaurant with its text (name, description,
    cuisines, menu highlights, room, the latest approved reviews as of
    ``as_of``) and attributes (cuisine, ambience, price tier, rating, place)."""
    review_text = pl.DataFrame(schema={"restaurant_id": pl.Int64, "said": pl.String})
    if reviews is not None and not reviews.is_empty():
        approved = reviews.filter(pl.col("moderation_status") == "approved")
        if as_of is not None:
            approved = approved.filter(pl.col("created_at") < as_of)
        review_text = (
            approved.sort("created_at", descending=True)
            .group_by("restaurant_id")
            .agg(pl.col("text").head(REVIEWS_IN_TEXT).str.join(" ").alias("said"))
        )
    rows = []
    said = dict(zip(review_text["restaurant_id"], review_text["said"], strict=True))
    for r in restaurants.iter_rows(named=True):
        cuisines = _json_list(r["cuisines"])
        menu = _json_list(r["menu_highlights"])
        parts = [
            f"{r['name']}.",
            r["description"] or "",
            f"Cuisine: {', '.join(cuisines)}." if cuisines else "",
            f"Menu highlights: {', '.join(menu)}." if menu else "",
            f"A {r['ambience']} room." if r["ambience"] else "",
            f"Guests say: {said[r['id']]}" if said.get(r["id"]) else "",
        ]
        rows.append(
            {
                "item": r["id"],
                "name": r["name"],
                "text": " ".join(p for p in parts if p),
                "cuisine": cuisines[0] if cuisines else None,
                "ambience": r["ambience"],
                "price_tier": r["price_tier"],
                "rating": r["rating"],
                "latitude": r["latitude"],
                "longitude": r["longitude"],
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "item": pl.Int64,
            "name": pl.String,
            "text": pl.String,
            "cuisine": pl.String,
            "ambience": pl.String,
            "price_tier": pl.Int64,
            "rating": pl.Float64,
            "latitude": pl.Float64,
            "longitude": pl.Float64,
        },
    )


def booking_interactions(
    reservations: pl.DataFrame,
    reviews: pl.DataFrame | None = None,
    *,
    as_of: datetime | None = None,
) -> pl.DataFrame:
    """Each booking a diner made is a choice (``time`` = when it was made),
    rated when the diner reviewed that visit before ``as_of``. Walk-ins have
    no diner and bookings the restaurant cancelled were not the diner's doing."""
    chosen = reservations.filter(
        pl.col("diner_id").is_not_null()
        & (pl.col("channel") != "walk_in")
        & (pl.col("cancelled_by").fill_null("") != "restaurant")
    )
    if as_of is not None:
        chosen = chosen.filter(pl.col("booked_at") < as_of)
    frame = chosen.select(
        pl.col("diner_id").alias("user"),
        pl.col("restaurant_id").alias("item"),
        pl.col("booked_at").alias("time"),
        pl.col("id").alias("reservation_id"),
    )
    if reviews is None or reviews.is_empty():
        return frame.with_columns(pl.lit(None, pl.Float64).alias("rating")).drop("reservation_id")
    rated = reviews.filter(pl.col("reservation_id").is_not_null())
    if as_of is not None:
        rated = rated.filter(pl.col("created_at") < as_of)
    rated = rated.group_by("reservation_id").agg(pl.col("rating").max().cast(pl.Float64))
    return frame.join(rated, on="reservation_id", how="left").drop("reservation_id")


def diner_users(diners: pl.DataFrame) -> pl.DataFrame:
    """Stated facts about diners: dietary needs (also their stated taste) and home."""
    dietary = [_json_list(d) for d in diners["dietary"].to_list()]
    return pl.DataFrame(
        {
            "user": diners["id"],
            "preferences": [", ".join(d) for d in dietary],
            "dietary": dietary,
            "latitude": diners["home_latitude"],
            "longitude": diners["home_longitude"],
        },
        schema={
            "user": pl.Int64,
            "preferences": pl.String,
            "dietary": pl.List(pl.String),
            "latitude": pl.Float64,
            "longitude": pl.Float64,
        },
    )


def bookable_at(
    ledger: Ledger,
    local_date: date | str,
    local_time: str,
    party_size: int,
    *,
    window_min: int = 30,
    now: datetime | None = None,
) -> Callable[[int], str | None]:
    """The ``context.bookable`` callback for a request: given a restaurant id,
    the bookable local time nearest ``local_time`` (within ``window_min``
    either way) or None when the party cannot be seated then."""
    hh, mm = (int(x) for x in local_time.split(":"))
    asked = hh * 60 + mm
    lo = max(asked - window_min, 0)
    hi = min(asked + window_min, 23 * 60 + 59)
    earliest, latest = f"{lo // 60:02d}:{lo % 60:02d}", f"{hi // 60:02d}:{hi % 60:02d}"

    def check(restaurant_id: int) -> str | None:
        try:
            times = find_times(
                ledger,
                int(restaurant_id),
                local_date,
                party_size,
                earliest=earliest,
                latest=latest,
                now=now,
            )
        except BookingError:  # the party cannot fit there at all, or the place is gone
            return None
        if not times:
            return None
        best = min(times, key=lambda t: abs(_minutes(t.local_time) - asked))
        return best.local_time

    return check


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


# ---------------------------------------------------------------- UCI restaurant & consumer data


def _uci_read(folder: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(
        folder / name, null_values=["?"], infer_schema_length=0, encoding="utf8-lossy"
    )


def _listed(label: str, values: list[str]) -> str:
    return f"{label}: {', '.join(values)}." if values else ""


def uci_frames(folder: str | Path) -> dict[str, pl.DataFrame]:
    """The UCI restaurant & consumer data (Vargas-Govea et al., 2011) as the
    recommender's frames: ``interactions`` (user, item, rating 0-2; the data
    set has no timestamps, so ``time`` is one constant day), ``items`` (text
    from cuisine, price, room, alcohol, smoking, dress code, access, parking
    and payment) and ``users`` (stated cuisines, budget and ambience; home)."""
    folder = Path(folder)
    if not (folder / "rating_final.csv").is_file():
        raise FileNotFoundError(f"no UCI restaurant data under {folder}")
    places = _uci_read(folder, "geoplaces2.csv")
    cuisine = _uci_read(folder, "chefmozcuisine.csv").group_by("placeID").agg(pl.col("Rcuisine"))
    parking = _uci_read(folder, "chefmozparking.csv").group_by("placeID").agg(pl.col("parking_lot"))
    payment = _uci_read(folder, "chefmozaccepts.csv").group_by("placeID").agg(pl.col("Rpayment"))
    places = (
        places.join(cuisine, on="placeID", how="left")
        .join(parking, on="placeID", how="left")
        .join(payment, on="placeID", how="left")
    )

    def words(value: str | None) -> str:
        return (value or "").replace("_", " ").lower()

    items = []
    for p in places.iter_rows(named=True):
        cuisines = [words(c) for c in (p["Rcuisine"] or [])]
        text = " ".join(
            part
            for part in (
                f"{p['name']}.",
                f"{', '.join(cuisines)} restaurant." if cuisines else "",
                f"{words(p['price'])} prices, {words(p['Rambience'])} ambience.",
                f"{words(p['alcohol'])}, smoking: {words(p['smoking_area'])}.",
                f"Dress code {words(p['dress_code'])}, accessibility {words(p['accessibility'])}.",
                _listed("Parking", [words(x) for x in p["parking_lot"] or []]),
                _listed("Pay by", [words(x) for x in p["Rpayment"] or []]),
                f"{words(p['area'])} area, {words(p['other_services'])} services.",
            )
            if part
        )
        items.append(
            {
                "item": p["placeID"],
                "name": p["name"],
                "text": text,
                "cuisine": cuisines[0] if cuisines else None,
                "price": words(p["price"]) or None,
                "ambience": words(p["Rambience"]) or None,
                "alcohol": words(p["alcohol"]) or None,
                "latitude": float(p["latitude"]),
                "longitude": float(p["longitude"]),
            }
        )
    ratings = _uci_read(folder, "rating_final.csv")
    interactions = ratings.select(
        pl.col("userID").alias("user"),
        pl.col("placeID").alias("item"),
        pl.lit(date(2011, 1, 1)).alias("time"),
        pl.col("rating").cast(pl.Float64),
    )
    profile = _uci_read(folder, "userprofile.csv")
    liked = _uci_read(folder, "usercuisine.csv").group_by("userID").agg(pl.col("Rcuisine"))
    profile = profile.join(liked, on="userID", how="left")
    users = pl.DataFrame(
        {
            "user": profile["userID"],
            "preferences": [
                " ".join(
                    (
                        f"Likes {', '.join(words(c) for c in (r['Rcuisine'] or []))} food.",
                        f"Budget {words(r['budget'])}, {words(r['ambience'])} ambience,",
                        f"dress {words(r['dress_preference'])}, drinks {words(r['drink_level'])}.",
                    )
                )
                for r in profile.iter_rows(named=True)
            ],
            "latitude": profile["latitude"].cast(pl.Float64),
            "longitude": profile["longitude"].cast(pl.Float64),
        }
    )
    return {"interactions": interactions, "items": pl.DataFrame(items), "users": users}


def frames_from_mapping(
    frames: Mapping[str, pl.DataFrame], as_of: datetime
) -> dict[str, pl.DataFrame]:
    """The recommender's frames from ledger tables read by ``LedgerSnapshot``
    (``restaurants``, ``reservations``, ``reviews``, ``diners``), as of ``as_of``."""
    reviews = frames.get("reviews")
    return {
        "items": restaurant_items(frames["restaurants"], reviews, as_of=as_of),
        "interactions": booking_interactions(frames["reservations"], reviews, as_of=as_of),
        "users": diner_users(frames["diners"]),
    }


__all__ = [
    "bookable_at",
    "booking_interactions",
    "diner_users",
    "frames_from_mapping",
    "restaurant_items",
    "uci_frames",
]
