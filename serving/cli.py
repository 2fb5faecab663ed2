"""``servicesphere``: the booking core's commands plus the learning loop.

The one place that wires packages together on the command line (the booking
core cannot import the pipelines that learn from it)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from booking_core.cli import app, build_demo_world, console, fail
from booking_core.deposits_cli import deposits_app
from booking_core.fees_cli import fees_app
from booking_core.hours_cli import hours_app
from serving.restaurants_cli import restaurants_app
from serving.simulate import simulate_app

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

pipeline_app = typer.Typer(help="The learning loop (Prefect flows).", no_args_is_help=True)
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(simulate_app, name="simulate")
app.add_typer(hours_app, name="hours")
app.add_typer(restaurants_app, name="restaurants")
app.add_typer(fees_app, name="fees")
app.add_typer(deposits_app, name="deposits")

# The names of the flows (``pipelines``), as ``pipeline run`` takes them.
FLOWS = ("nightly", "release-unpaid-deposits")

# How long uvicorn's supervisor waits for a worker to answer its health
# check before it kills the worker as hung and starts another (uvicorn's
# default is 5 s). A spawned worker answers only once it has re-imported
# ``servicesphere``'s main module (this one), which on a busy 2-core machine
# took longer than 5 s when it imported the whole API: the supervisor killed
# each new worker in turn, silently, and the server ran on one worker or
# none (measured: 32 workers killed in 180 s, none started). The import is
# kept light (``import serving.cli`` loads neither the API nor the models);
# this is the margin on top of it. A worker truly hung is replaced this late.
WORKER_HEALTHCHECK_SECONDS = 60


@pipeline_app.command("run")
def pipeline_run(
    name: Annotated[str, typer.Argument(help=f"Flow to run once: {', '.join(FLOWS)}")],
    database_url: Annotated[str | None, typer.Option("--database-url")] = None,
    var_dir: Annotated[str, typer.Option(help="Where the MLflow store lives")] = "var",
) -> None:
    """Run a flow once, now, and print what it decided."""
    if name not in FLOWS:
        fail(f"Unknown flow {name!r}; choose one of {', '.join(FLOWS)}.")
    if name == "release-unpaid-deposits":
        from pipelines.deposits import release_unpaid_deposits

        state = release_unpaid_deposits(database_url=database_url, return_state=True)
        if not state.is_completed():
            fail(f"The {name} flow failed: {state.message}", code=1)
        released: list[int] = state.result()
        listed = f": {', '.join(str(i) for i in released)}" if released else ""
        console.print(f"Released {len(released)} booking(s) whose deposit was not paid{listed}.")
        return
    from pipelines.nightly import print_report, run_nightly

    report = run_nightly(database_url=database_url, var_dir=var_dir)
    print_report(console, report, var_dir)
    if report.failures:
        raise typer.Exit(1)


def deployments(
    cron: str, release_every: timedelta, database_url: str | None, var_dir: str
) -> list[RunnerDeployment]:
    """What ``pipeline serve`` serves: the nightly loop on ``cron``, the
    release of unpaid deposits every ``release_every``."""
    from prefect.deployments.runner import RunnerDeployment

    from pipelines.deposits import FLOW_NAME, release_unpaid_deposits
    from pipelines.nightly import nightly

    built = [
        nightly.to_deployment(
            name="nightly",
            cron=cron,
            parameters={"database_url": database_url, "var_dir": var_dir},
        ),
        release_unpaid_deposits.to_deployment(
            name=FLOW_NAME,
            interval=release_every,
            parameters={"database_url": database_url},
        ),
    ]
    served: list[RunnerDeployment] = []
    for d in built:
        if not isinstance(d, RunnerDeployment):  # a coroutine: called inside an event loop
            raise RuntimeError("build the deployments outside an event loop")
        served.append(d)
    return served


@pipeline_app.command("serve")
def pipeline_serve(
    cron: Annotated[str, typer.Option(help="When the nightly flow runs")] = "0 4 * * *",
    release_every: Annotated[
        int,
        typer.Option(help="Minutes between releases of bookings whose deposit was not paid", min=1),
    ] = 5,
    database_url: Annotated[str | None, typer.Option("--database-url")] = None,
    var_dir: Annotated[str, typer.Option()] = "var",
) -> None:
    """Serve the nightly deployment on a cron schedule and the release of
    unpaid deposits every few minutes (blocks; Ctrl-C stops both)."""
    from prefect import serve as serve_deployments

    served = deployments(cron, timedelta(minutes=release_every), database_url, var_dir)
    console.print(
        f"Serving deployment 'nightly' on cron {cron!r} and 'release-unpaid-deposits' "
        f"every {release_every} min"
    )
    serve_deployments(*served)


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
    from serving.observability import configure_logging

    # The supervisor's own lines (a worker died, was killed as hung, ...) go
    # to the same JSON log as the workers'; unconfigured, they were lost.
    configure_logging()

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
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
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
