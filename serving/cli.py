"""``servicesphere``: the booking core's commands plus the learning loop.

The one place that wires packages together on the command line (the booking
core cannot import the pipelines that learn from it)."""

from __future__ import annotations

from typing import Annotated

import typer

from booking_core.cli import app, build_demo_world, console, fail

pipeline_app = typer.Typer(help="The learning loop (Prefect flows).", no_args_is_help=True)
app.add_typer(pipeline_app, name="pipeline")

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
def demo(
    size: Annotated[str, typer.Option(help="World size")] = "demo",
    seed: Annotated[int, typer.Option()] = 7,
    train: Annotated[bool, typer.Option(help="Also run the nightly learning flow")] = True,
) -> None:
    """Build and audit the demo world in the default ledger, then train,
    register and promote the models on it."""
    build_demo_world(size, seed)
    if not train:
        return
    from pipelines.nightly import print_report, run_nightly

    console.rule("Nightly learning loop")
    report = run_nightly()
    print_report(console, report, "var")
    if report.failures:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
