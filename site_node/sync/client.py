"""The sync client: ask the federation where it stands, export what changed, push it.

The push id is derived from the content (site, revision range, every graph's hash), so a
retry after a crash or a dropped connection sends the same id and the federation treats it
as a no-op.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from neo4j import Driver
from rdflib import RDF, Dataset
from rdflib.namespace import PROV

from bioprocess.errors import StoreUnavailableError, TwinfedError, ValidationError
from ontology import TF
from protocol.sync import BatchGraph, SyncAck, SyncPush, SyncState, sha256_hex
from site_node.export.builder import SiteIris
from site_node.export.service import SiteExport, export_site

#: Batches per push: keeps each request well under the federation's size limit.
BATCHES_PER_PUSH = 50


@dataclass(frozen=True)
class SyncResult:
    site: str
    pushes: list[SyncAck]
    acknowledged_rev: int
    seconds: float

    @property
    def batches(self) -> int:
        return sum(a.batches_stored for a in self.pushes)


def _graph_nquads(dataset: Dataset, graph_iri: str) -> str:
    graph = dataset.graph(graph_iri)
    quads = Dataset()
    target = quads.graph(graph.identifier)
    target += graph
    return quads.serialize(format="nquads")


def meta_content_hash(dataset: Dataset, meta_iri: str) -> str:
    """SHA-256 of the meta graph without the export activity (sorted N-Triples lines)."""
    graph = dataset.graph(meta_iri)
    activities = set(graph.subjects(RDF.type, PROV.Activity))
    lines = sorted(f"{s.n3()} {p.n3()} {o.n3()} ." for s, p, o in graph
                   if s not in activities and o not in activities)
    return sha256_hex("\n".join(lines))


def build_pushes(export: SiteExport, site_code: str, since_rev: int,
                 software_version: str, *, known_meta_hash: str | None = None
                 ) -> list[SyncPush]:
    """Split an export into pushes of at most :data:`BATCHES_PER_PUSH` batches.

    No push at all when there is no batch to send and the federation already holds this
    meta content (``known_meta_hash``): a sync that would change nothing sends nothing.
    """
    iris = SiteIris(site_code)
    meta_iri = str(iris.meta_graph)
    content_hash = meta_content_hash(export.dataset, meta_iri)
    if not export.batch_ids and not export.deleted and content_hash == known_meta_hash:
        return []
    meta = _graph_nquads(export.dataset, meta_iri)
    revs = {}
    for graph in export.dataset.graphs():
        if str(graph.identifier) == meta_iri:
            continue
        for _, _, rev in graph.triples((None, TF.siteRevision, None)):
            revs[str(graph.identifier)] = int(rev)
    batches = []
    for batch_id in export.batch_ids:
        iri = str(iris.batch_graph(batch_id))
        nquads = _graph_nquads(export.dataset, iri)
        batches.append(BatchGraph(batch_id=batch_id, rev=revs[iri], graph=iri,
                                  sha256=sha256_hex(nquads), nquads=nquads))
    batches.sort(key=lambda b: b.rev)
    pushes = []
    lower = since_rev
    deleted_ids = [batch_id for batch_id, _ in export.deleted]
    last_deletion = max((rev for _, rev in export.deleted), default=since_rev)
    for start in range(0, max(len(batches), 1), BATCHES_PER_PUSH):
        chunk = batches[start:start + BATCHES_PER_PUSH]
        is_last = start + BATCHES_PER_PUSH >= len(batches)
        upper = chunk[-1].rev if chunk else since_rev
        if is_last:  # deletions travel with the last push, which acknowledges their revisions
            upper = max(upper, last_deletion)
        gone = deleted_ids if is_last else []
        content = "|".join([site_code, str(lower), str(upper), content_hash]
                           + [b.sha256 for b in chunk] + [f"-{b}" for b in gone])
        pushes.append(SyncPush(
            push_id=sha256_hex(content)[:40], site=site_code, since_rev=lower, to_rev=upper,
            created_at=datetime.now(UTC), software_version=software_version,
            meta_graph=meta_iri, meta_sha256=sha256_hex(meta),
            meta_content_sha256=content_hash, meta_nquads=meta,
            batches=chunk, deleted_batches=gone))
        lower = upper
    return pushes


class FederationClient:
    """HTTP client of the federation's sync API, under the site's credential."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 120.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                  headers={"Authorization": f"Bearer {token}"},
                                  transport=transport)
        self.base_url = base_url

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError as exc:
            raise StoreUnavailableError(
                f"cannot reach the federation at {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            error = ValidationError if response.status_code in (400, 409, 413, 422) else \
                TwinfedError
            raise error(f"federation refused {method} {path} "
                        f"({response.status_code}): {detail}")
        return response

    def state(self, site: str) -> SyncState:
        return SyncState.model_validate(self._call("GET", f"/sync/{site}/state").json())

    def push(self, push: SyncPush) -> SyncAck:
        body = push.model_dump_json().encode()
        response = self._call("POST", f"/sync/{push.site}/pushes", content=body,
                              headers={"Content-Type": "application/json"})
        return SyncAck.model_validate(response.json())


def sync_site(driver: Driver, client: FederationClient, *, site_code: str, api_base: str,
              software_version: str, database: str | None = None,
              retries: int = 3) -> SyncResult:
    """Push every batch changed since the federation's acknowledged revision."""
    started = time.perf_counter()
    state = client.state(site_code)
    export = export_site(driver, site_code=site_code, api_base=api_base,
                         software_version=software_version, since_rev=state.acknowledged_rev,
                         database=database)
    acks = []
    for push in build_pushes(export, site_code, state.acknowledged_rev, software_version,
                             known_meta_hash=state.meta_content_sha256):
        for attempt in range(retries + 1):
            try:
                acks.append(client.push(push))
                break
            except StoreUnavailableError:
                if attempt == retries:
                    raise
                time.sleep(min(2**attempt, 10))  # same push id: a retry is a no-op
    acknowledged = acks[-1].acknowledged_rev if acks else state.acknowledged_rev
    return SyncResult(site=site_code, pushes=acks, acknowledged_rev=acknowledged,
                      seconds=time.perf_counter() - started)
