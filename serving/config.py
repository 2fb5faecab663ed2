"""The API's settings: the booking core's plus what only HTTP needs.

Read from ``SERVICESPHERE_*`` variables like every other setting. Outside
development the signing secret must be set: a token signed with a default
secret anyone can read in this repository would be no token at all. The
payment provider's webhook secret has no default at all: until it is set,
the payments webhook refuses every delivery (503).
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr, model_validator

from booking_core.settings import _DEV_SECRET, Settings


class ServingSettings(Settings):
    # Access tokens are short-lived; a diner signs in again after this.
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60)
    # Browsers allowed to call the API (the widget is embedded on restaurants' sites).
    cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:3000", "http://127.0.0.1:3000"]
    )
    # Per client address and per API key or user; `limits` notation.
    rate_limit: str = "600/minute"
    # `memory://` is per worker process; `redis://host:6379` shares the budget.
    rate_limit_storage: str = "memory://"
    # A POS or payments webhook older or newer than this is refused (replay window).
    webhook_tolerance_seconds: int = Field(default=300, ge=1)
    # Shared with the payment provider, which signs each deposit payment it
    # reports with it (``POST /payments/webhook``). None: payments are not
    # configured and the webhook answers 503.
    payments_webhook_secret: SecretStr | None = None
    # How often each worker asks the registry whether a champion moved.
    model_poll_seconds: float = Field(default=30.0, gt=0)
    # Load champions from MLflow at start-up (off: baselines only, e.g. in tests).
    load_models: bool = True
    workers: int = Field(default=1, ge=1, le=64)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    @model_validator(mode="after")
    def _refuse_default_secret_outside_development(self) -> ServingSettings:
        if self.environment != "development" and self.secret_key.get_secret_value() == _DEV_SECRET:
            raise ValueError(
                f"SERVICESPHERE_SECRET_KEY must be set when SERVICESPHERE_ENVIRONMENT is "
                f"{self.environment!r}; the development default signs nothing outside development"
            )
        if len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("SERVICESPHERE_SECRET_KEY needs at least 32 characters")
        payments = self.payments_webhook_secret
        if payments is not None and len(payments.get_secret_value()) < 32:
            raise ValueError(
                "SERVICESPHERE_PAYMENTS_WEBHOOK_SECRET needs at least 32 characters "
                "(unset it to turn the payments webhook off)"
            )
        return self


@lru_cache(maxsize=1)
def get_serving_settings() -> ServingSettings:
    return ServingSettings()
