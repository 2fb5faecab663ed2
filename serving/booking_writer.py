"""The worker's booking writer: one thread per API worker process writes
every new booking, taking whatever has queued up since its last write in one
transaction (``booking_core.reservations.book_many``: a group commit, each
booking behind its own savepoint).

Why not the thread pool, one transaction per request: SQLite has one writer
at a time, so bookings queue on the write lock whatever we do. Forty pool
threads queueing on it, plus the event loop, fought over the GIL while the
holder of the write lock waited to get it back (profiled under
``benchmarks/serving.py``: a quarter of a worker's samples were threads
waiting for the lock). One writer per process turns that into a queue that
is drained in batches: one lock, one BEGIN and one COMMIT per batch, and the
day books stay warm from one booking to the next.

The GIL switch interval is lowered for the same reason: when the writer
comes back from SQLite holding the write lock, the event loop would
otherwise keep the GIL for up to 5 ms while the other worker waits on the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sys
import threading
from dataclasses import dataclass

from booking_core.ledger import Ledger
from booking_core.reservations import BookingRequest, Reservation, book_many

log = logging.getLogger("servicesphere.booking_writer")

# At most this many bookings per transaction: bounds how long one batch
# holds the write lock (a few ms), so other writers and readers keep moving.
MAX_BATCH = 32
# Seconds; CPython's default is 0.005 (measured with and without in the module docstring).
SWITCH_INTERVAL_S = 0.0005


@dataclass
class _Pending:
    request: BookingRequest
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Reservation]


def _settle(future: asyncio.Future[Reservation], outcome: Reservation | BaseException) -> None:
    if future.done():  # the client went away; the booking stands or fell all the same
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class BookingWriter:
    """``await writer.book(request)`` from any coroutine of this process."""

    def __init__(self, ledger: Ledger, *, max_batch: int = MAX_BATCH) -> None:
        self.ledger = ledger
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches = 0
        self.written = 0

    def start(self) -> None:
        if self._thread is None:
            sys.setswitchinterval(SWITCH_INTERVAL_S)
            self._thread = threading.Thread(target=self._run, name="booking-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    async def book(self, request: BookingRequest) -> Reservation:
        if self._thread is None:
            raise RuntimeError("the booking writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reservation] = loop.create_future()
        self._queue.put(_Pending(request, loop, future))
        return await future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            self._write(batch)
            if stopping:
                return

    def _write(self, batch: list[_Pending]) -> None:
        outcomes: list[Reservation | BaseException]
        try:
            outcomes = list(book_many(self.ledger, [p.request for p in batch]))
        except Exception as exc:  # the whole transaction failed: every caller hears so
            log.exception("booking batch failed", extra={"bookings": len(batch)})
            outcomes = [exc] * len(batch)
        self.batches += 1
        self.written += sum(1 for o in outcomes if isinstance(o, Reservation))
        for pending, outcome in zip(batch, outcomes, strict=True):
            with contextlib.suppress(RuntimeError):  # that event loop has closed
                pending.loop.call_soon_threadsafe(_settle, pending.future, outcome)
