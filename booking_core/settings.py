"""Runtime settings, read from ``SERVICESPHERE_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_DEV_SECRET = "development-only-secret-do-not-deploy"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SERVICESPHERE_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    var_dir: Path = Path("var")
    # Empty means the embedded SQLite ledger under ``var_dir``.
    database_url: str = ""
    secret_key: SecretStr = SecretStr(_DEV_SECRET)

    @model_validator(mode="after")
    def _refuse_default_secret_outside_development(self) -> Settings:
        if self.environment == "production" and self.secret_key.get_secret_value() == _DEV_SECRET:
            raise ValueError(
                "SERVICESPHERE_SECRET_KEY must be set in production; "
                "the development default is refused"
            )
        return self

    @property
    def ledger_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'servicesphere.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
