"""Operations plumbing shared by the site node and the federation: Prometheus metrics,
structured logs and the optional TOML configuration file. Imports nothing of the project."""

from observability.config_file import toml_sources
from observability.logs import configure_logging
from observability.metrics import install_metrics

__all__ = ["configure_logging", "install_metrics", "toml_sources"]
