"""``servicesphere serve --workers 2`` on a fresh var directory: both worker
processes start (they used to race on creating the MLflow store, and one
died), answer, and share their metrics."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.serving import free_port, start_server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    process = start_server(f"sqlite:///{tmp_path / 'servicesphere.db'}", tmp_path, port)
    try:
        yield f"http://127.0.0.1:{port}", tmp_path / "server.log"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def _started_workers(log: Path) -> int:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return sum(1 for line in lines if line.get("message") == "Application startup complete.")


def test_two_workers_start_on_a_fresh_var_dir(served: tuple[str, Path]) -> None:
    base, log = served
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and _started_workers(log) < 2:
        if "startup failed" in log.read_text():
            break
        time.sleep(0.5)
    text = log.read_text()
    assert "startup failed" not in text, text[-2000:]
    assert _started_workers(log) == 2
    with urllib.request.urlopen(f"{base}/readyz", timeout=10) as r:
        ready = json.loads(r.read())
    assert ready["status"] == "ready"
    assert ready["ledger"] == "sqlite"
    # Nothing trained yet: every model answers from its baseline and says so.
    assert {m["source"] for m in ready["models"].values()} == {"baseline"}
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
        assert b"servicesphere_http_requests_total" in r.read()
