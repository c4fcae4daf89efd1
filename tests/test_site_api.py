"""Over real HTTP, a site admin uploads bundles and reads batches, series and health."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from neo4j import Driver

from site_node.api import create_app
from site_node.config import SiteSettings
from tests.bundles import edit_csv_cell, make_bundle
from tests.store_state import fingerprint
from twinfed.serving import serve


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for file in sorted(folder.rglob("*")):
            zf.write(file, file.relative_to(folder))
    return buffer.getvalue()


@pytest.fixture
def client(site_driver: Driver, site_uri: str) -> Iterator[httpx.Client]:
    settings = SiteSettings(code="SITE-T", neo4j_uri=site_uri, max_upload_mb=5)
    with serve(create_app(settings, driver=site_driver)) as url, httpx.Client(
            base_url=url, timeout=60) as http:
        yield http


def test_upload_then_read_batches(client: httpx.Client, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", batch_ids=("T-001", "T-002"))
    response = client.post("/batches", content=_zip(bundle),
                           headers={"content-type": "application/zip"})
    assert response.status_code == 200, response.text
    assert [(s["batch_id"], s["outcome"], s["rev"]) for s in response.json()["stored"]] == [
        ("T-001", "stored", 1), ("T-002", "stored", 2)]

    listed = client.get("/batches", params={"process": "P-T", "status": "complete"}).json()
    assert [b["batch_id"] for b in listed] == ["T-001", "T-002"]
    later = client.get("/batches", params={"started_after": "2026-05-05T00:00:00Z"}).json()
    assert [b["batch_id"] for b in later] == ["T-002"]
    assert client.get("/batches", params={"process": "OTHER"}).json() == []

    batch = client.get("/batches/T-002").json()
    assert batch["sponsor"] == "SP-T"
    assert [p["name"] for p in batch["unit_operations"][0]["phases"]] == ["growth", "production"]
    assert {s["tag"] for s in batch["series"]} == {"T00.PV", "T01.PV", "T02.PV", "T03.PV",
                                                   "CO.OUT"}

    series = client.get("/batches/T-001/series/T00.PV", params={"max_points": 20}).json()
    assert series["n"] == 20 and len(series["t_h"]) == 20 and series["unit"] == "degC"

    health = client.get("/health").json()
    # two ingests, then the analysis after the upload gave both batches new results
    assert health["status"] == "ok" and health["batches"] == 2 and health["rev"] == 4


def test_unknown_batch_is_a_problem_document(client: httpx.Client) -> None:
    response = client.get("/batches/NOPE")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "batch 'NOPE' is not stored at this site"


def test_refused_upload_lists_problems_and_writes_nothing(client: httpx.Client,
                                                          site_driver: Driver,
                                                          tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", batch_ids=("T-001",))
    edit_csv_cell(bundle / "T-001" / "process.csv", 4, "T01.PV", "high")
    before = fingerprint(site_driver)
    response = client.post("/batches", content=_zip(bundle))
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "1 of 1 batches refused; nothing of a refused batch was written"
    assert body["refused"][0]["problems"] == [
        "T-001/process.csv line 4, column 'T01.PV': expected a number, found 'high'"]
    assert fingerprint(site_driver) == before


def test_bad_uploads_get_clear_4xx(client: httpx.Client, tmp_path: Path) -> None:
    empty = client.post("/batches", content=b"")
    assert empty.status_code == 422 and "request body is empty" in empty.json()["detail"]
    garbage = client.post("/batches", content=b"this is not a zip")
    assert garbage.status_code == 422
    assert "not a readable zip archive" in garbage.json()["detail"]
    other_site = make_bundle(tmp_path / "o", site="SITE-X", batch_ids=("X-1",))
    refused = client.post("/batches", content=_zip(other_site))
    assert refused.status_code == 422
    assert "site.code must be this site's code 'SITE-T'" in refused.json()["detail"]
    huge = client.post("/batches", content=b"0" * (6 * 2**20))
    assert huge.status_code == 413 and "the limit is 5 MiB" in huge.json()["detail"]
    bad_query = client.get("/batches", params={"limit": 0})
    assert bad_query.status_code == 422
    assert bad_query.headers["content-type"] == "application/problem+json"
