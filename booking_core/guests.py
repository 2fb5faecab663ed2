"""Guest profiles: contact, dietary needs, preferences, notes and tags.

Tags carry who set them. The machine (guest profiling) may add and refresh
its own tags, but never overwrites a tag a host set, and never brings back
one a host removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from booking_core import outbox
from booking_core.domain import TagSource
from booking_core.errors import InvalidRequest, UnknownDiner
from booking_core.ledger import Ledger
from booking_core.schema import diners, guest_notes, guest_tags


@dataclass(frozen=True)
class DinerSpec:
    name: str
    email: str | None = None
    phone: str | None = None
    locale: str = "en-US"
    dietary: tuple[str, ...] = ()
    allergies: tuple[str, ...] = ()
    seating_preferences: tuple[str, ...] = ()
    marketing_consent: bool = False
    home_latitude: float | None = None
    home_longitude: float | None = None


@dataclass(frozen=True)
class Tag:
    tag: str
    source: str
    confidence: float
    set_by: str
    set_at: datetime
    removed_at: datetime | None = None


@dataclass(frozen=True)
class GuestProfile:
    id: int
    name: str
    email: str | None
    phone: str | None
    locale: str
    dietary: list[str]
    allergies: list[str]
    seating_preferences: list[str]
    marketing_consent: bool
    tags: list[Tag] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def diner_row(spec: DinerSpec, now: datetime) -> dict[str, Any]:
    if not spec.name.strip():
        raise InvalidRequest("A guest needs a name.")
    if spec.email is not None and "@" not in spec.email:
        raise InvalidRequest(f"{spec.email!r} is not an email address.")
    return {
        "name": spec.name.strip(),
        "email": spec.email,
        "phone": spec.phone,
        "locale": spec.locale,
        "dietary": list(spec.dietary),
        "allergies": list(spec.allergies),
        "seating_preferences": list(spec.seating_preferences),
        "marketing_consent": spec.marketing_consent,
        "home_latitude": spec.home_latitude,
        "home_longitude": spec.home_longitude,
        "created_at": now,
    }


def create_diner(ledger: Ledger, spec: DinerSpec) -> int:
    now = ledger.clock()
    try:
        with ledger.write() as conn:
            diner_id = int(
                conn.execute(
                    diners.insert().values(**diner_row(spec, now)).returning(diners.c.id)
                ).scalar_one()
            )
            outbox.append(
                conn, "diner.created", "diner", diner_id, None, {"locale": spec.locale}, now
            )
            return diner_id
    except IntegrityError:
        raise InvalidRequest(f"A guest with email {spec.email!r} already exists.") from None


def get_profile(ledger: Ledger, diner_id: int) -> GuestProfile:
    with ledger.read() as conn:
        row = conn.execute(sa.select(diners).where(diners.c.id == diner_id)).first()
        if row is None:
            raise UnknownDiner(f"There is no diner with id {diner_id}.")
        m = row._mapping
        tags = [
            Tag(t.tag, t.source, t.confidence, t.set_by, t.set_at, t.removed_at)
            for t in conn.execute(
                sa.select(guest_tags)
                .where(guest_tags.c.diner_id == diner_id)
                .order_by(guest_tags.c.tag)
            )
        ]
        notes = list(
            conn.execute(
                sa.select(guest_notes.c.text)
                .where(guest_notes.c.diner_id == diner_id)
                .order_by(guest_notes.c.created_at)
            ).scalars()
        )
    return GuestProfile(
        id=diner_id,
        name=m["name"],
        email=m["email"],
        phone=m["phone"],
        locale=m["locale"],
        dietary=m["dietary"],
        allergies=m["allergies"],
        seating_preferences=m["seating_preferences"],
        marketing_consent=bool(m["marketing_consent"]),
        tags=tags,
        notes=notes,
    )


def add_note(
    ledger: Ledger, diner_id: int, text: str, *, author: str, restaurant_id: int | None = None
) -> int:
    if not text.strip():
        raise InvalidRequest("A note needs some text.")
    now = ledger.clock()
    try:
        with ledger.write() as conn:
            note_id = int(
                conn.execute(
                    guest_notes.insert()
                    .values(
                        diner_id=diner_id,
                        restaurant_id=restaurant_id,
                        text=text.strip(),
                        author=author,
                        created_at=now,
                    )
                    .returning(guest_notes.c.id)
                ).scalar_one()
            )
            outbox.append(
                conn,
                "guest.note_added",
                "diner",
                diner_id,
                restaurant_id,
                {"note_id": note_id, "author": author},
                now,
            )
            return note_id
    except IntegrityError:
        raise UnknownDiner(f"There is no diner with id {diner_id}.") from None


def set_tag(
    ledger: Ledger,
    diner_id: int,
    tag: str,
    *,
    source: TagSource | str,
    set_by: str,
    confidence: float = 1.0,
) -> bool:
    """Set a tag; returns False when a machine tag yields to a host's decision."""
    source = TagSource(source)
    tag = tag.strip().lower()
    if not tag or len(tag) > 60:
        raise InvalidRequest("A tag is 1 to 60 characters.")
    if not 0.0 <= confidence <= 1.0:
        raise InvalidRequest("A tag's confidence lies between 0 and 1.")
    now = ledger.clock()
    with ledger.write() as conn:
        if conn.execute(sa.select(diners.c.id).where(diners.c.id == diner_id)).first() is None:
            raise UnknownDiner(f"There is no diner with id {diner_id}.")
        current = conn.execute(
            sa.select(guest_tags).where(guest_tags.c.diner_id == diner_id, guest_tags.c.tag == tag)
        ).first()
        if current is not None and source is TagSource.MACHINE and current.source == TagSource.HOST:
            return False  # a host's tag, or a host's removal, stands
        _write_tag(conn, diner_id, tag, current, source, confidence, set_by, now)
        return True


def _write_tag(
    conn: sa.Connection,
    diner_id: int,
    tag: str,
    current: Any,
    source: TagSource,
    confidence: float,
    set_by: str,
    now: datetime,
) -> None:
    """Insert or overwrite (and un-remove) one tag row, with its event."""
    values = {
        "source": source.value,
        "confidence": confidence,
        "set_by": set_by,
        "set_at": now,
        "removed_at": None,
    }
    if current is None:
        conn.execute(guest_tags.insert().values(diner_id=diner_id, tag=tag, **values))
    else:
        conn.execute(guest_tags.update().where(guest_tags.c.id == current.id).values(**values))
    outbox.append(
        conn,
        "guest.tag_set",
        "diner",
        diner_id,
        None,
        {"tag": tag, "source": source.value, "confidence": confidence},
        now,
    )


def remove_tag(ledger: Ledger, diner_id: int, tag: str, *, removed_by: str) -> None:
    """A host removes a tag; the removal is remembered so the machine keeps off it."""
    tag = tag.strip().lower()
    now = ledger.clock()
    with ledger.write() as conn:
        done = conn.execute(
            guest_tags.update()
            .where(guest_tags.c.diner_id == diner_id, guest_tags.c.tag == tag)
            .values(source=TagSource.HOST.value, set_by=removed_by, removed_at=now)
        )
        if done.rowcount == 0:
            raise InvalidRequest(f"Diner {diner_id} has no tag {tag!r}.")
        outbox.append(
            conn, "guest.tag_removed", "diner", diner_id, None, {"tag": tag, "by": removed_by}, now
        )


@dataclass(frozen=True)
class MachineTagRun:
    """What one guest-profiling run changed."""

    set: int = 0
    unchanged: int = 0
    yielded: int = 0  # a host's tag or removal stood
    retired: int = 0  # the machine's own tags it no longer finds
    skipped_diners: int = 0  # erased guests are never profiled


def set_machine_tags(
    ledger: Ledger,
    tags: Mapping[int, Mapping[str, float]],
    *,
    set_by: str,
    retire_missing: bool = True,
) -> MachineTagRun:
    """Write one profiling run's tags (diner id -> {tag: confidence}) in one
    transaction. A host's tag or removal always stands; a machine tag whose
    confidence moved by less than 0.01 is left alone (no event); with
    ``retire_missing`` the machine's own tags that the run no longer finds for
    a diner in ``tags`` are marked removed (the machine may bring them back).
    Everything is checked before anything is written."""
    clean: dict[int, dict[str, float]] = {}
    for diner_id, found in tags.items():
        clean[int(diner_id)] = {}
        for tag, confidence in found.items():
            name = tag.strip().lower()
            if not name or len(name) > 60:
                raise InvalidRequest(f"A tag is 1 to 60 characters, not {tag!r}.")
            if not 0.0 <= float(confidence) <= 1.0:
                raise InvalidRequest(f"A tag's confidence lies between 0 and 1, not {confidence}.")
            clean[int(diner_id)][name] = float(confidence)
    now = ledger.clock()
    counts = {"set": 0, "unchanged": 0, "yielded": 0, "retired": 0, "skipped_diners": 0}
    with ledger.write() as conn:
        ids = list(clean)
        alive: set[int] = set()
        erased: set[int] = set()
        for start in range(0, len(ids), 5000):
            part = ids[start : start + 5000]
            for row in conn.execute(
                sa.select(diners.c.id, diners.c.erased_at).where(diners.c.id.in_(part))
            ):
                (erased if row.erased_at is not None else alive).add(int(row.id))
        unknown = set(ids) - alive - erased
        if unknown:
            raise UnknownDiner(f"There is no diner with id {min(unknown)}.")
        current: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), 5000):
            part = ids[start : start + 5000]
            for found_row in conn.execute(
                sa.select(guest_tags).where(guest_tags.c.diner_id.in_(part))
            ):
                current.setdefault(int(found_row.diner_id), {})[found_row.tag] = found_row
        for diner_id, found in clean.items():
            if diner_id in erased:
                counts["skipped_diners"] += 1
                continue
            for tag, confidence in found.items():
                tag_row = current.get(diner_id, {}).get(tag)
                if tag_row is not None and tag_row.source == TagSource.HOST:
                    counts["yielded"] += 1
                    continue
                if (
                    tag_row is not None
                    and tag_row.removed_at is None
                    and abs(tag_row.confidence - confidence) < 0.01
                ):
                    counts["unchanged"] += 1
                    continue
                _write_tag(conn, diner_id, tag, tag_row, TagSource.MACHINE, confidence, set_by, now)
                counts["set"] += 1
            if not retire_missing:
                continue
            for tag, row in current.get(diner_id, {}).items():
                if tag in found or row.source != TagSource.MACHINE or row.removed_at is not None:
                    continue
                conn.execute(
                    guest_tags.update().where(guest_tags.c.id == row.id).values(removed_at=now)
                )
                outbox.append(
                    conn,
                    "guest.tag_removed",
                    "diner",
                    diner_id,
                    None,
                    {"tag": tag, "by": set_by},
                    now,
                )
                counts["retired"] += 1
    return MachineTagRun(**counts)


__all__ = [
    "DinerSpec",
    "GuestProfile",
    "MachineTagRun",
    "Tag",
    "add_note",
    "create_diner",
    "get_profile",
    "remove_tag",
    "set_machine_tags",
    "set_tag",
]
