"""``servicesphere serve --workers 2`` on a fresh var directory: both worker
processes start (they used to race on creating the MLflow store, and one
died), first time (uvicorn's supervisor used to kill workers that took over
5 s to import the CLI, over and over on a busy machine), answer, and share
their metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
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


def _messages(log: Path) -> list[str]:
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return [str(line.get("message")) for line in lines]


def _started_workers(log: Path) -> int:
    return _messages(log).count("Application startup complete.")


def _replaced_workers(log: Path) -> list[str]:
    """The supervisor's lines about a worker it killed or lost ("Child
    process [..] died", "... was not ready in time")."""
    return [m for m in _messages(log) if m.startswith(("Child process", "New child process"))]


def test_two_workers_start_on_a_fresh_var_dir(served: tuple[str, Path]) -> None:
    base, log = served
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and _started_workers(log) < 2:
        if "startup failed" in log.read_text():
            break
        time.sleep(0.5)
    text = log.read_text()
    assert "startup failed" not in text, text[-4000:]
    assert _started_workers(log) == 2, text[-4000:]
    assert _replaced_workers(log) == [], text[-4000:]
    with urllib.request.urlopen(f"{base}/readyz", timeout=10) as r:
        ready = json.loads(r.read())
    assert ready["status"] == "ready"
    assert ready["ledger"] == "sqlite"
    # Nothing trained yet: every model answers from its baseline and says so.
    assert {m["source"] for m in ready["models"].values()} == {"baseline"}
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
        assert b"servicesphere_http_requests_total" in r.read()


def test_the_cli_imports_neither_the_api_nor_the_models() -> None:
    """Each ``serve`` worker re-imports ``servicesphere``'s main module
    (multiprocessing's spawn) before it can answer its supervisor's health
    check: that import must stay light."""
    heavy = ("serving.app", "serving.routes", "mlflow", "torch", "prefect", "lightgbm")
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, serving.cli; "
            f"print(' '.join(m for m in sys.modules if m.startswith({heavy!r})))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert loaded == []
