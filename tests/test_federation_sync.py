"""Three real site nodes sync to a real federation over HTTP; quality queries it with SPARQL.

One module-scoped network: three Neo4j site databases with a generated campaign ingested
and analysed, and a federation (embedded Oxigraph) served by uvicorn on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from neo4j import Driver
from SPARQLWrapper import JSON, SPARQLWrapper

from federation.api.app import create_app
from federation.config import FederationSettings
from site_node.analysis.service import analyse
from site_node.ingest.service import ingest_bundle
from site_node.sync.client import FederationClient, build_pushes, sync_site
from tests.conftest import load_campaign_site
from twinfed.serving import serve

ADMIN = "admin-token-for-tests"
SITES = {"SITE-A": "site_a", "SITE-B": "site_b", "SITE-C": "site_c"}
TF = "https://w3id.org/twinfed/ontology#"
TFP = "https://w3id.org/twinfed/parameter/"


@pytest.fixture(scope="module")
def network(_drivers: dict[str, Driver], campaign_dir: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    for site, db in SITES.items():
        driver = _drivers[db]
        load_campaign_site(driver, campaign_dir, site)
    settings = FederationSettings(data=tmp_path_factory.mktemp("federation"), admin_token=ADMIN)
    with serve(create_app(settings)) as url:
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"},
                             timeout=120)
        tokens = {site: admin.post("/sites", json={"code": site}).json()["token"]
                  for site in SITES}
        users = {
            "acme": admin.post("/users", json={"name": "qa-acme", "roles": ["quality"],
                                               "sponsors": ["SP-ACME"]}).json()["token"],
            "beta": admin.post("/users", json={"name": "qa-beta", "roles": ["quality"],
                                               "sponsors": ["SP-BETA"]}).json()["token"],
        }
        yield {"url": url, "admin": admin, "tokens": tokens, "users": users,
               "drivers": {site: _drivers[db] for site, db in SITES.items()}}
        admin.close()


def _sync(network: dict, site: str):  # noqa: ANN202
    client = FederationClient(network["url"], network["tokens"][site])
    try:
        return sync_site(network["drivers"][site], client, site_code=site,
                         api_base=f"http://{site.lower()}.example:8701", software_version="t")
    finally:
        client.close()


def _select(network: dict, user: str, query: str) -> list[dict]:
    response = httpx.post(f"{network['url']}/sparql", data={"query": query},
                          headers={"Authorization": f"Bearer {network['users'][user]}",
                                   "Accept": "application/sparql-results+json"}, timeout=60)
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in row.items()}
            for row in response.json()["results"]["bindings"]]


@pytest.fixture(scope="module")
def synced(network: dict) -> dict:
    network["first"] = {site: _sync(network, site) for site in SITES}
    return network


def _site_rev(driver: Driver) -> int:
    return driver.execute_query("MATCH (s:Site) RETURN s.rev AS rev")[0][0]["rev"]


def test_sync_acknowledges_the_site_revision(synced: dict) -> None:
    for site, result in synced["first"].items():
        assert result.acknowledged_rev == _site_rev(synced["drivers"][site])
        batches = synced["drivers"][site].execute_query("MATCH (b:Batch) RETURN count(b) AS n")
        assert result.batches == batches[0][0]["n"]
    sites = {s["code"]: s for s in synced["admin"].get("/sites").json()}
    assert all(not sites[s]["stale"] and sites[s]["last_sync"] for s in SITES)


def test_second_sync_is_a_no_op(synced: dict) -> None:
    before = synced["admin"].get("/sites/SITE-A/pushes").json()
    again = _sync(synced, "SITE-A")
    assert again.batches == 0
    assert again.pushes == []  # nothing changed: nothing sent
    history = synced["admin"].get("/sites/SITE-A/pushes").json()
    assert [h for h in history if h["outcome"] == "stored"] == \
        [h for h in before if h["outcome"] == "stored"]


def test_retrying_the_same_push_is_a_no_op(synced: dict) -> None:
    driver = synced["drivers"]["SITE-C"]
    from site_node.export.service import export_site

    export = export_site(driver, site_code="SITE-C", api_base="http://x", software_version="t")
    [push] = build_pushes(export, "SITE-C", 0, "t")[:1]
    client = FederationClient(synced["url"], synced["tokens"]["SITE-C"])
    try:
        first, second = client.push(push), client.push(push)
    finally:
        client.close()
    assert first.outcome in ("stored", "duplicate")
    assert second.outcome == "duplicate" and second.batches_stored == 0


def test_reingested_and_deleted_batches_propagate(synced: dict, campaign_dir: Path) -> None:
    from site_node.ingest.writer import delete_batch

    driver = synced["drivers"]["SITE-C"]
    ids = [r["id"] for r in driver.execute_query(
        "MATCH (b:Batch) RETURN b.batch_id AS id ORDER BY id")[0]]
    gone = ids[-1]
    query = f"SELECT DISTINCT ?id WHERE {{ ?b a <{TF}Batch> ; <{TF}batchId> ?id }}"
    assert gone in {r["id"] for r in _select(synced, "acme", query)}
    delete_batch(driver, "SITE-C", gone, "withdrawn: wrong process version")
    result = _sync(synced, "SITE-C")
    assert sum(a.batches_deleted for a in result.pushes) == 1
    assert result.acknowledged_rev == _site_rev(driver)
    visible = {r["id"] for r in _select(synced, "acme", query)}
    assert gone not in visible and set(ids[:-1]) <= visible
    # the batch comes back: re-ingesting its bundle restores it centrally too
    bundle = next(b for b in sorted(campaign_dir.glob("SITE-C*")) if (b / gone).exists())
    assert ingest_bundle(driver, bundle, site_code="SITE-C", max_file_bytes=2**30).ok
    analyse(driver, site_code="SITE-C")
    _sync(synced, "SITE-C")
    assert gone in {r["id"] for r in _select(synced, "acme", query)}


def test_units_are_converted_to_the_shared_vocabulary(synced: dict) -> None:
    """SITE-B records temperature in kelvin; the federation answers in degrees Celsius."""
    driver = synced["drivers"]["SITE-B"]
    [row], _, _ = driver.execute_query(
        "MATCH (b:Batch)-[:HAS_FEATURE]->(f:Feature {tag: 'BR5_TT101', stat: 'mean'}) "
        "RETURN b.batch_id AS batch, f.phase AS phase, f.value AS kelvin "
        "ORDER BY batch, phase LIMIT 1")
    rows = _select(synced, "acme", f"""
        SELECT ?value ?unit WHERE {{
          ?f a <{TF}Feature> ; <{TF}parameter> <{TFP}temperature> ;
             <{TF}statistic> "mean" ; <{TF}alignedValue> ?value ; <{TF}alignedUnit> ?unit ;
             <{TF}ofBatch> ?b ; <{TF}inPhase> ?p .
          ?b <{TF}batchId> "{row['batch']}" . ?p <{TF}phaseName> "{row['phase']}" .
        }}""")
    assert len(rows) == 1
    assert float(rows[0]["value"]) == pytest.approx(row["kelvin"] - 273.15, abs=1e-9)
    assert rows[0]["unit"] in ("degC", "°C")


def test_unmapped_tags_are_reported_and_kept(synced: dict) -> None:
    unmapped = {u for r in synced["first"].values() for a in r.pushes for u in a.unmapped}
    assert unmapped, "the demo alignments leave some site-specific tags unmapped on purpose"
    tag = sorted(u for u in unmapped if u.startswith("tag "))[0].removeprefix("tag ")
    rows = _select(synced, "acme", f"""
        SELECT (COUNT(?f) AS ?n) WHERE {{
          ?f <{TF}ofTag> ?t ; <{TF}siteLocal> true .
          ?t <http://www.w3.org/2004/02/skos/core#prefLabel> "{tag}" .
        }}""")
    assert int(rows[0]["n"]) > 0


def test_sponsor_scope_hides_other_sponsors_graphs(synced: dict, campaign_dir: Path) -> None:
    truth = json.loads((campaign_dir / "ground_truth.json").read_text())["batches"]
    beta = {b["batch_id"] for b in truth if b.get("sponsor") == "SP-BETA"}
    assert beta
    query = f"SELECT DISTINCT ?id WHERE {{ ?b a <{TF}Batch> ; <{TF}batchId> ?id }}"
    assert {r["id"] for r in _select(synced, "beta", query)} == beta
    acme_ids = {r["id"] for r in _select(synced, "acme", query)}
    assert acme_ids and not acme_ids & beta
    tricks = [
        f"SELECT DISTINCT ?id WHERE {{ GRAPH ?g {{ ?b <{TF}batchId> ?id }} }}",
        f"SELECT DISTINCT ?id WHERE {{ ?b (<{TF}ofBatch>|^<{TF}ofBatch>)* ?x . "
        f"?x <{TF}batchId> ?id }}",
    ]
    for trick in tricks:
        assert {r["id"] for r in _select(synced, "acme", trick)} <= acme_ids
    acme_graph = f"https://w3id.org/twinfed/site/SITE-A/batch/{sorted(acme_ids)[0]}"
    widened = httpx.post(
        f"{synced['url']}/sparql",
        data={"query": f"SELECT ?s FROM NAMED <{acme_graph}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"},
        headers={"Authorization": f"Bearer {synced['users']['beta']}"})
    assert widened.status_code in (400, 403, 422) or \
        widened.json()["results"]["bindings"] == []


def test_sparql_updates_are_refused(synced: dict) -> None:
    headers = {"Authorization": f"Bearer {synced['users']['acme']}"}
    direct = httpx.post(f"{synced['url']}/sparql", content="DROP ALL",
                        headers={**headers, "Content-Type": "application/sparql-update"})
    assert direct.status_code == 422 and "read-only" in direct.json()["detail"]
    smuggled = httpx.post(f"{synced['url']}/sparql", data={"query": "CLEAR ALL"},
                          headers=headers)
    assert 400 <= smuggled.status_code < 500
    assert _select(synced, "acme", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")[0]["n"] != "0"


def test_a_standard_sparql_client_works(synced: dict) -> None:
    client = SPARQLWrapper(f"{synced['url']}/sparql")
    client.addCustomHttpHeader("Authorization", f"Bearer {synced['users']['acme']}")
    client.setQuery(f"SELECT (COUNT(DISTINCT ?b) AS ?n) WHERE {{ ?b a <{TF}Batch> }}")
    client.setReturnFormat(JSON)
    result = client.queryAndConvert()
    assert int(result["results"]["bindings"][0]["n"]["value"]) > 0


def test_a_site_cannot_push_for_another_site(synced: dict) -> None:
    client = FederationClient(synced["url"], synced["tokens"]["SITE-A"])
    try:
        with pytest.raises(Exception, match="may write only its own graphs"):
            client.state("SITE-B")
    finally:
        client.close()


def test_a_refused_push_changes_no_batch(synced: dict) -> None:
    """One invalid batch in a push: the valid one beside it is not stored either."""
    from bioprocess.errors import ValidationError
    from protocol.sync import sha256_hex
    from site_node.export.service import export_site

    driver = synced["drivers"]["SITE-C"]
    export = export_site(driver, site_code="SITE-C", api_base="http://x", software_version="t")
    push = build_pushes(export, "SITE-C", 0, "t")[0]
    good, bad = push.batches[0], push.batches[1]
    marker = (f"<{good.graph}> <http://www.w3.org/2000/01/rdf-schema#comment> "
              f"\"changed in a refused push\" <{good.graph}> .\n")
    changed = good.model_copy(update={"nquads": good.nquads + marker, "rev": good.rev + 1000,
                                      "sha256": sha256_hex(good.nquads + marker)})
    broken_quads = "".join(line for line in bad.nquads.splitlines(keepends=True)
                           if "#inPhase>" not in line)  # events and features lose their phase
    broken = bad.model_copy(update={"nquads": broken_quads, "sha256": sha256_hex(broken_quads)})
    attempt = push.model_copy(update={"push_id": "refused-push-0001",
                                      "batches": [changed, broken]})
    client = FederationClient(synced["url"], synced["tokens"]["SITE-C"])
    try:
        with pytest.raises(ValidationError, match="has no phase"):
            client.push(attempt)
    finally:
        client.close()
    rows = _select(synced, "acme", "SELECT (COUNT(*) AS ?n) WHERE { ?s "
                   "<http://www.w3.org/2000/01/rdf-schema#comment> \"changed in a refused push\" }")
    assert rows[0]["n"] == "0"
    history = synced["admin"].get("/sites/SITE-C/pushes").json()
    assert history[0]["outcome"] == "refused" and "has no phase" in history[0]["detail"]


def test_resync_resends_everything_and_duplicates_nothing(synced: dict) -> None:
    count = ("PREFIX tf: <https://w3id.org/twinfed/ontology#> SELECT (COUNT(DISTINCT ?b) AS ?n) "
             "WHERE { ?b a tf:Batch ; tf:atSite/tf:siteCode 'SITE-B' }")
    before = _select(synced, "acme", count)
    answer = synced["admin"].post("/sites/SITE-B/resync")
    assert answer.status_code == 200
    assert answer.json()["previous_acknowledged_rev"] == _site_rev(synced["drivers"]["SITE-B"])
    again = _sync(synced, "SITE-B")
    assert again.pushes and {p.outcome for p in again.pushes} == {"stored"}
    assert again.batches == synced["first"]["SITE-B"].batches  # every batch sent again
    assert again.acknowledged_rev == _site_rev(synced["drivers"]["SITE-B"])
    assert _select(synced, "acme", count) == before  # nothing lost, nothing duplicated
    outcomes = {h["outcome"] for h in synced["admin"].get("/sites/SITE-B/pushes").json()}
    assert {"stored", "superseded"} <= outcomes
    missing = synced["admin"].post("/sites/SITE-X/resync")
    assert missing.status_code == 404 and "SITE-X" in missing.json()["detail"]
