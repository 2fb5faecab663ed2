"""Rate limits per client address and per credential (API key or token),
through the ``limits`` library (sliding-window counters; memory or Redis
storage). A sliding-window counter keeps two counts per key, where a moving
window keeps a timestamp per request and inserts each at the front of a
list; and the asyncio storage expires keys in a task on the event loop,
where the threaded one starts a timer thread every 10 ms. Both were a
large share of a cheap request (profiled for ``benchmarks/serving.py``).

It runs before authentication, so it keys on the credential as presented
(hashed): a made-up credential gets a bucket of its own but still counts
against its address's budget.
"""

from __future__ import annotations

import hashlib
import json
import time

from limits import parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.problems import MEDIA_TYPE, PROBLEM_TYPE_BASE


class RateLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        rate: str,
        storage: str = "memory://",
        exempt: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.rate = parse(rate)
        # The asyncio flavour of the configured storage (memory://, redis://...).
        uri = storage if storage.startswith("async+") else f"async+{storage}"
        # limits' asyncio Redis storage defaults to coredis; redis-py (already a
        # dependency) has an asyncio client of its own.
        options = {"implementation": "redispy"} if uri.startswith("async+redis") else {}
        self.storage = storage_from_string(uri, **options)
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self.exempt = exempt

    def _closing_on_shutdown(self, send: Send) -> Send:
        """Close the storage's connections (Redis) when the app shuts down;
        they belong to this event loop, which is about to end."""

        async def sending(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                client = getattr(getattr(self.storage, "bridge", None), "storage", None)
                close = getattr(client, "aclose", None)
                if close is not None:
                    await close()
            await send(message)

        return sending

    def _keys(self, scope: Scope) -> list[tuple[str, str]]:
        client = scope.get("client")
        keys = [("addr", client[0] if client else "unknown")]
        headers = dict(scope["headers"])
        credential = headers.get(b"x-api-key") or headers.get(b"authorization")
        if credential:
            keys.append(("cred", hashlib.sha256(credential).hexdigest()[:24]))
        return keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing_on_shutdown(send))
            return
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        for kind, key in self._keys(scope):
            if not await self.limiter.hit(self.rate, kind, key):
                reset, _ = await self.limiter.get_window_stats(self.rate, kind, key)
                await self._refuse(scope, send, kind, max(1, int(reset - time.time())))
                return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, kind: str, retry_after: int) -> None:
        who = "this client address" if kind == "addr" else "this key"
        body = json.dumps(
            {
                "type": PROBLEM_TYPE_BASE + "rate_limited",
                "title": "Too Many Requests",
                "status": 429,
                "detail": f"Too many requests from {who}; retry in {retry_after} s.",
                "instance": scope["path"],
                "code": "rate_limited",
                "request_id": scope.get("state", {}).get("request_id"),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
