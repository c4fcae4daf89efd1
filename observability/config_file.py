"""The documented TOML file alternative to environment variables.

``TWINFED_CONFIG=/etc/twinfed.toml`` (or a CLI ``--config``) names one file with a
``[site]`` and/or ``[federation]`` table whose keys are the settings' field names, e.g.::

    [federation]
    data = "/var/lib/twinfed"
    stale_after_h = 12

Precedence, highest first: explicit arguments, environment variables, the TOML file,
defaults — so an operator can override one value of a shared file with one variable.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    TomlConfigSettingsSource,
)

ENV_CONFIG = "TWINFED_CONFIG"


class ConfigFileError(ValueError):
    """The configuration file named by ``TWINFED_CONFIG`` cannot be used."""


def _checked_file(settings_cls: type[BaseSettings], table: str) -> Path | None:
    name = os.environ.get(ENV_CONFIG)
    if not name:
        return None
    path = Path(name)
    if not path.is_file():
        raise ConfigFileError(f"{ENV_CONFIG} names {path}, which is not a file")
    try:
        document = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path} is not valid TOML: {exc}") from exc
    section = document.get(table, {})
    if not isinstance(section, dict):
        raise ConfigFileError(f"{path}: [{table}] must be a table; found a "
                              f"{type(section).__name__}")
    unknown = sorted(set(section) - set(settings_cls.model_fields))
    if unknown:  # a typo must not silently fall back to a default
        raise ConfigFileError(f"{path}: [{table}] has unknown setting(s) {unknown}; known: "
                              f"{sorted(settings_cls.model_fields)}")
    return path


def toml_sources(settings_cls: type[BaseSettings], table: str,
                 init: PydanticBaseSettingsSource, env: PydanticBaseSettingsSource,
                 ) -> tuple[PydanticBaseSettingsSource, ...]:
    """Sources in precedence order for ``settings_customise_sources``."""
    path = _checked_file(settings_cls, table)
    if path is None:
        return init, env
    return init, env, TomlConfigSettingsSource(settings_cls, toml_file=path,
                                               toml_table_header=(table,))
