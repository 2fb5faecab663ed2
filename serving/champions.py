"""The models being served: each registered model's ``@champion`` version,
loaded from the MLflow registry at start-up and swapped in without a restart
when the alias moves (each worker polls the alias every few seconds).

A model with no champion yet (or one that fails to load) is served by its
documented baseline; every answer says which, and names the version.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.tracking import TrackingConfig, champion, load_model

ATTENDANCE = "attendance_risk"
DURATION = "dining_duration"
DEMAND = "covers_demand"
RECOMMENDER = "restaurant_recommender"  # pipelines.nightly.RECOMMEND (a test holds them equal)
SERVED = (ATTENDANCE, DURATION, DEMAND, RECOMMENDER)

log = logging.getLogger("servicesphere.models")


@dataclass(frozen=True)
class Loaded:
    name: str
    version: str
    pyfunc: Any
    estimator: Any  # the fitted estimator inside our pyfunc wrapper, if it is one
    loaded_at: datetime

    @property
    def label(self) -> str:
        return f"{self.name}@v{self.version}"


def _unwrap(pyfunc: Any) -> Any:
    try:
        return getattr(pyfunc.unwrap_python_model(), "estimator", None)
    except Exception:  # not a python-function model of ours: served through predict()
        return None


class Champions:
    """Thread-safe holder of the champions; ``refresh`` is what the poller calls."""

    def __init__(
        self,
        var_dir: Path | str | None,
        names: Iterable[str] = SERVED,
        *,
        poll_seconds: float = 30.0,
    ) -> None:
        self.config = TrackingConfig.default(var_dir) if var_dir is not None else None
        self.names = tuple(names)
        self.poll_seconds = poll_seconds
        self._loaded: dict[str, Loaded] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checked_at: datetime | None = None

    def get(self, name: str) -> Loaded | None:
        return self._loaded.get(name)

    def status(self) -> dict[str, dict[str, str | None]]:
        return {
            name: {
                "version": (m.version if (m := self._loaded.get(name)) else None),
                "source": "champion" if name in self._loaded else "baseline",
                "error": self._errors.get(name),
            }
            for name in self.names
        }

    def refresh(self) -> dict[str, str]:
        """Load every champion whose alias points somewhere new; returns what changed."""
        if self.config is None:
            return {}
        changed: dict[str, str] = {}
        with self._lock:  # one refresh at a time; readers never wait
            client = self.config.activate()
            for name in self.names:
                try:
                    current = champion(client, name)
                except Exception as exc:  # registry unreachable: keep what we serve
                    self._errors[name] = f"registry: {exc!s:.200}"
                    continue
                if current is None:
                    continue
                version = str(current.version)
                held = self._loaded.get(name)
                if held is not None and held.version == version:
                    continue
                try:
                    pyfunc = load_model(name, version)
                except Exception as exc:  # a broken artifact: keep serving the old one
                    self._errors[name] = f"v{version} failed to load: {exc!s:.200}"
                    log.error("model load failed", extra={"model": name, "version": version})
                    continue
                self._loaded[name] = Loaded(
                    name, version, pyfunc, _unwrap(pyfunc), datetime.now(UTC)
                )
                self._errors.pop(name, None)
                changed[name] = version
                log.info("champion loaded", extra={"model": name, "version": version})
            self.checked_at = datetime.now(UTC)
        return changed

    def start(self) -> None:
        self.refresh()
        if self.config is None:
            return
        self._thread = threading.Thread(target=self._poll, name="champion-poller", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception:  # never let the poller die; the next round retries
                log.exception("champion refresh failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
