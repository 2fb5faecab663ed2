"""The command line: real runs against a real ledger file, readable refusals."""

from __future__ import annotations

import json
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


def test_hours_are_read_and_changed_from_the_command_line(tmp_path: Path) -> None:
    from datetime import date, timedelta

    from booking_core.ledger import Ledger
    from booking_core.reservations import BookingRequest, book
    from serving.cli import app as full_app
    from tests.conftest import add_three_tables

    url = f"sqlite:///{tmp_path / 'hours.db'}"
    ledger = Ledger.open(url)
    rid, _ = add_three_tables(ledger, name="Winter Hours")
    today = ledger.clock().date()
    start = today + timedelta(days=14)
    while (start + timedelta(days=1)).weekday() != 2:  # the bookings on a Wednesday:
        start += timedelta(days=1)  # the new hours close on Mondays, whatever today is
    late = book(ledger, BookingRequest(rid, start + timedelta(days=1), "21:00", 2))
    early = book(ledger, BookingRequest(rid, start + timedelta(days=1), "18:00", 2))
    ledger.dispose()
    winter = {
        "effective_from": start.isoformat(),
        "periods": [
            {
                "name": "dinner",
                "weekdays": [1, 2, 3, 4, 5, 6],
                "opens": "17:00",
                "closes": "22:00",
                "last_seating": "20:00",
                "turn_times": {"3": 90, "4": 120},
                "max_covers_per_slot": 12,
            }
        ],
    }
    path = tmp_path / "winter.json"
    path.write_text(json.dumps(winter))

    changed = runner.invoke(full_app, ["hours", "set", str(rid), str(path), "--database-url", url])
    assert changed.exit_code == 0, changed.output
    assert "17:00-22:00" in changed.output and "Tue-Sun" in changed.output
    assert "12 covers" in changed.output
    # The 21:00 booking stays, listed to honour or call; the 18:00 one is not listed.
    assert "1 booking(s) outside the new hours" in changed.output
    assert str(late.id) in changed.output and f"\n│ {early.id} " not in changed.output

    now = runner.invoke(full_app, ["hours", "show", str(rid), "--database-url", url])
    assert now.exit_code == 0, now.output
    assert "21:30" in now.output and f"New hours start on {start}" in now.output
    later = runner.invoke(
        full_app, ["hours", "show", str(rid), "--on", str(start), "--database-url", url]
    )
    assert f"In force since {start}" in later.output and "21:30" not in later.output

    overlapping = {**winter, "periods": [*winter["periods"], {**winter["periods"][0]}]}
    (tmp_path / "overlap.json").write_text(json.dumps(overlapping))
    (tmp_path / "broken.json").write_text("[{")
    (tmp_path / "fields.json").write_text(json.dumps([{"name": "x"}]))
    (tmp_path / "undated.json").write_text(json.dumps(winter["periods"]))
    past = str(date(2020, 1, 1))
    cases = [
        (["set", str(rid), str(tmp_path / "overlap.json")], "overlap on weekday 1"),
        (["set", str(rid), str(tmp_path / "broken.json"), "--from", str(start)], "is not JSON"),
        (["set", str(rid), str(tmp_path / "fields.json"), "--from", str(start)], "missing"),
        (["set", str(rid), str(tmp_path / "undated.json")], "Say from when"),
        (["set", str(rid), str(path), "--from", past], "past nights keep"),
        (["set", str(rid), str(tmp_path / "nowhere.json")], "nowhere.json"),
        (["set", "999999", str(path)], "no restaurant with id 999999"),
        (["show", "999999"], "no restaurant with id 999999"),
        (["show", str(rid), "--on", "2026-02-30"], "YYYY-MM-DD"),
    ]
    for args, expected in cases:
        result = runner.invoke(full_app, ["hours", *args, "--database-url", url])
        assert result.exit_code == 2, (args, result.output)
        assert expected in result.output, (args, result.output)
        assert "Traceback" not in result.output
    # The refusals changed nothing: the winter hours still start on their date.
    again = runner.invoke(
        full_app, ["hours", "show", str(rid), "--on", str(start), "--database-url", url]
    )
    assert "12 covers" in again.output


def test_a_date_is_closed_given_hours_and_cleared_from_the_command_line(tmp_path: Path) -> None:
    from datetime import timedelta

    from booking_core.ledger import Ledger
    from booking_core.reservations import BookingRequest, book
    from serving.cli import app as full_app
    from tests.conftest import add_three_tables

    url = f"sqlite:///{tmp_path / 'dates.db'}"
    ledger = Ledger.open(url)
    rid, _ = add_three_tables(ledger, name="Party Night")
    day = ledger.clock().date() + timedelta(days=20)
    early = book(ledger, BookingRequest(rid, day, "17:30", 2))
    ledger.dispose()

    def run(*args: str) -> str:
        result = runner.invoke(full_app, ["hours", *args, "--database-url", url])
        assert result.exit_code == 0, result.output
        return result.output

    closed = run("close", str(rid), str(day), "--note", "Private party")
    assert f"{day} ({day:%a}): closed - Private party" in closed
    assert "1 booking(s) outside" in closed and str(early.id) in closed
    gala = run(
        "special", str(rid), str(day), "--opens", "19:00", "--closes", "01:00",
        "--last-seating", "22:30",
    )  # fmt: skip
    assert "open 19:00-01:00, last seating 22:30" in gala and "1 booking(s) outside" in gala
    assert "the week's hours apply again" in run("clear", str(rid), str(day))
    assert str(day) not in run("show", str(rid))
    for args, expected in [
        (["clear", str(rid), str(day)], "nothing set"),
        (["close", str(rid), "2020-01-01"], "past nights keep"),
        (["close", str(rid), "tomorrow"], "YYYY-MM-DD"),
        (
            ["special", str(rid), str(day), "--opens", "19:00", "--closes", "22:00",
             "--last-seating", "23:00"],
            "must fall between",
        ),
    ]:  # fmt: skip
        result = runner.invoke(full_app, ["hours", *args, "--database-url", url])
        assert result.exit_code == 2 and expected in result.output, (args, result.output)
