"""``servicesphere``: the booking core's commands plus the learning loop.

The one place that wires packages together on the command line (the booking
core cannot import the pipelines that learn from it)."""

from __future__ import annotations

from typing import Annotated

import typer

from booking_core.cli import app, build_demo_world, console, fail
from booking_core.fees_cli import fees_app
from booking_core.hours_cli import hours_app
from serving.restaurants_cli import restaurants_app
from serving.simulate import simulate_app

pipeline_app = typer.Typer(help="The learning loop (Prefect flows).", no_args_is_help=True)
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(simulate_app, name="simulate")
app.add_typer(hours_app, name="hours")
app.add_typer(restaurants_app, name="restaurants")
app.add_typer(fees_app, name="fees")

FLOWS = ("nightly",)


@pipeline_app.command("run")
def pipeline_run(
    name: Annotated[str, typer.Argument(help="Flow to run once: nightly")],
    database_url: Annotated[str | None, typer.Option("--database-url")] = None,
    var_dir: Annotated[str, typer.Option(help="Where the MLflow store lives")] = "var",
) -> None:
    """Run a flow once, now, and print what it decided."""
    if name not in FLOWS:
        fail(f"Unknown flow {name!r}; choose one of {', '.join(FLOWS)}.")
    from pipelines.nightly import print_report, run_nightly

    report = run_nightly(database_url=database_url, var_dir=var_dir)
    print_report(console, report, var_dir)
    if report.failures:
        raise typer.Exit(1)


@pipeline_app.command("serve")
def pipeline_serve(
    cron: Annotated[str, typer.Option(help="When the nightly flow runs")] = "0 4 * * *",
    database_url: Annotated[str | None, typer.Option("--database-url")] = None,
    var_dir: Annotated[str, typer.Option()] = "var",
) -> None:
    """Serve the nightly deployment on a cron schedule (blocks; Ctrl-C stops it)."""
    from pipelines.nightly import nightly

    console.print(f"Serving deployment 'nightly' on cron {cron!r}")
    nightly.serve(
        name="nightly",
        cron=cron,
        parameters={"database_url": database_url, "var_dir": var_dir},
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (uvicorn)", min=1)] = 1,
    database_url: Annotated[str | None, typer.Option("--database-url")] = None,
    var_dir: Annotated[
        str | None, typer.Option(help="Where the ledger and MLflow store live (default: var)")
    ] = None,
) -> None:
    """Run the HTTP API (blocks; Ctrl-C stops it). Docs at /docs."""
    import os
    from pathlib import Path

    import uvicorn

    from serving.config import get_serving_settings
    from serving.demo import prepare_metrics_dir, prepare_stores

    # Workers are separate processes: they read their settings from the environment.
    if database_url:
        os.environ["SERVICESPHERE_DATABASE_URL"] = database_url
    if var_dir:
        os.environ["SERVICESPHERE_VAR_DIR"] = var_dir
    prepare_metrics_dir(Path(os.environ.get("SERVICESPHERE_VAR_DIR", "var")), workers)
    get_serving_settings.cache_clear()  # the variables above may have changed
    prepare_stores(get_serving_settings())
    uvicorn.run(
        "serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
    )


@app.command()
def demo(
    size: Annotated[str, typer.Option(help="World size")] = "demo",
    seed: Annotated[int, typer.Option()] = 7,
    train: Annotated[bool, typer.Option(help="Also run the nightly learning flow")] = True,
    api: Annotated[bool, typer.Option(help="End by serving the HTTP API")] = True,
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Build and audit the demo world in the default ledger, train, register
    and promote the models on it, then serve the API with demo accounts."""
    ledger = build_demo_world(size, seed)
    if train:
        from pipelines.nightly import print_report, run_nightly

        console.rule("Nightly learning loop")
        report = run_nightly()
        print_report(console, report, "var")
        if report.failures:
            raise typer.Exit(1)
    if not api:
        return
    from serving.demo import ensure_demo_accounts, print_how_to

    accounts, pos_key, pos_secret = ensure_demo_accounts(ledger)
    ledger.dispose()
    print_how_to(console, f"http://127.0.0.1:{port}", accounts, pos_key, pos_secret)
    serve(port=port)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
