"""The site node's one settings object (environment variables ``TWINFED_SITE_*``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from observability.config_file import toml_sources


class SiteSettings(BaseSettings):
    """Configuration of one site node.

    Every field can be set as ``TWINFED_SITE_<FIELD>`` (e.g. ``TWINFED_SITE_CODE=SITE-A``,
    ``TWINFED_SITE_NEO4J_URI=bolt://127.0.0.1:7687``), or in the ``[site]`` table of the TOML
    file named by ``TWINFED_CONFIG`` (see :mod:`observability.config_file`).
    """

    model_config = SettingsConfigDict(env_prefix="TWINFED_SITE_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then ``TWINFED_*`` variables, then the ``[site]`` table of
        ``TWINFED_CONFIG`` (a TOML file), then defaults."""
        return toml_sources(settings_cls, "site", init_settings, env_settings)

    code: str | None = Field(
        default=None, description="The site's code; bundles for another site are refused.")
    neo4j_uri: str = "bolt://127.0.0.1:7687"
    neo4j_user: str | None = None
    neo4j_password: str | None = Field(default=None, repr=False)
    neo4j_database: str | None = None
    max_file_mb: float = Field(default=512, gt=0, description="Largest bundle file accepted.")
    max_upload_mb: float = Field(default=2048, gt=0, description="Largest POST /batches body.")
    host: str = "127.0.0.1"
    port: int = 8701

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)
