"""The FastAPI application: ``create_app()`` wires the ledger, the models,
the routers and the middleware. ``uvicorn --factory serving.app:create_app``
(or ``servicesphere serve``) runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from booking_core.daybook import table_policy
from booking_core.ledger import Ledger
from booking_core.stays import StayForecast, stay_forecast
from optimizer.pooled_policy import PooledAcceptance, ShowProbabilities
from serving import problems
from serving.attendance import AttendanceScorer
from serving.booking_writer import BookingWriter
from serving.champions import Champions
from serving.config import ServingSettings, get_serving_settings
from serving.deps import ActiveAccounts
from serving.forecasts import ForecastBook
from serving.observability import RequestContext, configure_logging
from serving.ratelimit import RateLimit
from serving.routes import (
    auth,
    deposits,
    events,
    fees,
    floor_plan,
    guests,
    health,
    hours,
    onboarding,
    pos,
    predictions,
    recommendations,
    reports,
    reservations,
    restaurants,
    risk_report,
    seating,
    seating_settings,
    special_dates,
    tables,
    waitlist,
)
from serving.show_probabilities import attendance_show_probabilities
from serving.stays import PredictedStays

API = "/api/v1"
OPERATIONS = frozenset({"/healthz", "/readyz", "/metrics"})
# Hooks the booking core and the pooled policy hold process-wide (show
# probabilities, the stay forecast), while each app scores with its own
# ledger and champions: the newest running app's is plugged in, and when an
# app stops the newest one still running takes over (several apps live at
# once in tests, and one may stop while another serves). Oldest first.
T = TypeVar("T")
_APP_SHOWS: list[ShowProbabilities] = []
_APP_STAYS: list[StayForecast] = []


def _plug(current: T | None, mine: T, live: list[T]) -> T | None:
    """What to plug: this app's hook, unless someone else's (not an app's) is in."""
    live.append(mine)
    return mine if current is None or current in live else current


def _unplug(current: T | None, mine: T, live: list[T]) -> T | None:
    live.remove(mine)
    if current is not mine:
        return current
    return live[-1] if live else None


def create_app(
    settings: ServingSettings | None = None,
    *,
    ledger: Ledger | None = None,
    champions: Champions | None = None,
) -> FastAPI:
    """The app. Tests pass their own ledger (with its clock) and champions;
    otherwise both come from the settings at start-up."""
    settings = settings or get_serving_settings()
    configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_ledger = ledger is None
        app.state.ledger = ledger or Ledger.open(settings.ledger_url)
        app.state.champions = champions or Champions(
            settings.var_dir if settings.load_models else None,
            poll_seconds=settings.model_poll_seconds,
        )
        app.state.champions.start()
        app.state.active_accounts = ActiveAccounts()
        app.state.attendance = AttendanceScorer(app.state.ledger)
        # Restaurants set to pooled seating choose tables with this (the
        # booking core cannot build one: the optimizer builds on it), and
        # those that opted into overbooking weigh the attendance model's
        # show probabilities, handed over here.
        if table_policy.pooled is None:
            table_policy.pooled = PooledAcceptance()
        # Lock-at-booking restaurants with admission control: the same
        # bid-price rule on the best free table, nobody moved.
        if table_policy.admission is None:
            table_policy.admission = PooledAcceptance(pool=False)
        plugged = table_policy.pooled
        pooled = plugged if isinstance(plugged, PooledAcceptance) else None
        show = attendance_show_probabilities(app.state.attendance, app.state.champions)
        if pooled is not None:
            pooled.show_probabilities = _plug(pooled.show_probabilities, show, _APP_SHOWS)
        else:
            _APP_SHOWS.append(show)
        # Restaurants that book predicted stays ask the duration model
        # through this (the booking core stays model-free).
        stays: StayForecast = PredictedStays(app.state.champions)
        stay_forecast.forecast = _plug(stay_forecast.forecast, stays, _APP_STAYS)
        app.state.forecasts = ForecastBook(app.state.ledger, app.state.champions)
        app.state.booking_writer = BookingWriter(app.state.ledger)
        app.state.booking_writer.start()
        try:
            yield
        finally:
            # This app's ledger is going: hand over to an app still running.
            if pooled is not None:
                pooled.show_probabilities = _unplug(pooled.show_probabilities, show, _APP_SHOWS)
            else:
                _APP_SHOWS.remove(show)
            stay_forecast.forecast = _unplug(stay_forecast.forecast, stays, _APP_STAYS)
            app.state.booking_writer.stop()
            app.state.champions.stop()
            if own_ledger:
                app.state.ledger.dispose()

    app = FastAPI(
        title="ServiceSphere API",
        version="1.0.0",
        summary="Restaurant reservations for diners, hosts, managers and POS systems.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    problems.install(app)
    for module in (
        auth,
        restaurants,
        onboarding,
        floor_plan,
        reservations,
        waitlist,
        seating,
        seating_settings,
        tables,
        hours,
        special_dates,
        predictions,
        reports,
        fees,
        deposits,
        risk_report,
        recommendations,
        guests,
        pos,
        events,
    ):
        app.include_router(module.router, prefix=API, responses=problems.PROBLEMS)
    app.include_router(health.router)
    # Added last = runs first: the request id exists before anything can refuse.
    app.add_middleware(
        RateLimit,
        rate=settings.rate_limit,
        storage=settings.rate_limit_storage,
        exempt=OPERATIONS,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-API-Key"],
        expose_headers=["X-Request-ID", "Retry-After"],
    )
    app.add_middleware(RequestContext, quiet_paths=OPERATIONS)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with refusals documented as ``application/problem+json``
    (the media type they are sent with)."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
    )
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status.startswith(("4", "5")) and "application/json" in content:
                    content[problems.MEDIA_TYPE] = content.pop("application/json")
    app.openapi_schema = schema
    return schema
