"""The notebooks run top to bottom on a real ledger, as a data scientist would."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from booking_core.ledger import Ledger
from booking_core.world.generate import generate_world

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('nb') / 'ledger.db'}"
    generate_world(Ledger.open(url), size="small", seed=9, today=date(2026, 6, 1))
    return url


def test_there_are_notebooks() -> None:
    assert {p.name for p in NOTEBOOKS} >= {
        "attendance_risk.ipynb", "demand.ipynb", "seating_what_if.ipynb",
        "recommendations.ipynb",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, ledger_url: str, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICESPHERE_DATABASE_URL", ledger_url)
    monkeypatch.setenv("SERVICESPHERE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},
    )
    client.execute(env=dict(os.environ))
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    if path.stem == "seating_what_if":  # replays nights, uses no model
        assert "covers" in text and "pooled-predictive" in text
        return
    assert "champion" in text.lower()
