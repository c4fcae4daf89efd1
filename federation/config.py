"""The federation's one settings object (environment variables ``TWINFED_FED_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from observability.config_file import toml_sources


class FederationSettings(BaseSettings):
    """Configuration of the federation service.

    ``data`` holds the registry database (``federation.sqlite``) and, unless ``store_url``
    names a remote SPARQL server, the embedded Oxigraph store (``store/``).
    """

    model_config = SettingsConfigDict(env_prefix="TWINFED_FED_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then ``TWINFED_*`` variables, then the ``[federation]`` table of
        ``TWINFED_CONFIG`` (a TOML file), then defaults."""
        return toml_sources(settings_cls, "federation", init_settings, env_settings)

    data: Path = Path(".twinfed/federation")
    store_url: str | None = Field(
        default=None, description="http(s) base of a SPARQL 1.1 Protocol + Graph Store "
        "server (e.g. oxigraph serve); default: embedded Oxigraph under DATA/store")
    admin_token: str | None = Field(default=None, repr=False, description=(
        "bootstrap admin token (registers sites and users); hashed at start"))
    host: str = "127.0.0.1"
    port: int = 8700
    max_request_mb: float = Field(default=256, gt=0)
    sparql_timeout_s: float = Field(default=30, gt=0)
    sparql_max_results: int = Field(default=100_000, gt=0)
    stale_after_h: float = Field(default=24, gt=0, description="a site is stale after this")
    rate_limit_per_min: float = Field(default=1200, gt=0, description="requests a minute "
                                      "per credential (token bucket, see federation/api/"
                                      "limits.py)")
    rate_limit_burst: int = Field(default=240, gt=0)
    max_query_chars: int = Field(default=100_000, gt=0, description="longest SPARQL text")

    @property
    def max_request_bytes(self) -> int:
        return int(self.max_request_mb * 1024 * 1024)

    @property
    def registry_path(self) -> Path:
        return self.data / "federation.sqlite"

    @property
    def store_location(self) -> str | Path:
        return self.store_url or (self.data / "store")
