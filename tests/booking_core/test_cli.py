"""The command line: real runs against a real ledger file, readable refusals."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from booking_core.cli import app
from booking_core.ledger import create_ledger_engine

runner = CliRunner()


def test_seed_then_audit_a_tiny_world(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    seeded = runner.invoke(
        app, ["seed", "--size", "tiny", "--today", "2026-06-01", "--database-url", url]
    )
    assert seeded.exit_code == 0, seeded.output
    assert "reservations" in seeded.output and "no-show rate" in seeded.output
    audited = runner.invoke(app, ["audit", "--database-url", url])
    assert audited.exit_code == 0, audited.output
    # Break the ledger behind the core's back: the audit must name it.
    engine = create_ledger_engine(url)
    with engine.begin() as conn:
        victim = conn.execute(
            sa.text("SELECT id FROM reservations WHERE state = 'completed' LIMIT 1")
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE reservations SET seated_at = NULL WHERE id = :i"), {"i": victim}
        )
    engine.dispose()
    broken = runner.invoke(app, ["audit", "--database-url", url])
    assert broken.exit_code == 1
    assert str(victim) in broken.output
    again = runner.invoke(app, ["seed", "--size", "tiny", "--database-url", url])
    assert again.exit_code == 2 and "empty ledger" in again.output


def test_bad_input_gets_a_message_not_a_traceback(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    cases = [
        (["seed", "--size", "enormous", "--database-url", url], "Unknown size"),
        (["seed", "--today", "2026-02-30", "--database-url", url], "YYYY-MM-DD"),
        (["import", "recruit", str(tmp_path / "nowhere"), "--database-url", url], "nowhere"),
    ]
    for args, expected in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert expected in result.output
        assert "Traceback" not in result.output


def test_the_installed_command_has_every_group() -> None:
    from serving.cli import app as full_app

    result = runner.invoke(full_app, ["--help"])
    assert result.exit_code == 0
    for command in ("seed", "import", "audit", "demo", "pipeline"):
        assert command in result.output
    unknown = runner.invoke(full_app, ["pipeline", "run", "weekly"])
    assert unknown.exit_code == 2 and "Unknown flow 'weekly'" in unknown.output
