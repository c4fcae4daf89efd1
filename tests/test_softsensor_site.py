"""Soft sensors at a real site node (Neo4j) and in a real federation (HTTP, Oxigraph).

One module-scoped site: SITE-A's generated batches ingested into a clean Neo4j, a glucose
soft sensor trained on its stored spectra and lab values (lab code ``GLC``: the target is
the user's choice, nothing assumes the simulator's analyte names or wavenumbers).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from neo4j import Driver
from typer.testing import CliRunner

from bioprocess.errors import NotFoundError, ValidationError
from bioprocess.models import SoftSensorConfig
from federation.api.app import create_app
from federation.config import FederationSettings
from site_node.export.service import export_site
from site_node.ingest.service import ingest_bundle
from site_node.ingest.writer import decode_intensities, encode_intensities
from site_node.models.estimates import apply_soft_sensor
from site_node.models.store import list_models, load_soft_sensor, model_card
from site_node.models.training import train_and_store
from site_node.sync.client import FederationClient, sync_site
from tests.conftest import clean_database
from twinfed.cli import app
from twinfed.serving import serve

SITE = "SITE-A"
TF = "https://w3id.org/twinfed/ontology#"
PROV = "http://www.w3.org/ns/prov#"
ADMIN = "admin-token-for-softsensor-tests"


@pytest.fixture(scope="module")
def site(_drivers: dict[str, Driver], campaign_dir: Path) -> dict:
    driver = _drivers["site_a"]
    clean_database(driver)
    for bundle in sorted(campaign_dir.glob(f"{SITE}*")):
        assert ingest_bundle(driver, bundle, site_code=SITE, max_file_bytes=2**30).ok
    stored = train_and_store(driver, "GLC")
    return {"driver": driver, "model": stored}


def _rev(driver: Driver, batch_id: str) -> int:
    return driver.execute_query("MATCH (b:Batch {batch_id: $id}) RETURN b.rev AS rev",
                                id=batch_id)[0][0]["rev"]


def test_the_model_card_says_what_a_regulator_asks(site: dict) -> None:
    card = model_card(site["driver"], site["model"].model_id)
    assert card["target"] == "GLC" and card["unit"] == "g/L" and card["version"] == 1
    assert card["algorithm"] in ("pls", "svr", "gbr") and card["hyperparameters"]
    assert "Savitzky–Golay" in card["preprocessing"] or "no scatter" in card["preprocessing"]
    assert set(card["training_batches"]).isdisjoint(card["validation_batches"])
    assert len(card["training_batches"]) + len(card["validation_batches"]) == 6
    metrics = card["metrics"]
    assert 0 < metrics["rmsep"] < 1.5 and metrics["r2"] > 0.7  # glucose spans ~0.2-7 g/L
    assert card["domain"]["t2_limit_99"] > card["domain"]["t2_limit_95"] > 0
    assert card["domain"]["q_limit_99"] > card["domain"]["q_limit_95"] > 0
    assert any("cm⁻¹" in d for d in card["drivers"]) and card["assumptions"]
    assert card["limitations"]
    trained_on = {r["id"] for r in site["driver"].execute_query(
        "MATCH (:SoftSensorModel {model_id: $id})-[:TRAINED_ON]->(b) RETURN b.batch_id AS id",
        id=card["model_id"])[0]}
    assert trained_on == set(card["training_batches"])


def test_a_retrain_is_a_new_version_and_the_old_card_is_kept(site: dict) -> None:
    driver = site["driver"]
    before = model_card(driver, site["model"].model_id)
    again = train_and_store(driver, "GLC", config=SoftSensorConfig(algorithms=("pls",)))
    assert again.version == 2 and again.model_id != site["model"].model_id
    assert model_card(driver, site["model"].model_id) == before
    linked = driver.execute_query(
        "MATCH (:SoftSensorModel {model_id: $new})-[:REVISION_OF]->(old) "
        "RETURN old.model_id AS id", new=again.model_id)[0]
    assert [r["id"] for r in linked] == [site["model"].model_id]
    assert [m["version"] for m in list_models(driver)] == [1, 2]


def test_an_unknown_target_or_model_is_a_clear_error(site: dict) -> None:
    with pytest.raises(ValidationError, match="no batch has both spectra and lab values of "
                                              "'NO-SUCH-ANALYTE'"):
        train_and_store(site["driver"], "NO-SUCH-ANALYTE")
    with pytest.raises(NotFoundError, match="model 'nope' is not stored at this site"):
        model_card(site["driver"], "nope")


def test_applying_a_model_stores_flagged_estimates_and_new_revisions(site: dict) -> None:
    driver, model_id = site["driver"], site["model"].model_id
    card = model_card(driver, model_id)
    held = card["validation_batches"][0]
    rev_before = _rev(driver, held)
    report = apply_soft_sensor(driver, model_id, site_code=SITE)
    spectra = driver.execute_query("MATCH (s:SpectrumSet) RETURN sum(s.n) AS n")[0][0]["n"]
    assert report.estimates == spectra and report.batches == 6
    assert report.out_of_domain < 0.2 * spectra  # the site's own analyser: mostly in domain
    assert _rev(driver, held) > rev_before  # the next sync carries the estimates
    rows = driver.execute_query(
        "MATCH (:Batch {batch_id: $id})-[:HAS_ESTIMATE]->(e {model_id: $m}) "
        "WHERE e.reference IS NOT NULL AND e.in_domain "
        "RETURN e.value AS v, e.low AS lo, e.high AS hi, e.reference AS ref",
        id=held, m=model_id)[0]
    assert len(rows) >= 5
    errors = [abs(r["v"] - r["ref"]) for r in rows]
    assert np.sqrt(np.mean(np.square(errors))) < 2 * card["metrics"]["rmsecv"] + 0.5
    assert all(r["lo"] < r["v"] < r["hi"] for r in rows)
    again = apply_soft_sensor(driver, model_id, site_code=SITE)  # replaces, never duplicates
    count = driver.execute_query("MATCH (e:Estimate {model_id: $m}) RETURN count(e) AS n",
                                 m=model_id)[0][0]["n"]
    assert count == again.estimates == spectra


def _shift_stored_spectra(driver: Driver, batch_id: str, shift_cm1: float) -> None:
    """Make a batch's stored spectra look recorded by a mis-calibrated analyser."""
    rows = driver.execute_query(
        "MATCH (:Batch {batch_id: $id})-[:HAS_SPECTRA]->(s)-[:HAS_CHUNK]->(c) "
        "RETURN elementId(c) AS c, c.values AS values, s.channels AS channels, "
        "s.wavenumbers AS wn", id=batch_id)[0]
    for row in rows:
        block = decode_intensities(row["values"], row["channels"])
        wn = np.asarray(row["wn"])
        shifted = np.vstack([np.interp(wn - shift_cm1, wn, r) for r in block])
        driver.execute_query("MATCH (c) WHERE elementId(c) = $c SET c.values = $v",
                             c=row["c"], v=encode_intensities(shifted))


def test_spectra_from_a_shifted_analyser_raise_a_drift_event_that_is_exported(
        site: dict) -> None:
    driver, model_id = site["driver"], site["model"].model_id
    card = model_card(driver, model_id)
    target = card["validation_batches"][-1]
    _shift_stored_spectra(driver, target, 6.0)
    report = apply_soft_sensor(driver, model_id, site_code=SITE, batch_ids=[target])
    assert report.out_of_domain >= 0.9 * report.estimates
    assert [f.kind for f in report.drift][:1] == ["out_of_domain_share"]
    assert model_card(driver, model_id)["drift_events"][0]["kind"] == "out_of_domain_share"

    export = export_site(driver, site_code=SITE, api_base="http://a.example",
                         software_version="t")
    assert export.report.conforms, export.report.text
    quads = export.serialize("nquads").decode()
    assert f"<{TF}ModelDriftEvent>" in quads and f"<{TF}referenceValue>" in quads
    assert '"false"^^<http://www.w3.org/2001/XMLSchema#boolean>' in quads  # flagged estimates


def test_the_cli_lists_and_shows_model_cards(site: dict, site_uri: str) -> None:
    listed = CliRunner().invoke(app, ["site", "softsensor", "list", "--neo4j-uri", site_uri])
    assert listed.exit_code == 0, listed.output
    assert site["model"].model_id in listed.output
    shown = CliRunner().invoke(app, ["site", "softsensor", "show", site["model"].model_id,
                                     "--neo4j-uri", site_uri])
    assert shown.exit_code == 0, shown.output
    for words in ("RMSEP", "applicability", "top drivers", "assumptions", "limitations"):
        assert words in shown.output


# ---------------------------------------------------------------------------------------------
# In the federation: the card traces to its training batches in at most three queries
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def federation(site: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    settings = FederationSettings(data=tmp_path_factory.mktemp("federation-softsensor"),
                                  admin_token=ADMIN)
    with serve(create_app(settings)) as url:
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"},
                             timeout=120)
        token = admin.post("/sites", json={"code": SITE}).json()["token"]
        users = {sponsor: admin.post("/users", json={
            "name": f"qa-{sponsor}", "roles": ["quality"], "sponsors": [sponsor]}).json()["token"]
            for sponsor in ("SP-ACME", "SP-BETA")}
        client = FederationClient(url, token)
        try:
            sync_site(site["driver"], client, site_code=SITE, api_base="http://a.example",
                      software_version="t")
        finally:
            client.close()
        yield {"url": url, "users": users}
        admin.close()


def _select(federation: dict, sponsor: str, query: str) -> list[dict]:
    response = httpx.post(f"{federation['url']}/sparql", data={"query": query}, timeout=60,
                          headers={"Authorization": f"Bearer {federation['users'][sponsor]}",
                                   "Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in row.items()}
            for row in response.json()["results"]["bindings"]]


def test_the_model_card_traces_to_its_training_batches_in_two_queries(
        site: dict, federation: dict) -> None:
    card = model_card(site["driver"], site["model"].model_id)
    # 1: the model card (version, metrics) and the batches it was derived from
    models = _select(federation, "SP-ACME", f"""
        SELECT ?model ?version ?rmsep ?batch WHERE {{
          ?model a <{TF}SoftSensorModel> ; <{TF}targetAnalyte> "GLC" ;
                 <{TF}modelVersion> 1 ; <{TF}modelVersion> ?version ; <{TF}rmsep> ?rmsep ;
                 <{PROV}wasDerivedFrom> ?batch ; <{PROV}wasGeneratedBy> ?training .
          ?training <{PROV}used> ?batch .
        }}""")
    assert {r["version"] for r in models} == {"1"}
    assert float(models[0]["rmsep"]) == pytest.approx(card["metrics"]["rmsep"])
    batches = sorted({r["batch"] for r in models})
    # 2: those batches, as stored in the federation (their own graphs)
    values = " ".join(f"<{b}>" for b in batches)
    found = _select(federation, "SP-ACME", f"""
        SELECT ?batchId ?site WHERE {{ VALUES ?batch {{ {values} }}
          ?batch a <{TF}Batch> ; <{TF}batchId> ?batchId ; <{TF}atSite>/<{TF}siteCode> ?site }}""")
    assert sorted(r["batchId"] for r in found) == card["training_batches"]
    assert {r["site"] for r in found} == {SITE}


def test_model_cards_are_scoped_to_their_sponsor(federation: dict) -> None:
    query = f"SELECT ?m WHERE {{ ?m a <{TF}SoftSensorModel> }}"
    assert len(_select(federation, "SP-ACME", query)) == 2  # two versions
    assert _select(federation, "SP-BETA", query) == []


def test_the_fitted_model_round_trips_through_the_store(site: dict) -> None:
    sensor, card = load_soft_sensor(site["driver"], site["model"].model_id)
    assert card["artifact_sha256"] and sensor.target == "GLC"
    assert json.dumps(card)  # plain JSON, readable without the model


def test_the_demo_step_trains_flags_and_predicts(site: dict, capsys: pytest.CaptureFixture
                                                 ) -> None:
    from twinfed.softsensor_cli import demo_soft_sensor

    demo_soft_sensor({SITE: site["driver"]})
    printed = capsys.readouterr().out
    assert "model card GLC-" in printed and "RMSEP" in printed
    assert "injected: shifted 8 cm⁻¹ + spikes" in printed and "OUT OF DOMAIN" in printed
    assert "final_titre from the first 50%: accuracy" in printed
