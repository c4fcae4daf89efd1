"""Roles, sponsor isolation over HTTP, trace, limits and the audit trail, on a real
federation (uvicorn on loopback, embedded Oxigraph) holding two sponsors' graphs.

The graphs are written straight into the store (the sync path has its own tests): two
sites, sponsor ACME at SITE-A and sponsor BETA at SITE-B, plus an ACME estimate from a soft
sensor trained on two ACME batches — the kind of finding others add later.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from federation.api.app import create_app
from federation.config import FederationSettings
from federation.store.base import GraphMetadata
from twinfed.audit_cli import audit_app
from twinfed.serving import serve

ADMIN = "admin-token-for-trust-tests"
TF = "https://w3id.org/twinfed/ontology#"
PROV = "http://www.w3.org/ns/prov#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
A = "https://w3id.org/twinfed/site/SITE-A/"
B = "https://w3id.org/twinfed/site/SITE-B/"
FINDING = "https://w3id.org/twinfed/finding/estimate/E-1"
FINDINGS_GRAPH = "https://w3id.org/twinfed/finding/graph/acme-estimates"


def _nt(*triples: tuple[str, str, str]) -> bytes:
    def term(value: str) -> str:
        return value if value.startswith('"') else f"<{value}>"
    return "".join(f"{term(s)} {term(p)} {term(o)} .\n" for s, p, o in triples).encode()


def _batch(base: str, batch_id: str, sponsor: str) -> bytes:
    batch = f"{base}batch/{batch_id}"
    return _nt((batch, RDF_TYPE, f"{TF}Batch"), (batch, f"{TF}batchId", f'"{batch_id}"'),
               (batch, f"{TF}atSite", f"{base}site"), (batch, f"{TF}sponsor",
                                                       f"{base}sponsor/{sponsor}"),
               (batch, f"{PROV}wasGeneratedBy", f"{base}export/1"),
               (batch, f"{TF}rawData", f"http://{base[-7:-1].lower()}.example/batches/"
                                       f"{batch_id}"),
               (batch, f"{PROV}wasDerivedFrom", f"urn:twinfed:bundle:{batch_id}-bundle"))


def _meta(base: str, code: str) -> bytes:
    return _nt((f"{base}site", RDF_TYPE, f"{TF}Site"), (f"{base}site", f"{TF}siteCode",
                                                        f'"{code}"'),
               (f"{base}export/1", RDF_TYPE, f"{PROV}Activity"),
               (f"{base}export/1", RDF_TYPE, f"{TF}Export"),
               (f"{base}export/1", f"{PROV}wasAssociatedWith", f"{base}site"))


def _seed(store: object) -> None:
    now = datetime.now(UTC)
    model = "https://w3id.org/twinfed/finding/model/titre-pls/3"
    graphs = {
        f"{A}meta": _meta(A, "SITE-A"), f"{B}meta": _meta(B, "SITE-B"),
        f"{A}batch/A-1": _batch(A, "A-1", "ACME"), f"{A}batch/A-2": _batch(A, "A-2", "ACME"),
        f"{B}batch/B-1": _batch(B, "B-1", "BETA"),
        FINDINGS_GRAPH: _nt((FINDING, RDF_TYPE, f"{TF}Estimate"),
                            (FINDING, f"{TF}fromModel", model),
                            (FINDING, f"{PROV}wasDerivedFrom", f"{A}batch/A-2"),
                            (model, RDF_TYPE, f"{TF}SoftSensorModel"),
                            (model, f"{PROV}used", f"{A}batch/A-1"),
                            (model, f"{PROV}used", f"{A}batch/A-2")),
    }
    meta = {
        f"{A}meta": GraphMetadata(site="SITE-A", received_at=now, kind="site-meta"),
        f"{B}meta": GraphMetadata(site="SITE-B", received_at=now, kind="site-meta"),
        f"{A}batch/A-1": GraphMetadata(site="SITE-A", sponsor="ACME", kind="batch",
                                       export_hash="sha256:aa", received_at=now),
        f"{A}batch/A-2": GraphMetadata(site="SITE-A", sponsor="ACME", kind="batch",
                                       export_hash="sha256:ab", received_at=now),
        f"{B}batch/B-1": GraphMetadata(site="SITE-B", sponsor="BETA", kind="batch",
                                       received_at=now),
        FINDINGS_GRAPH: GraphMetadata(sponsor="ACME", kind="estimate", received_at=now),
    }
    store.replace_graphs(graphs, meta)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    data = tmp_path_factory.mktemp("trust-fed")
    settings = FederationSettings(data=data, admin_token=ADMIN, rate_limit_per_min=6000,
                                  rate_limit_burst=1000, max_request_mb=1)
    app = create_app(settings)
    with serve(app) as url:
        _seed(app.state.store)
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"},
                             timeout=60)
        tokens = {"admin": ADMIN}
        for name, roles, sponsors in [("qa-acme", ["quality"], ["ACME"]),
                                      ("qa-beta", ["quality"], ["BETA"]),
                                      ("eng-acme", ["engineer"], ["ACME"]),
                                      ("siteadmin", ["site_admin"], ["ACME"]),
                                      ("auditor", ["auditor"], None)]:
            response = admin.post("/users", json={"name": name, "roles": roles,
                                                  "sponsors": sponsors})
            assert response.status_code == 201, response.text
            tokens[name] = response.json()["token"]
        tokens["site"] = admin.post("/sites", json={"code": "SITE-A"}).json()["token"]
        yield {"url": url, "tokens": tokens, "data": data, "app": app}
        admin.close()


def _get(fed: dict, who: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(fed["url"] + path, headers={"Authorization": f"Bearer {fed['tokens'][who]}"},
                     timeout=60, **kwargs)  # type: ignore[arg-type]


def _select(fed: dict, who: str, query: str, **params: object) -> list[dict]:
    response = _get(fed, who, "/sparql", params={"query": query, **params},
                    )
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in row.items()}
            for row in response.json()["results"]["bindings"]]


# -- roles ------------------------------------------------------------------------------
@pytest.mark.parametrize(("who", "method", "path", "body"), [
    ("eng-acme", "POST", "/users", {"name": "x", "roles": ["admin"]}),
    ("qa-acme", "POST", "/sites", {"code": "SITE-X"}),
    ("site", "GET", "/sparql?query=ASK%7B%7D", None),
    ("siteadmin", "GET", "/sparql?query=ASK%7B%7D", None),
    ("eng-acme", "GET", "/audit", None),
    ("site", "GET", f"/trace?iri={FINDING}", None),
])
def test_each_role_is_refused_what_it_is_not_entitled_to(fed: dict, who: str, method: str,
                                                         path: str, body: dict | None) -> None:
    response = httpx.request(method, fed["url"] + path, json=body, timeout=30,
                             headers={"Authorization": f"Bearer {fed['tokens'][who]}"})
    assert response.status_code == 403
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "permission" in problem["detail"] and "roles" in problem["detail"]


def test_a_missing_or_unknown_token_is_401(fed: dict) -> None:
    assert httpx.get(fed["url"] + "/sites").status_code == 401
    response = httpx.get(fed["url"] + "/sites", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and "unknown" in response.json()["detail"]


def test_a_site_credential_cannot_push_to_another_site(fed: dict) -> None:
    response = httpx.post(fed["url"] + "/sync/SITE-B/pushes", json={},
                          headers={"Authorization": f"Bearer {fed['tokens']['site']}"})
    assert response.status_code in (403, 422)
    state = httpx.get(fed["url"] + "/sync/SITE-B/state",
                      headers={"Authorization": f"Bearer {fed['tokens']['site']}"})
    assert state.status_code == 403 and "SITE-A" in state.json()["detail"]


# -- sponsor isolation on SPARQL, over HTTP ----------------------------------------------
_IDS = f"SELECT DISTINCT ?id WHERE {{ ?b <{TF}batchId> ?id }}"


@pytest.mark.parametrize("query", [
    _IDS,
    f"SELECT DISTINCT ?id WHERE {{ GRAPH ?g {{ ?b <{TF}batchId> ?id }} }}",
    f"SELECT DISTINCT ?id WHERE {{ ?b (<{TF}batchId>|^<{TF}batchId>)+ ?id }}",
    f"SELECT DISTINCT ?id WHERE {{ ?b !(<{RDF_TYPE}>) ?id . FILTER(isLiteral(?id) && "
    f"STRSTARTS(STR(?id), \"B-\")) }}",
    f"SELECT DISTINCT ?id WHERE {{ ?s ?p ?o . ?o (<urn:x:p>|!<urn:x:p>)* ?x . "
    f"?x <{TF}batchId> ?id }}",
])
def test_a_sponsor_sees_none_of_another_sponsors_batches(fed: dict, query: str) -> None:
    ids = {r["id"] for r in _select(fed, "qa-acme", query)}
    assert not ids & {"B-1"}
    assert {r["id"] for r in _select(fed, "qa-beta", _IDS)} == {"B-1"}


@pytest.mark.parametrize("query", [
    f"SELECT ?id FROM <{B}batch/B-1> WHERE {{ ?b <{TF}batchId> ?id }}",
    f"SELECT ?id FROM NAMED <{B}batch/B-1> WHERE {{ GRAPH ?g {{ ?b <{TF}batchId> ?id }} }}",
    f"SELECT ?id WHERE {{ SERVICE <{B}batch/B-1> {{ ?b <{TF}batchId> ?id }} }}",
    "SELECT ?id FROM <urn:twinfed:store:view:BETA> WHERE { ?b ?p ?id }",
])
def test_dataset_clauses_and_service_cannot_reach_another_sponsor(fed: dict,
                                                                  query: str) -> None:
    response = _get(fed, "qa-acme", "/sparql", params={"query": query})
    assert response.status_code in (400, 403, 422), response.text
    assert "B-1" not in response.text.replace(f"{B}batch/B-1", "")
    assert "Traceback" not in response.text


def test_protocol_graph_parameters_cannot_widen_the_scope(fed: dict) -> None:
    response = _get(fed, "qa-acme", "/sparql",
                    params={"query": _IDS, "default-graph-uri": f"{B}batch/B-1"})
    assert response.status_code in (400, 403, 422)
    assert "outside" in response.json()["detail"]


def test_a_graph_variable_inside_property_path_stays_scoped(fed: dict) -> None:
    rows = _select(fed, "qa-acme", "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    graphs = {r["g"] for r in rows}
    assert f"{A}batch/A-1" in graphs and f"{B}batch/B-1" not in graphs
    assert not any(g.startswith("urn:twinfed:store:") for g in graphs)


# -- trace ------------------------------------------------------------------------------
def test_trace_returns_the_chain_to_model_batches_export_site_and_raw_data(fed: dict) -> None:
    response = _get(fed, "qa-acme", "/trace", params={"iri": FINDING})
    assert response.status_code == 200, response.text
    body = response.json()
    origins = body["origins"]
    assert origins["models"] == ["https://w3id.org/twinfed/finding/model/titre-pls/3"]
    assert origins["batches"] == [f"{A}batch/A-1", f"{A}batch/A-2"]
    assert origins["exports"] == [f"{A}export/1"] and origins["sites"] == [f"{A}site"]
    assert origins["raw_data"] == ["http://site-a.example/batches/A-1",
                                   "http://site-a.example/batches/A-2"]
    assert "urn:twinfed:bundle:A-1-bundle" in origins["sources"]
    batch = next(n for n in body["nodes"] if n["iri"] == f"{A}batch/A-1")
    assert batch["graphs"][0]["site"] == "SITE-A"
    assert batch["graphs"][0]["export_hash"] == "sha256:aa"
    assert body["truncated"] is False and body["queries"] <= 8


def test_trace_is_scoped_to_the_caller(fed: dict) -> None:
    response = _get(fed, "qa-beta", "/trace", params={"iri": FINDING})
    assert response.status_code == 404
    assert "you may see" in response.json()["detail"]
    beta_batch = _get(fed, "qa-acme", "/trace", params={"iri": f"{B}batch/B-1"})
    assert beta_batch.status_code == 404


@pytest.mark.parametrize("iri", ["not an iri", "http://x/> } ; DROP ALL ; <y",
                                 "relative/path", "http://x/\u0000"])
def test_trace_refuses_iris_that_could_inject_sparql(fed: dict, iri: str) -> None:
    response = _get(fed, "qa-acme", "/trace", params={"iri": iri})
    assert response.status_code == 422 and "absolute IRI" in response.json()["detail"]


# -- limits -----------------------------------------------------------------------------
def test_a_streamed_body_over_the_limit_is_refused_with_413(fed: dict) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 65536  # 2.5 MiB, no Content-Length: only streaming can catch it

    response = httpx.post(fed["url"] + "/sparql", content=chunks(), timeout=30,
                          headers={"Authorization": f"Bearer {fed['tokens']['qa-acme']}",
                                   "Content-Type": "application/sparql-query"})
    assert response.status_code == 413
    assert "MiB" in response.json()["detail"]


def test_a_declared_body_over_the_limit_is_refused_with_413(fed: dict) -> None:
    response = httpx.post(fed["url"] + "/sparql", content=b"x" * (2 * 2**20), timeout=30,
                          headers={"Authorization": f"Bearer {fed['tokens']['qa-acme']}",
                                   "Content-Type": "application/sparql-query"})
    assert response.status_code == 413


def test_a_query_over_the_text_limit_is_refused(tmp_path: Path) -> None:
    settings = FederationSettings(data=tmp_path, admin_token=ADMIN, max_query_chars=100)
    with serve(create_app(settings)) as url:
        response = httpx.get(url + "/sparql", params={"query": "ASK {}" + " " * 200},
                             headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 413 and "100 characters" in response.json()["detail"]


def test_a_credential_over_its_rate_is_told_when_to_retry(tmp_path: Path) -> None:
    settings = FederationSettings(data=tmp_path, admin_token=ADMIN, rate_limit_per_min=60,
                                  rate_limit_burst=5)
    with serve(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        codes = [client.get("/sites", headers={"Authorization": f"Bearer {ADMIN}"}
                            ).status_code for _ in range(8)]
        other = client.get("/sites", headers={"Authorization": "Bearer someone-else"})
        limited = client.get("/sites", headers={"Authorization": f"Bearer {ADMIN}"})
    assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3
    assert other.status_code == 401  # another credential has its own budget
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert "retry in" in limited.json()["detail"]


def test_deeply_nested_json_is_a_clear_problem(fed: dict) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = httpx.post(fed["url"] + "/users", content=body, timeout=30,
                          headers={"Authorization": f"Bearer {ADMIN}",
                                   "Content-Type": "application/json"})
    assert response.status_code == 400 and "Traceback" not in response.text
    assert "nested too deeply" in response.json()["detail"]


# -- audit --------------------------------------------------------------------------------
def test_actions_of_record_are_audited_without_secrets(fed: dict) -> None:
    _select(fed, "qa-acme", _IDS)
    _get(fed, "auditor", "/trace", params={"iri": FINDING})
    httpx.get(fed["url"] + "/sites", headers={"Authorization": "Bearer wrong-token-x"})
    entries = _get(fed, "auditor", "/audit", params={"limit": 5000}).json()
    actions = {(e["actor"], e["action"]) for e in entries}
    assert ("admin", "user.create") in actions and ("admin", "site.register") in actions
    assert ("qa-acme", "query.sparql") in actions and ("auditor", "query.trace") in actions
    assert ("qa-acme", "auth.token-use") in actions and ("anonymous", "auth.refused") in actions
    assert ("eng-acme", "query.sparql") not in actions  # engineers' queries are not of record
    text = (fed["data"] / "audit.jsonl").read_text()
    for token in fed["tokens"].values():
        assert token not in text
    assert _get(fed, "auditor", "/audit/verify").json()["intact"] is True


class _Ran:
    def __init__(self, returncode: int, stdout: str) -> None:
        self.returncode, self.stdout = returncode, stdout


def _cli(*args: str) -> _Ran:
    """``twinfed federation audit ...`` in-process (a fresh interpreter takes seconds)."""
    result = CliRunner().invoke(audit_app, list(args), env={"COLUMNS": "300"})
    return _Ran(result.exit_code, result.output)


def test_audit_verify_says_where_the_log_was_altered(fed: dict, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_bytes((fed["data"] / "audit.jsonl").read_bytes())
    (tmp_path / "audit.jsonl.head").write_bytes((fed["data"] / "audit.jsonl.head").read_bytes())
    intact = _cli("verify", "--data", str(tmp_path))
    assert intact.returncode == 0 and "intact" in intact.stdout
    lines = log.read_text().splitlines()
    entry = json.loads(lines[3])
    entry["actor"] = "someone-else"
    lines[3] = json.dumps(entry, sort_keys=True)
    log.write_text("\n".join(lines) + "\n")
    altered = _cli("verify", "--data", str(tmp_path))
    assert altered.returncode == 1
    assert "entry 4 (line 4)" in altered.stdout and "field actor changed" in altered.stdout
    del lines[6]  # deleting an entry is caught too
    log.write_text("\n".join(lines) + "\n")
    assert "1 entry before it missing" in _cli("verify", "--data", str(tmp_path)).stdout
    listed = _cli("list", "--data", str(tmp_path), "--action", "user")
    assert listed.returncode == 0 and "user.create" in listed.stdout


def test_cutting_entries_off_the_end_is_caught(fed: dict, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    lines = (fed["data"] / "audit.jsonl").read_text().splitlines()
    log.write_text("\n".join(lines[:-2]) + "\n")
    (tmp_path / "audit.jsonl.head").write_bytes((fed["data"] / "audit.jsonl.head").read_bytes())
    result = _cli("verify", "--data", str(tmp_path))
    assert result.returncode == 1 and "cut off the end" in result.stdout


def test_refusal_texts_are_withheld_from_sponsor_scoped_users(fed: dict) -> None:
    site = httpx.Client(base_url=fed["url"], timeout=60,
                        headers={"Authorization": f"Bearer {fed['tokens']['site']}"})
    push = {"push_id": "refused-push-1", "site": "SITE-A", "since_rev": 0, "to_rev": 1,
            "created_at": datetime.now(UTC).isoformat(), "software_version": "t",
            "meta_graph": f"{A}meta", "meta_sha256": "0" * 64, "meta_content_sha256": "0" * 64,
            "meta_nquads": "", "batches": [], "deleted_batches": []}
    assert site.post("/sync/SITE-A/pushes", json=push).status_code == 422
    site.close()
    mine = _get(fed, "qa-acme", "/sites/SITE-A/pushes").json()
    everything = _get(fed, "auditor", "/sites/SITE-A/pushes").json()
    assert "sha256" in everything[0]["detail"] and mine[0]["detail"].startswith("withheld")
    status = {s["code"]: s for s in _get(fed, "qa-acme", "/sites").json()}["SITE-A"]
    assert status["failures"] == 1 and status["last_failure"].startswith("withheld")
