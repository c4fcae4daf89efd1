"""Early-yield model cards at a real site node (Neo4j) and in a real federation (HTTP, Oxigraph):
versioned (a retrain is a new version, the old card is kept), shown by the CLI, exported with
PROV-O lineage and traced to their training batches in the federation.

SITE-A's six generated batches; the target is the site's own quality attribute name
(``final_titre``) — nothing else is assumed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from neo4j import Driver
from typer.testing import CliRunner

from bioprocess.errors import NotFoundError
from federation.api.app import create_app
from federation.config import FederationSettings
from site_node.export.service import export_site
from site_node.ingest.service import ingest_bundle
from site_node.models.store import (
    list_yield_models,
    load_yield_models,
    yield_model_card,
)
from site_node.models.yield_service import early_yield
from site_node.sync.client import FederationClient, sync_site
from tests.conftest import clean_database
from twinfed.cli import app
from twinfed.serving import serve

SITE = "SITE-A"
TF = "https://w3id.org/twinfed/ontology#"
PROV = "http://www.w3.org/ns/prov#"
ADMIN = "admin-token-for-yield-card-tests"


@pytest.fixture(scope="module")
def site(_drivers: dict[str, Driver], campaign_dir: Path) -> dict:
    driver = _drivers["site_a"]
    clean_database(driver)
    for bundle in sorted(campaign_dir.glob(f"{SITE}*")):
        assert ingest_bundle(driver, bundle, site_code=SITE, max_file_bytes=2**30).ok
    first = early_yield(driver, "final_titre")
    return {"driver": driver, "first": first}


def test_the_yield_card_is_stored_with_lineage_to_its_training_batches(site: dict) -> None:
    driver, first = site["driver"], site["first"]
    stored = first.stored
    assert stored is not None and stored.version == 1
    card = yield_model_card(driver, stored.model_id)
    assert card["target"] == "final_titre" and card["unit"] == "g/L"
    assert card["training_batches"] == first.models.training_batches
    assert set(card["by_fraction"]) == {"25%", "50%", "75%"}
    assert card["by_fraction"]["50%"]["accuracy_pct"] == pytest.approx(
        first.models.models[0.5].accuracy_pct)
    assert card["assumptions"] and card["limitations"] and card["process"]
    # the site's alignment lets the twin read its batches: its forecast was offered as an input
    assert card["notes"][0].startswith("mechanistic twin forecast offered as an input for 6 of "
                                       "6 batches")
    assert all(m["model"] for m in card["by_fraction"].values())
    trained_on = {r["id"] for r in driver.execute_query(
        "MATCH (:YieldModel {model_id: $id})-[:TRAINED_ON]->(b:Batch) RETURN b.batch_id AS id",
        id=stored.model_id)[0]}
    assert trained_on == set(card["training_batches"])
    models, _ = load_yield_models(driver, stored.model_id)  # the fitted models round-trip
    assert models.training_batches == card["training_batches"]


def test_a_retrain_is_a_new_version_and_the_old_card_is_kept(site: dict) -> None:
    driver, first = site["driver"], site["first"].stored
    before = yield_model_card(driver, first.model_id)
    again = early_yield(driver, "final_titre", mechanistic=False).stored
    assert again.version == 2 and again.model_id != first.model_id
    assert yield_model_card(driver, first.model_id) == before
    linked = driver.execute_query(
        "MATCH (:YieldModel {model_id: $new})-[:REVISION_OF]->(old) RETURN old.model_id AS id",
        new=again.model_id)[0]
    assert [r["id"] for r in linked] == [first.model_id]
    assert [m["version"] for m in list_yield_models(driver)] == [1, 2]
    with pytest.raises(NotFoundError, match="model 'yield-nope' is not stored at this site"):
        yield_model_card(driver, "yield-nope")


def test_the_cli_trains_lists_and_shows_yield_cards(site: dict, site_uri: str) -> None:
    trained = CliRunner().invoke(app, ["site", "softsensor", "yield", "--attribute",
                                       "final_titre", "--neo4j-uri", site_uri, "--no-store",
                                       "--no-twin"])
    assert trained.exit_code == 0, trained.output
    assert "final_titre from the first 50%: accuracy" in trained.output
    assert "model card stored" not in trained.output  # --no-store keeps no version
    listed = CliRunner().invoke(app, ["site", "softsensor", "list", "--neo4j-uri", site_uri])
    assert listed.exit_code == 0, listed.output
    model_id = site["first"].stored.model_id
    assert model_id in listed.output and "accuracy at 50%" in listed.output
    shown = CliRunner().invoke(app, ["site", "softsensor", "show", model_id,
                                     "--neo4j-uri", site_uri])
    assert shown.exit_code == 0, shown.output
    for words in ("from the first 50%: accuracy", "mean predictor", "assumptions",
                  "limitations", "nested grouped 5-fold cross-validation"):
        assert words in shown.output


def test_the_export_carries_the_yield_card_and_conforms(site: dict) -> None:
    export = export_site(site["driver"], site_code=SITE, api_base="http://a.example",
                         software_version="t")
    assert export.report.conforms, export.report.text
    quads = export.serialize("nquads").decode()
    assert f"<{TF}YieldModel>" in quads and f"<{TF}yieldAccuracy>" in quads


# ---------------------------------------------------------------------------------------------
# In the federation: the yield card traces to its training batches in two queries
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def federation(site: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    settings = FederationSettings(data=tmp_path_factory.mktemp("federation-yield"),
                                  admin_token=ADMIN)
    federation_app = create_app(settings)
    with serve(federation_app) as url:
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
        yield {"url": url, "users": users, "store": federation_app.state.store}
        admin.close()


def _select(federation: dict, sponsor: str, query: str) -> list[dict]:
    response = httpx.post(f"{federation['url']}/sparql", data={"query": query}, timeout=60,
                          headers={"Authorization": f"Bearer {federation['users'][sponsor]}",
                                   "Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in row.items()}
            for row in response.json()["results"]["bindings"]]


def test_the_yield_card_traces_to_its_training_batches_in_two_queries(
        site: dict, federation: dict) -> None:
    card = yield_model_card(site["driver"], site["first"].stored.model_id)
    # 1: the card (version, accuracy per cut-off) and the batches it was derived from
    rows = _select(federation, "SP-ACME", f"""
        SELECT ?model ?accuracy ?batch WHERE {{
          ?model a <{TF}YieldModel> ; <{TF}modelVersion> 1 ; <{TF}yieldAccuracy> ?accuracy ;
                 <{PROV}wasDerivedFrom> ?batch ; <{PROV}wasGeneratedBy> ?training .
          ?training <{PROV}used> ?batch .
        }}""")
    assert len({r["model"] for r in rows}) == 1
    accuracy = json.loads(rows[0]["accuracy"])
    assert accuracy["50%"]["accuracy_pct"] == pytest.approx(
        card["by_fraction"]["50%"]["accuracy_pct"])
    # 2: those batches, as stored in the federation (their own graphs)
    values = " ".join(f"<{b}>" for b in sorted({r["batch"] for r in rows}))
    found = _select(federation, "SP-ACME", f"""
        SELECT ?batchId ?site WHERE {{ VALUES ?batch {{ {values} }}
          ?batch a <{TF}Batch> ; <{TF}batchId> ?batchId ; <{TF}atSite>/<{TF}siteCode> ?site }}""")
    assert sorted(r["batchId"] for r in found) == sorted(card["training_batches"])
    assert {r["site"] for r in found} == {SITE}


def test_yield_cards_are_scoped_to_their_sponsor(federation: dict) -> None:
    query = f"SELECT ?m WHERE {{ ?m a <{TF}YieldModel> }}"
    assert len(_select(federation, "SP-ACME", query)) == 2  # two stored versions
    assert _select(federation, "SP-BETA", query) == []


def test_without_a_titre_alignment_the_model_stays_data_driven_and_says_why(
        site: dict) -> None:
    from site_node.models.twin_forecasts import site_twin_forecaster

    batch_ids = site["first"].models.training_batches
    forecaster, reason = site_twin_forecaster(site["driver"], batch_ids, "viability_final",
                                              "%", [0.5])
    assert forecaster is None
    assert reason == ("'viability_final' is not aligned to the shared titre parameter at "
                      "SITE-A; the mechanistic twin forecasts titre only")


def test_the_knowledge_package_lists_the_yield_card_as_an_early_yield_model(
        site: dict, federation: dict) -> None:
    from federation.packages.external import model_section
    from federation.packages.source import ProcessRef, TransferData

    card = yield_model_card(site["driver"], site["first"].stored.model_id)
    process = ProcessRef("", card["process"], card["process_version"], "SP-ACME", None, None)
    section = model_section(federation["store"], TransferData(process, SITE, "SITE-B", {}))
    [item] = section.items  # the latest of the two versions
    assert item["label"].endswith("(final_titre early-yield model, SITE-A)")
    assert item["facts"]["version"] == "2"
