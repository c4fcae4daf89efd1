"""The reference deployment's files agree with the code (no Docker engine here to run them)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from federation.config import FederationSettings
from site_node.config import SiteSettings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
#: Variables the CLI reads directly rather than through a settings object.
CLI_VARIABLES = {"TWINFED_SITE_FEDERATION_URL", "TWINFED_SITE_FEDERATION_TOKEN",
                 "TWINFED_LOG_FORMAT", "TWINFED_LOG_LEVEL"}


def _fields(prefix: str, settings: type) -> set[str]:
    return {prefix + name.upper() for name in settings.model_fields}


def test_every_compose_variable_is_a_real_setting() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    known = (_fields("TWINFED_SITE_", SiteSettings) | _fields("TWINFED_FED_", FederationSettings)
             | CLI_VARIABLES)
    used = {name for service in compose["services"].values()
            for name in (service.get("environment") or {}) if name.startswith("TWINFED_")}
    assert used, "compose.yaml configures no twinfed service"
    assert used - known == set()


def test_compose_runs_both_services_with_health_checks_on_ready() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    commands = {name: " ".join(s.get("command") or []) for name, s in services.items()}
    assert any(c.startswith("federation serve") for c in commands.values())
    sites = [n for n, c in commands.items() if c.startswith("site serve")]
    assert len(sites) >= 2
    for name in sites + ["federation"]:
        assert "/ready" in " ".join(services[name]["healthcheck"]["test"])
    assert all(services[f"neo4j-{s}"]["image"].startswith("neo4j:") for s in sites)


def test_example_toml_configures_both_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWINFED_CONFIG", str(DEPLOY / "config" / "twinfed.toml"))
    for name in [n for n in os.environ if re.match(r"TWINFED_(SITE|FED)_", n)]:
        monkeypatch.delenv(name)
    assert SiteSettings().code == "SITE-A"
    assert FederationSettings().stale_after_h == 24
