"""Months of service, simulated one restaurant-day at a time under the same
rules as live bookings: the day book, pacing and table choice of the booking
core decide every acceptance; cancellations, no-shows and departures free
tables in time order; walk-ins take what is physically free or join the
waitlist. Only what has happened by the world's "now" is recorded, so future
bookings stay booked and their tables stay claimed.

Deposits follow the product (``booking_core.deposits``): a walk-in owes none;
a booking the restaurant's policy covers pays its deposit in full as it is
booked (one ``deposit_payments`` row, a ``reservation.deposit_paid`` event
right after ``reservation.booked``), so none is ever released unpaid; what is
held settles when the booking ends: kept against a fee, refunded, or applied
to the bill of a completed visit."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from booking_core.cancellation_terms import Fee, Terms, fee_for, free_until, settlement
from booking_core.daybook import BestFitAtBooking, DayBook
from booking_core.deposits import DepositReason, due_at, payment_key
from booking_core.domain import (
    DINER_SPACING_MINUTES,
    GRANULE_MINUTES,
    CancelledBy,
    ReservationState,
)
from booking_core.floor import Floor, SeatingOption, ServicePeriod
from booking_core.slots import Slot, granule_of, granule_span, make_slot
from booking_core.world.catalogue import (
    CUISINES,
    REQUEST_TEMPLATES,
    REVIEW_BODIES,
    REVIEW_OPENERS,
)
from booking_core.world.people import (
    Diner,
    affinity,
    attendance_truth,
    draw_party,
    median_duration,
)
from booking_core.world.places import PlaceTraits

CHANNELS = ("web", "widget", "affiliate", "phone")
WEEKDAY_DEMAND = (0.6, 0.75, 0.85, 1.0, 1.45, 1.6, 1.05)
NO_SHOW_AFTER = timedelta(minutes=20)
POLICY = BestFitAtBooking()
PAYMENT_SOURCE = "world"  # deposit_payments.source of the world's payments


@dataclass
class Rows:
    """Ledger rows produced by the simulation, flushed in bulk."""

    reservations: list[dict[str, Any]] = field(default_factory=list)
    reservation_tables: list[dict[str, Any]] = field(default_factory=list)
    table_claims: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    truth: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    deposit_payments: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    waitlist: list[dict[str, Any]] = field(default_factory=list)
    turnaways: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.reservations)


@dataclass
class Booking:
    id: int
    diner: Diner | None
    slot: Slot
    party: int
    channel: str
    option: SeatingOption
    booked_at: datetime
    request_text: str
    deposit: bool  # the policy asks one (never of a walk-in)
    accessible: bool
    duration_median: float
    times: dict[str, datetime] = field(default_factory=dict)
    cancelled_by: str | None = None
    released: datetime | None = None


class DaySimulator:
    """Simulates every service of one restaurant on one date."""

    def __init__(
        self,
        rng: np.random.Generator,
        floor: Floor,
        traits: PlaceTraits,
        now: datetime,
        next_id: list[int],
        diner_starts: dict[int, list[datetime]],
        rows: Rows,
    ) -> None:
        self.rng, self.floor, self.traits, self.now = rng, floor, traits, now
        self.next_id, self.diner_starts, self.rows = next_id, diner_starts, rows
        self.area_names: dict[int, str] = {}
        self._pending: list[Booking] = []

    # ------------------------------------------------------------ requests

    def _text(self, diner: Diner | None, day: date, party: int) -> tuple[str, bool]:
        """A special request drawn from what the diner is like; and whether
        they need an accessible table."""
        if diner is None:
            return "", False
        rng = self.rng
        lang = diner.locale[:2] if diner.locale[:2] in REQUEST_TEMPLATES else "en"
        words = REQUEST_TEMPLATES[lang]
        parts: list[str] = []

        def near(md: tuple[int, int]) -> bool:
            try:
                return abs((date(day.year, *md) - day).days) <= 3
            except ValueError:
                return False

        if near(diner.birthday) and rng.random() < 0.7:
            parts.append(words["birthday"].format(name=diner.first_name))
        if diner.anniversary and near(diner.anniversary) and rng.random() < 0.7:
            parts.append(words["anniversary"])
        if diner.allergies and rng.random() < 0.5:
            parts.append(words["allergy"].format(allergy=diner.allergies[0]))
        if diner.dietary and rng.random() < 0.3:
            parts.append(words["dietary"].format(dietary=diner.dietary[0]))
        if diner.seating and rng.random() < 0.25:
            parts.append(words["seating"].format(seating=diner.seating[0]))
        if diner.needs_access:
            parts.append(words["accessible"])
        if party >= 3 and rng.random() < 0.04:
            parts.append(words["high_chair"])
        return " ".join(parts), diner.needs_access

    def _spaced(self, diner: Diner, start: datetime) -> bool:
        window = timedelta(minutes=DINER_SPACING_MINUTES)
        return all(abs(s - start) >= window for s in self.diner_starts.get(diner.id, ()))

    def _try_book(
        self,
        book: DayBook,
        period: ServicePeriod,
        day: date,
        minute: int,
        party: int,
        accessible: bool,
        booked_at: datetime,
    ) -> tuple[Slot, SeatingOption] | str:
        reason = "no_table"
        for shift in (0, 15, -15, 30, -30, 45, -45):
            m = minute + shift
            if not period.opens_min <= m <= period.last_seating_min:
                continue
            if (m - period.opens_min) % period.slot_interval_min:
                continue
            slot = make_slot(self.floor, period, day, m, party)
            # At least half an hour of notice, so nobody is seated before booking.
            if slot is None or slot.start_at < booked_at + timedelta(minutes=30):
                continue
            if not book.pacing_allows(slot, party):
                reason = "pacing" if shift == 0 else reason
                continue
            option = POLICY.choose(
                self.floor, book, party, slot.start_granule, slot.end_granule, accessible=accessible
            )
            if option is not None:
                return slot, option
        return reason

    # ------------------------------------------------------------ the day

    def run(self, day: date, candidates: list[Diner], weights: np.ndarray, season: float) -> None:
        floor, rng, traits = self.floor, self.rng, self.traits
        book = DayBook.for_date(floor, day)
        free_at: dict[int, datetime] = {}
        queue: list[tuple[datetime, int, str, Any]] = []
        seq = 0

        def push(at: datetime, kind: str, data: Any) -> None:
            nonlocal seq
            seq += 1
            heapq.heappush(queue, (at, seq, kind, data))

        weekday = day.weekday()
        for period in floor.periods_on(day):
            lunch = period.name == "lunch"
            tables = len(floor.tables)
            rate = tables * (0.75 if lunch else 1.35) * traits.popularity * season
            rate *= WEEKDAY_DEMAND[weekday] * (1.0 - 0.08 * (traits.price_tier - 2))
            minutes = list(period.slot_minutes())
            peak = period.opens_min + (60 if lunch else 150)
            w = np.exp(-0.5 * ((np.array(minutes) - peak) / (45 if lunch else 70)) ** 2)
            n_requests = int(rng.poisson(rate * rng.gamma(8.0, 1 / 8.0)))
            if n_requests and len(candidates):
                picks = rng.choice(len(candidates), size=n_requests, p=weights)
                for k in picks:
                    diner = candidates[int(k)]
                    minute = int(rng.choice(minutes, p=w / w.sum()))
                    start = make_slot(floor, period, day, minute, 2)
                    if start is None:
                        continue
                    lead_h = float(rng.exponential(diner.lead_days_mean * 24.0)) + 0.5
                    booked_at = start.start_at - timedelta(hours=min(lead_h, 24 * 90))
                    push(booked_at, "request", (diner, period, minute))
            n_walk = int(rng.poisson(tables * 0.3 * traits.popularity * WEEKDAY_DEMAND[weekday]))
            for _ in range(n_walk):
                minute = int(rng.integers(period.opens_min, period.last_seating_min + 1))
                start = make_slot(floor, period, day, minute, 2)
                if start is not None:
                    push(
                        start.start_at,
                        "walk_in",
                        (period, minute, int(rng.choice([1, 2, 2, 2, 3, 4, 4, 5, 6]))),
                    )

        while queue:
            at, _, kind, data = heapq.heappop(queue)
            if at > self.now:
                break
            if kind == "request":
                self._request(book, day, at, *data, push=push)
            elif kind == "cancel":
                self._release(book, data, at, "cancelled")
            elif kind == "no_show":
                self._release(book, data, at, "no_show")
            elif kind == "arrive":
                self._arrive(data, at, free_at, push)
            elif kind == "depart":
                self._depart(book, data, at)
            elif kind == "walk_in":
                self._walk_in(book, day, at, *data, free_at=free_at, push=push)
            elif kind == "retry":
                self._retry(book, day, at, data, free_at, push)

    def _request(
        self,
        book: DayBook,
        day: date,
        at: datetime,
        diner: Diner,
        period: ServicePeriod,
        minute: int,
        *,
        push: Any,
    ) -> None:
        rng, floor, traits = self.rng, self.floor, self.traits
        party = min(draw_party(rng, diner.party_habit), floor.largest_party)
        text, accessible = self._text(diner, day, party)
        found = self._try_book(book, period, day, minute, party, accessible, at)
        if isinstance(found, str):
            start = make_slot(floor, period, day, minute, party)
            if start is not None:
                self.rows.turnaways.append(
                    {
                        "restaurant_id": floor.restaurant_id,
                        "service_date": day,
                        "requested_start_at": start.start_at,
                        "requested_at": at,
                        "party_size": party,
                        "channel": str(rng.choice(CHANNELS, p=diner.channel_p)),
                        "reason": found,
                    }
                )
            return
        slot, option = found
        if not self._spaced(diner, slot.start_at):
            return  # this diner already holds a booking near then; they would not ask
        book.hold(option.table_ids, slot.start_granule, slot.end_granule)
        book.add_start(slot.start_granule, party)
        self.diner_starts.setdefault(diner.id, []).append(slot.start_at)
        channel = str(rng.choice(CHANNELS, p=diner.channel_p))
        deposit = floor.deposit_min_party is not None and party >= floor.deposit_min_party
        lead_h = (slot.start_at - at).total_seconds() / 3600.0
        p_cancel, p_ns, p_late = attendance_truth(
            lead_hours=lead_h,
            party_size=party,
            deposit=deposit,
            weekday=day.weekday(),
            channel=channel,
            has_request=bool(text),
            flakiness=diner.flakiness,
            noise_ns=float(rng.normal(0, 0.15)),
            noise_c=float(rng.normal(0, 0.15)),
        )
        area = self.area_of(option)
        median = median_duration(
            party_size=party,
            price_tier=traits.price_tier,
            lunch=slot.period.name == "lunch",
            weekday=day.weekday(),
            local_minute=slot.local_minute,
            area=area,
            restaurant_pace=traits.pace,
        )
        b = Booking(
            self._new_id(),
            diner,
            slot,
            party,
            channel,
            option,
            at,
            text,
            deposit,
            accessible,
            median,
        )
        b.times["booked_at"] = at
        self.rows.truth.append(
            {
                "reservation_id": b.id,
                "p_no_show": (1 - p_cancel) * p_ns,
                "p_late_cancel": p_late,
                "expected_duration_min": median,
            }
        )
        self._record_booking(b)
        lead = slot.start_at - at
        if rng.random() < p_cancel:
            cancel_at = at + lead * float(rng.beta(2.0, 1.0))
            self._maybe_confirm(b, cancel_at, 0.3)
            b.cancelled_by = "restaurant" if rng.random() < 0.05 else "diner"
            push(cancel_at, "cancel", b)
        elif rng.random() < p_ns:
            self._maybe_confirm(b, slot.start_at, 0.25)
            push(slot.start_at + NO_SHOW_AFTER, "no_show", b)
        else:
            self._maybe_confirm(b, slot.start_at, 0.65)
            lateness = float(np.clip(rng.normal(4, 7), -10, 35))
            push(slot.start_at + timedelta(minutes=lateness), "arrive", b)

    def _maybe_confirm(self, b: Booking, before: datetime, p: float) -> None:
        # The reminder goes out two days ahead; guests answer within a day and
        # a half, so some confirmations are known at the 24-hour cut-off.
        ask = max(b.slot.start_at - timedelta(hours=48), b.booked_at)
        if b.slot.start_at - ask > timedelta(hours=4) and self.rng.random() < p:
            reply = min(float(self.rng.exponential(8 * 60)), 36 * 60)
            at = min(ask + timedelta(minutes=5 + reply), b.slot.start_at - timedelta(hours=2))
            if at < before and at <= self.now:
                b.times["confirmed_at"] = at
                self._event(b, "reservation.confirmed", at, {"from": "booked", "to": "confirmed"})

    def area_of(self, option: SeatingOption) -> str:
        table = self.floor.tables[option.table_ids[0]]
        return self.area_names.get(table.area_id, "Main room")

    def _new_id(self) -> int:
        self.next_id[0] += 1
        return self.next_id[0]

    def _event(self, b: Booking, kind: str, at: datetime, payload: dict[str, Any]) -> None:
        self.rows.events.append(
            {
                "event_type": kind,
                "entity": "reservation",
                "entity_id": b.id,
                "restaurant_id": self.floor.restaurant_id,
                "payload": payload,
                "occurred_at": at,
            }
        )

    def _record_booking(self, b: Booking) -> None:
        slot = b.slot
        created = "reservation.seated_walk_in" if b.channel == "walk_in" else "reservation.booked"
        state = "seated" if b.channel == "walk_in" else "booked"
        amount = self._terms(b).deposit_minor
        deposit: dict[str, Any] = {}
        if amount:
            deposit = {"deposit_minor": amount, "deposit_due_at": self._due_at(b).isoformat()}
        self._event(
            b,
            created,
            b.booked_at,
            {
                "state": state,
                "party_size": b.party,
                "service_date": slot.service_date.isoformat(),
                "start_at": slot.start_at.isoformat(),
                "end_at": slot.end_at.isoformat(),
                "channel": b.channel,
                "table_ids": list(b.option.table_ids),
                "diner_id": b.diner.id if b.diner else None,
                "deposit_required": b.deposit,
                **deposit,
            },
        )
        if amount:
            # Paid in full as booked, as ``deposits.record_payment`` records it.
            self._event(
                b,
                "reservation.deposit_paid",
                b.booked_at,
                {
                    "amount_minor": amount,
                    "currency": self.floor.currency,
                    "payment_ref": payment_ref(b.id),
                    "source": PAYMENT_SOURCE,
                    "held_minor": amount,
                    "deposit_minor": amount,
                    "paid_in_full": True,
                },
            )
        self._pending.append(b)

    def _due_at(self, b: Booking) -> datetime:
        return due_at(b.booked_at, b.slot.start_at, self.floor.deposit_pay_within_minutes)

    def _terms(self, b: Booking) -> Terms:
        window = self.floor.cancellation_window_hours
        policy = Terms(
            fee_minor=self.floor.cancellation_fee_minor,
            window_hours=window,
            free_until=free_until(b.slot.start_at, window),
            deposit_minor=0,
            deposit_min_party=self.floor.deposit_min_party,
            deposit_per_cover_minor=self.floor.deposit_per_cover_minor,
        )
        # A walk-in is here already: a deposit secures a table for later.
        return replace(policy, deposit_minor=policy.deposit_for(b.party) if b.deposit else 0)

    @staticmethod
    def _held(terms: Terms) -> int:
        """What a world booking holds: its deposit, paid in full when booked
        and never refunded (the world changes no party size)."""
        return terms.deposit_minor

    @staticmethod
    def _fee(b: Booking, terms: Terms, state: str) -> Fee | None:
        """The fee the product would have recorded (``cancellation_terms``)."""
        if state not in ("cancelled", "no_show"):
            return None
        t = b.times
        before = next(s for s in ("arrived", "confirmed", "booked") if f"{s}_at" in t)
        who = CancelledBy(b.cancelled_by) if state == "cancelled" and b.cancelled_by else None
        return fee_for(
            terms, ReservationState(before), ReservationState(state), who, t[f"{state}_at"]
        )

    def _release(self, book: DayBook, b: Booking, at: datetime, state: str) -> None:
        book.release(b.option.table_ids, *granule_span(b.slot.start_at, b.slot.end_at))
        if b.channel != "walk_in" and state in ("cancelled", "no_show"):
            book.add_start(b.slot.start_granule, b.party, -1)
        b.released = at
        b.times[f"{state}_at"] = at
        frm = "confirmed" if "confirmed_at" in b.times else "booked"
        payload: dict[str, Any] = {"from": frm, "to": state}
        if state == "cancelled":
            payload["cancelled_by"] = b.cancelled_by
        if b.channel != "walk_in" and state in ("cancelled", "no_show"):
            terms = self._terms(b)
            rstate = ReservationState(state)
            fee = self._fee(b, terms, state)
            held = self._held(terms)
            payload.update(settlement(terms, fee, rstate, self.floor.currency, held))
        self._event(b, f"reservation.{state}", at, payload)

    def _arrive(self, b: Booking, at: datetime, free_at: dict[int, datetime], push: Any) -> None:
        ready = max([at, *(free_at.get(t, at) for t in b.option.table_ids)])
        frm = "confirmed" if "confirmed_at" in b.times else "booked"
        if ready - at >= timedelta(minutes=5):
            b.times["arrived_at"] = at
            self._event(b, "reservation.arrived", at, {"from": frm, "to": "arrived"})
            frm = "arrived"
        if ready > self.now:
            return
        self._seat(b, ready, frm, free_at, push)

    def _seat(
        self, b: Booking, at: datetime, frm: str, free_at: dict[int, datetime], push: Any
    ) -> None:
        b.times["seated_at"] = at
        if b.channel != "walk_in":
            self._event(b, "reservation.seated", at, {"from": frm, "to": "seated"})
        minutes = b.duration_median * math.exp(float(self.rng.normal(0, 0.2)))
        leave = at + timedelta(minutes=minutes)
        for t in b.option.table_ids:
            free_at[t] = leave
        push(leave, "depart", b)

    def _depart(self, book: DayBook, b: Booking, at: datetime) -> None:
        book.release(b.option.table_ids, *granule_span(b.slot.start_at, b.slot.end_at))
        b.released = at
        b.times["completed_at"] = at
        payload: dict[str, Any] = {"from": "seated", "to": "completed"}
        terms = self._terms(b)
        completed = ReservationState.COMPLETED
        payload.update(settlement(terms, None, completed, self.floor.currency, self._held(terms)))
        self._event(b, "reservation.completed", at, payload)
        rng, traits = self.rng, self.traits
        spend = traits.country.spend_tier1_minor * (1 + 0.7 * (traits.price_tier - 1))
        spend *= 1.15 if b.slot.service_date.weekday() in (4, 5) else 1.0
        subtotal = int(b.party * spend * float(rng.lognormal(0, 0.25)))
        opened = b.times["seated_at"] + timedelta(minutes=float(rng.uniform(2, 10)))
        self.rows.checks.append(
            {
                "restaurant_id": self.floor.restaurant_id,
                "external_id": f"SIM-{b.id}",
                "table_id": b.option.table_ids[0],
                "reservation_id": b.id,
                "opened_at": min(opened, at),
                "closed_at": at,
                "covers": b.party,
                "subtotal_minor": subtotal,
                "currency": self.floor.currency,
            }
        )
        reviewed_at = at + timedelta(hours=float(rng.uniform(2, 72)))
        if b.diner is not None and rng.random() < 0.18 and reviewed_at <= self.now:
            like = affinity(b.diner, traits.cuisine, traits.price_tier, traits.ambience)
            stars = int(
                np.clip(
                    round(3.6 + 0.8 * traits.quality + 0.6 * like + float(rng.normal(0, 0.7))), 1, 5
                )
            )
            dish = str(rng.choice(CUISINES[traits.cuisine]))
            body = str(rng.choice(REVIEW_BODIES[stars]))
            room = f"{traits.ambience} room"
            text = f"{rng.choice(REVIEW_OPENERS[stars])} {body.format(dish=dish, ambience=room)}"
            self.rows.reviews.append(
                {
                    "restaurant_id": self.floor.restaurant_id,
                    "diner_id": b.diner.id,
                    "reservation_id": b.id,
                    "rating": stars,
                    "text": text,
                    "moderation_status": "approved" if rng.random() < 0.95 else "pending",
                    "created_at": reviewed_at,
                }
            )

    # ------------------------------------------------------------ walk-ins

    def _free_option(
        self, book: DayBook, party: int, at: datetime, turn: int, free_at: dict[int, datetime]
    ) -> SeatingOption | None:
        g0, g1 = granule_span(at, at + timedelta(minutes=turn))
        for option in self.floor.options:
            if (
                option.fits(party)
                and book.is_free(option.table_ids, g0, g1)
                and all(free_at.get(t, at) <= at for t in option.table_ids)
            ):
                return option
        return None

    def _walk_in(
        self,
        book: DayBook,
        day: date,
        at: datetime,
        period: ServicePeriod,
        minute: int,
        party: int,
        *,
        free_at: dict[int, datetime],
        push: Any,
    ) -> None:
        party = min(party, self.floor.largest_party)
        turn = period.turn_time(party)
        option = self._free_option(book, party, at, turn, free_at)
        if option is not None:
            self._seat_walk_in(book, day, at, period, minute, party, option, free_at, push)
            return
        quote = self._quote(book, party, at, turn)
        patience = float(self.rng.uniform(10, 50))
        if quote is None or quote > patience:
            self.rows.turnaways.append(
                {
                    "restaurant_id": self.floor.restaurant_id,
                    "service_date": day,
                    "requested_start_at": at,
                    "requested_at": at,
                    "party_size": party,
                    "channel": "walk_in",
                    "reason": "walk_in_no_table",
                }
            )
            return
        entry = {
            "restaurant_id": self.floor.restaurant_id,
            "guest_name": "",
            "party_size": party,
            "service_date": day,
            "state": "waiting",
            "joined_at": at,
            "quoted_wait_min": quote,
        }
        self.rows.waitlist.append(entry)
        wait = max(quote + float(self.rng.normal(0, 6)), 1.0)
        push(at + timedelta(minutes=wait), "retry", (entry, period, minute, party))

    def _quote(self, book: DayBook, party: int, at: datetime, turn: int) -> int | None:
        need = -(-turn // GRANULE_MINUTES)
        g = granule_of(at)
        for k in range(0, 240 // GRANULE_MINUTES):
            for option in self.floor.options:
                if option.fits(party) and book.is_free(option.table_ids, g + k, g + k + need):
                    return k * GRANULE_MINUTES
        return None

    def _retry(
        self,
        book: DayBook,
        day: date,
        at: datetime,
        data: Any,
        free_at: dict[int, datetime],
        push: Any,
    ) -> None:
        entry, period, minute, party = data
        option = self._free_option(book, party, at, period.turn_time(party), free_at)
        if option is None:
            entry.update(state="left", left_at=at)
            return
        entry.update(state="seated", notified_at=at - timedelta(minutes=2), seated_at=at)
        b = self._seat_walk_in(book, day, at, period, minute, party, option, free_at, push)
        entry["reservation_id"] = b.id

    def _seat_walk_in(
        self,
        book: DayBook,
        day: date,
        at: datetime,
        period: ServicePeriod,
        minute: int,
        party: int,
        option: SeatingOption,
        free_at: dict[int, datetime],
        push: Any,
    ) -> Booking:
        turn = period.turn_time(party)
        end = at + timedelta(minutes=turn)
        g0, g1 = granule_span(at, end)
        slot = Slot(period, day, minute, at, end, g0, g1)
        book.hold(option.table_ids, g0, g1)
        median = median_duration(
            party_size=party,
            price_tier=self.traits.price_tier,
            lunch=period.name == "lunch",
            weekday=day.weekday(),
            local_minute=minute,
            area=self.area_of(option),
            restaurant_pace=self.traits.pace,
        )
        b = Booking(
            self._new_id(), None, slot, party, "walk_in", option, at, "", False, False, median
        )
        b.times["booked_at"] = at
        self.rows.truth.append(
            {
                "reservation_id": b.id,
                "p_no_show": 0.0,
                "p_late_cancel": 0.0,
                "expected_duration_min": median,
            }
        )
        self._record_booking(b)
        self._seat(b, at, "booked", free_at, push)
        return b

    # ------------------------------------------------------------ output

    def flush(self) -> None:
        """Turn the day's bookings into ledger rows, as they stand at ``now``."""
        for b in self._pending:
            t = b.times
            if "cancelled_at" in t:
                state = "cancelled"
            elif "no_show_at" in t:
                state = "no_show"
            elif "completed_at" in t:
                state = "completed"
            elif "seated_at" in t:
                state = "seated"
            elif "arrived_at" in t:
                state = "arrived"
            elif "confirmed_at" in t:
                state = "confirmed"
            else:
                state = "booked"
            slot = b.slot
            terms = self._terms(b)
            fee = self._fee(b, terms, state)
            self.rows.reservations.append(
                {
                    "id": b.id,
                    "restaurant_id": self.floor.restaurant_id,
                    "diner_id": b.diner.id if b.diner else None,
                    "guest_name": "",
                    "service_date": slot.service_date,
                    "start_at": slot.start_at,
                    "end_at": slot.end_at,
                    "party_size": b.party,
                    "channel": b.channel,
                    "state": state,
                    "special_requests": b.request_text,
                    "combination_id": b.option.combination_id,
                    "accessible_required": b.accessible,
                    "deposit_required": b.deposit,
                    # The world's restaurants ask deposits by party size only.
                    "deposit_reason": DepositReason.PARTY_SIZE.value if b.deposit else None,
                    "deposit_minor": terms.deposit_minor,
                    "deposit_due_at": self._due_at(b) if terms.deposit_minor else None,
                    "deposit_paid_minor": terms.deposit_minor,
                    "deposit_refunded_minor": 0,
                    "deposit_paid_at": b.booked_at if terms.deposit_minor else None,
                    "card_hold_minor": self.floor.card_hold_minor,
                    "cancellation_fee_minor": terms.fee_minor,
                    "cancellation_window_hours": terms.window_hours,
                    "free_cancellation_until": terms.free_until,
                    "deposit_min_party": terms.deposit_min_party,
                    "deposit_per_cover_minor": terms.deposit_per_cover_minor,
                    "fee_minor": fee.amount_minor if fee else 0,
                    "fee_reason": fee.reason.value if fee else None,
                    "currency": self.floor.currency,
                    "source": "synthetic",
                    "booked_at": t["booked_at"],
                    "confirmed_at": t.get("confirmed_at"),
                    "arrived_at": t.get("arrived_at"),
                    "seated_at": t.get("seated_at"),
                    "completed_at": t.get("completed_at"),
                    "cancelled_at": t.get("cancelled_at"),
                    "cancelled_by": b.cancelled_by if state == "cancelled" else None,
                    "no_show_at": t.get("no_show_at"),
                    "updated_at": max(v for v in t.values()),
                }
            )
            if terms.deposit_minor:
                self.rows.deposit_payments.append(
                    {
                        "reservation_id": b.id,
                        "payment_ref": payment_ref(b.id),
                        "ref_key": payment_key(
                            PAYMENT_SOURCE, self.floor.restaurant_id, payment_ref(b.id)
                        ),
                        "amount_minor": terms.deposit_minor,
                        "currency": self.floor.currency,
                        "source": PAYMENT_SOURCE,
                        "paid_at": b.booked_at,
                    }
                )
            released = b.released if b.released is not None and b.released <= self.now else None
            for table_id in b.option.table_ids:
                self.rows.reservation_tables.append(
                    {
                        "reservation_id": b.id,
                        "table_id": table_id,
                        "start_at": slot.start_at,
                        "end_at": slot.end_at,
                        "assigned_at": b.booked_at,
                        "released_at": released,
                    }
                )
                if released is None:
                    g0, g1 = granule_span(slot.start_at, slot.end_at)
                    self.rows.table_claims.extend(
                        {"table_id": table_id, "granule": g, "reservation_id": b.id}
                        for g in range(g0, g1)
                    )
        self._pending.clear()


def payment_ref(reservation_id: int) -> str:
    """The reference of the payment a world booking's deposit was paid with."""
    return f"world-{reservation_id}"
