"""Estimates on each new spectrum: ingesting a batch with spectra at a site that already has
a soft sensor applies the active (latest) version of it — estimates with prediction intervals
and out-of-domain flags — and a failing model never costs the batch (real Neo4j).

The site holds SITE-A's first five generated batches and a glucose (lab code ``GLC``) soft
sensor trained on them; the sixth batch then arrives in its own bundle.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from neo4j import Driver
from typer.testing import CliRunner

from bioprocess.models import SoftSensorConfig
from site_node.api import create_app
from site_node.config import SiteSettings
from site_node.ingest.service import ingest_bundle
from site_node.models.training import train_and_store
from tests.conftest import clean_database
from twinfed.cli import app
from twinfed.serving import serve

SITE = "SITE-A"


def _bundle(source: Path, target: Path, batch_ids: list[str]) -> Path:
    """A copy of the site's bundle holding only ``batch_ids``."""
    target.mkdir(parents=True)
    manifest = json.loads((source / "manifest.json").read_text())
    manifest["batches"] = [b for b in manifest["batches"] if b["batch_id"] in batch_ids]
    (target / "manifest.json").write_text(json.dumps(manifest))
    for entry in manifest["batches"]:
        shutil.copytree(source / entry["path"], target / entry["path"])
    return target


def _corrupt_spectrum(bundle: Path, batch_id: str, row: int) -> float:
    """Replace one spectrum of the bundle's batch by spikes on noise; its hour since the start
    of the first spectrum is returned (the stored ``t_h`` is relative to the batch start)."""
    path = bundle / batch_id / "raman.parquet"
    table = pq.read_table(path)
    rng = np.random.default_rng(0)
    columns = []
    for i, name in enumerate(table.column_names):
        column = table.column(i)
        if name != "timestamp":
            values = column.to_numpy().copy()
            values[row] = values[row] * rng.uniform(0.2, 3.0) + (50.0 if i % 37 == 0 else 0.0)
            column = pa.array(values, type=column.type)
        columns.append(column)
    pq.write_table(pa.Table.from_arrays(columns, names=table.column_names), path)
    stamps = table.column("timestamp").to_pandas()
    return float((stamps.iloc[row] - stamps.iloc[0]).total_seconds() / 3600.0)


@pytest.fixture(scope="module")
def site(_drivers: dict[str, Driver], campaign_dir: Path,
         tmp_path_factory: pytest.TempPathFactory) -> dict:
    driver = _drivers["site_a"]
    clean_database(driver)
    source = campaign_dir / SITE
    batch_ids = [b["batch_id"] for b in json.loads((source / "manifest.json").read_text())
                 ["batches"]]
    root = tmp_path_factory.mktemp("ingest-estimates")
    first = ingest_bundle(driver, _bundle(source, root / "first", batch_ids[:-1]),
                          site_code=SITE, max_file_bytes=2**30)
    assert first.ok and first.estimates == []  # no model yet: nothing to apply
    stored = train_and_store(driver, "GLC", config=SoftSensorConfig(algorithms=("pls",)))
    return {"driver": driver, "model": stored, "source": source, "root": root,
            "new": batch_ids[-1]}


def _estimates(driver: Driver, batch_id: str, model_id: str) -> list[dict]:
    return [dict(r) for r in driver.execute_query(
        "MATCH (:Batch {batch_id: $id})-[:HAS_ESTIMATE]->(e:Estimate {model_id: $m}) "
        "RETURN e.t_h AS t_h, e.value AS value, e.low AS low, e.high AS high, "
        "e.in_domain AS ok, e.reason AS reason ORDER BY e.t_h", id=batch_id, m=model_id)[0]]


def test_a_new_batch_with_spectra_gets_estimates_with_intervals(site: dict) -> None:
    driver, model_id, new = site["driver"], site["model"].model_id, site["new"]
    report = ingest_bundle(driver, _bundle(site["source"], site["root"] / "new", [new]),
                           site_code=SITE, max_file_bytes=2**30)
    assert report.ok and [w.outcome for w in report.written] == ["stored"]
    spectra = driver.execute_query("MATCH (:Batch {batch_id: $id})-[:HAS_SPECTRA]->(s) "
                                   "RETURN s.n AS n", id=new)[0][0]["n"]
    [made] = report.estimates
    assert (made.batch_id, made.model_id, made.error) == (new, model_id, None)
    assert made.estimates == spectra
    rows = _estimates(driver, new, model_id)
    assert len(rows) == spectra
    in_domain = [r for r in rows if r["ok"]]
    assert len(in_domain) > 0.8 * spectra  # the site's own analyser: mostly in domain
    assert all(r["low"] < r["value"] < r["high"] for r in in_domain)


def test_a_corrupted_spectrum_is_flagged_out_of_domain_on_ingest(site: dict) -> None:
    driver, model_id, new = site["driver"], site["model"].model_id, site["new"]
    bundle = _bundle(site["source"], site["root"] / "corrupted", [new])
    hour = _corrupt_spectrum(bundle, new, 80)
    report = ingest_bundle(driver, bundle, site_code=SITE, max_file_bytes=2**30)
    assert [w.outcome for w in report.written] == ["replaced"]
    assert report.estimates[0].error is None and report.estimates[0].out_of_domain >= 1
    rows = _estimates(driver, new, model_id)
    first_hour = rows[0]["t_h"]
    corrupted = min(rows, key=lambda r: abs(r["t_h"] - first_hour - hour))
    assert corrupted["ok"] is False and corrupted["reason"]
    assert len(rows) == driver.execute_query(  # replaced, never duplicated
        "MATCH (:Batch {batch_id: $id})-[:HAS_SPECTRA]->(s) RETURN s.n AS n", id=new
    )[0][0]["n"]


def test_the_site_api_reports_the_estimates_made_on_upload(site: dict, site_uri: str) -> None:
    driver, model_id, new = site["driver"], site["model"].model_id, site["new"]
    bundle = _bundle(site["source"], site["root"] / "api", [new])
    _corrupt_spectrum(bundle, new, 40)  # new content, so the batch is written again
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for file in sorted(bundle.rglob("*")):
            zf.write(file, file.relative_to(bundle))
    settings = SiteSettings(code=SITE, neo4j_uri=site_uri)
    with serve(create_app(settings, driver=driver)) as url:
        response = httpx.post(f"{url}/batches", content=buffer.getvalue(), timeout=300,
                              headers={"content-type": "application/zip"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(s["batch_id"], s["outcome"]) for s in body["stored"]] == [(new, "replaced")]
    spectra = driver.execute_query("MATCH (:Batch {batch_id: $id})-[:HAS_SPECTRA]->(s) "
                                   "RETURN s.n AS n", id=new)[0][0]["n"]
    [made] = body["estimates"]
    assert made["batch_id"] == new and made["model_id"] == model_id
    assert made["error"] is None and made["estimates"] == spectra
    assert made["out_of_domain"] == sum(not r["ok"] for r in _estimates(driver, new, model_id))
    assert made["out_of_domain"] >= 1  # the corrupted spectrum


def test_a_failing_model_does_not_cost_the_batch_and_is_reported(site: dict,
                                                                 site_uri: str) -> None:
    driver, new = site["driver"], site["new"]
    broken = train_and_store(driver, "GLC", config=SoftSensorConfig(algorithms=("pls",)))
    driver.execute_query("MATCH (m:SoftSensorModel {model_id: $id}) "
                         "SET m.artifact_sha256 = 'tampered'", id=broken.model_id)
    bundle = _bundle(site["source"], site["root"] / "again", [new])
    _corrupt_spectrum(bundle, new, 10)  # new content, so the batch is written again
    result = CliRunner().invoke(app, ["site", "ingest", str(bundle), "--neo4j-uri", site_uri,
                                      "--site", SITE, "--no-analyse"])
    assert result.exit_code == 0, result.output
    assert "replaced" in result.output
    assert (f"estimates failed {new} with model {broken.model_id} (the batch is stored): "
            f"model '{broken.model_id}': the stored artifact does not match its SHA-256"
            in " ".join(result.output.split()))
    stored = driver.execute_query(  # the whole batch is there, with its spectra
        "MATCH (b:Batch {batch_id: $id})-[:HAS_SPECTRA]->(s) RETURN s.n AS n", id=new)[0]
    assert stored and stored[0]["n"] > 0
    assert _estimates(driver, new, broken.model_id) == []  # nothing half-written
    # the earlier version's estimates were made on the replaced revision: gone with it,
    # not left behind as nodes no batch owns
    assert _estimates(driver, new, site["model"].model_id) == []
    assert driver.execute_query("MATCH (e:Estimate) WHERE NOT ()-[:HAS_ESTIMATE]->(e) "
                                "RETURN count(e) AS n")[0][0]["n"] == 0
