"""Operations: Prometheus metrics, readiness, structured logs and the TOML config file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from federation.api.app import create_app as create_federation
from federation.config import FederationSettings
from observability.config_file import ConfigFileError
from observability.logs import JsonFormatter, redact
from site_node.api import create_app as create_site
from site_node.config import SiteSettings
from twinfed.serving import serve


def test_federation_metrics_count_requests_by_route_template(tmp_path: Path) -> None:
    app = create_federation(FederationSettings(data=tmp_path, admin_token="adm"))
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        client.get("/sync/SITE-X/state")  # 401: no credential
        client.get("/sync/SITE-Y/state")
        client.get("/health")
        text = client.get("/metrics").text
    assert ('twinfed_http_requests_total{method="GET",route="/sync/{site}/state",'
            'service="federation",status="401"} 2.0') in text
    assert 'twinfed_federation_sites{service="federation"} 0.0' in text
    assert "SITE-X" not in text  # raw paths never become labels


def test_site_ready_answers_503_when_neo4j_is_gone(site_driver) -> None:
    settings = SiteSettings(code="SITE-A", neo4j_uri="bolt://127.0.0.1:1")
    from neo4j import GraphDatabase

    dead = GraphDatabase.driver("bolt://127.0.0.1:1", connection_timeout=1)
    with serve(create_site(settings, driver=dead)) as url:
        answer = httpx.get(f"{url}/ready", timeout=30)
    dead.close()
    assert answer.status_code == 503
    assert answer.json()["status"] == "not ready"
    with serve(create_site(settings, driver=site_driver)) as url:
        assert httpx.get(f"{url}/ready", timeout=30).json() == {"status": "ready"}
        metrics = httpx.get(f"{url}/metrics", timeout=30).text
    assert 'twinfed_site_batches{service="site"} 0.0' in metrics


def test_json_logs_are_one_object_per_line_without_secrets() -> None:
    record = logging.makeLogRecord({"name": "twinfed.federation", "levelname": "INFO",
                                    "msg": "push from %s with Authorization: Bearer s3cr3t",
                                    "args": ("SITE-A",), "site": "SITE-A"})
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "push from SITE-A with Authorization: Bearer ***"
    assert line["site"] == "SITE-A" and line["level"] == "info"
    assert redact('{"token": "abc123"}') == '{"token": "***"}'


def test_toml_file_configures_both_services_and_env_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "twinfed.toml"
    config.write_text('[site]\ncode = "SITE-B"\nport = 9001\n\n'
                      '[federation]\nstale_after_h = 6\nport = 9100\n')
    monkeypatch.setenv("TWINFED_CONFIG", str(config))
    monkeypatch.setenv("TWINFED_FED_PORT", "9200")
    site, federation = SiteSettings(), FederationSettings()
    assert (site.code, site.port) == ("SITE-B", 9001)
    assert (federation.stale_after_h, federation.port) == (6, 9200)


def test_toml_typo_is_refused_with_the_key_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "twinfed.toml"
    config.write_text('[federation]\nstale_afer_h = 6\n')
    monkeypatch.setenv("TWINFED_CONFIG", str(config))
    with pytest.raises(ConfigFileError, match=r"unknown setting\(s\) \['stale_afer_h'\]"):
        FederationSettings()
    monkeypatch.setenv("TWINFED_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigFileError, match="which is not a file"):
        SiteSettings()
