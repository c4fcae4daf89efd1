"""Process a site's push: authorise, check, validate (SHACL), align, store atomically, ack.

Order matters for "old or new, never a mix": nothing is written until every graph of the
push has passed every check; then all of them (batch graphs, the split meta graphs and
their metadata) are replaced in one atomic store step; only then is the push recorded and
acknowledged. A crash between the store step and the ledger leaves the new graphs stored
and the push unacknowledged: the site's retry carries the same push id and content, finds
the graphs already current, and is acknowledged without a second write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox
from rdflib import Dataset, Graph, URIRef

from bioprocess.errors import ConflictError, ValidationError
from federation.align import align_batch_graph, align_meta_graph, load_alignment
from federation.audit import AuditLog
from federation.registry.service import ForbiddenError, Principal, Registry
from federation.store.base import GraphMetadata, Store
from federation.sync.split import split_meta
from ontology import TF, site_base
from protocol.sync import SyncAck, SyncPush, SyncState, sha256_hex
from shapes import validate

log = logging.getLogger("twinfed.federation.sync")


def batch_graph_iri(site: str, batch_id: str) -> str:
    return f"{site_base(site)}batch/{quote(batch_id, safe='-._~')}"


def meta_graph_iri(site: str, sponsor: str | None = None) -> str:
    base = f"{site_base(site)}meta"
    return base if sponsor is None else f"{base}/sponsor/{quote(sponsor, safe='-._~')}"


@dataclass(frozen=True)
class _Checked:
    batch_id: str
    rev: int
    iri: str
    sha256: str
    graph: Graph
    sponsor: str


def _parse_graph(nquads: str, expected_graph: str, what: str, into: Graph) -> Graph:
    """Parse N-Quads (Oxigraph: fast, strict) into ``into``; every quad must be in
    ``expected_graph``."""
    try:
        quads = list(ox.parse(nquads.encode("utf-8"), format=ox.RdfFormat.N_QUADS))
    except SyntaxError as exc:
        raise ValidationError(f"{what}: not valid N-Quads: {exc}") from exc
    wrong = [q for q in quads if not isinstance(q.graph_name, ox.NamedNode)
             or q.graph_name.value != expected_graph]
    if wrong:
        raise ValidationError(f"{what}: every quad must be in graph <{expected_graph}>; found "
                              f"{len(wrong)} quads in {wrong[0].graph_name}")
    body = "".join(f"{q.subject} {q.predicate} {q.object} .\n" for q in quads)
    into.parse(data=body, format="nt")
    return into


class SyncService:
    """The federation side of the sync protocol."""

    def __init__(self, registry: Registry, store: Store,
                 alignments_dir: Path | None = None, audit: AuditLog | None = None) -> None:
        self.registry = registry
        self.store = store
        self.alignments_dir = alignments_dir
        self.audit = audit

    def _audit(self, principal: Principal, push: SyncPush, outcome: str, **details: object
               ) -> None:
        if self.audit is not None:
            self.audit.record(principal.name, "sync.push", push.site, {
                "push_id": push.push_id, "outcome": outcome, "since_rev": push.since_rev,
                "to_rev": push.to_rev, "batches_sent": len(push.batches),
                "deleted_sent": len(push.deleted_batches), **details})

    def state(self, principal: Principal, site: str) -> SyncState:
        self._authorise(principal, site, read=True)
        status = self.registry.site_status(site)
        metadata = self.store.graph_metadata()
        batches = len([g for g, m in metadata.items() if m.site == site and m.kind == "batch"])
        meta = metadata.get(meta_graph_iri(site))
        meta_hash = meta.export_hash.removeprefix("sha256:") if meta and meta.export_hash \
            else None
        return SyncState(site=site, acknowledged_rev=status.acknowledged_rev,
                         last_push_at=status.last_push_at, batches=batches,
                         meta_content_sha256=meta_hash)

    def _authorise(self, principal: Principal, site: str, *, read: bool = False) -> None:
        if principal.is_site:
            if principal.site != site:
                raise ForbiddenError(f"the credential of site '{principal.site}' may write only "
                                     f"its own graphs, not those of site '{site}'")
            return
        if read and principal.roles & {"admin", "site_admin", "auditor"}:
            return
        raise ForbiddenError("only the site's own credential may push to a site")

    def push(self, principal: Principal, site: str, push: SyncPush) -> SyncAck:
        self._authorise(principal, site)
        if push.site != site:
            raise ValidationError(f"push.site must be '{site}' (the URL's site); got "
                                  f"'{push.site}' instead")
        replayed = self._replay(principal, site, push)
        if replayed is not None:
            return replayed
        meta = self.store.graph_metadata([meta_graph_iri(site)]).get(meta_graph_iri(site))
        previous_alignment = meta.alignment_version if meta else None
        try:
            ack = self._store_push(site, push)
        except ValidationError as exc:
            self.registry.record_push(site, push.push_id, outcome="refused",
                                      since_rev=push.since_rev, to_rev=push.to_rev,
                                      batches=len(push.batches),
                                      deleted=len(push.deleted_batches), detail=str(exc)[:2000])
            self._audit(principal, push, "refused", reason=str(exc)[:500])
            raise
        self._audit(principal, push, "stored", batches_stored=ack.batches_stored,
                    batches_deleted=ack.batches_deleted, acknowledged_rev=ack.acknowledged_rev,
                    alignment_version=ack.alignment_version)
        if self.audit is not None and ack.alignment_version != previous_alignment:
            self.audit.record(principal.name, "alignment.change", site, {
                "from": previous_alignment, "to": ack.alignment_version,
                "push_id": push.push_id})
        return ack

    def _replay(self, principal: Principal, site: str, push: SyncPush) -> SyncAck | None:
        """Replay protection: a no-op ack for a push already applied (same id and content,
        or wholly older than what is acknowledged), a refusal for a reused id with other
        content or a push that would leave a gap; None when the push is new."""
        digest = push_digest(push)
        status = self.registry.site_status(site)
        noop = SyncAck(push_id=push.push_id, site=site, outcome="duplicate",
                       acknowledged_rev=status.acknowledged_rev, batches_stored=0,
                       batches_deleted=0)
        if self.registry.push_outcome(site, push.push_id) == "stored":
            known = self.registry.push_receipt(site, push.push_id)
            if known is not None and known != digest:
                self._audit(principal, push, "refused-reused-id")
                raise ConflictError(f"push id '{push.push_id}' was already used for a push "
                                    "with other content; a new push needs a new id")
            self._audit(principal, push, "duplicate")
            return noop
        if push.since_rev > status.acknowledged_rev:
            self._audit(principal, push, "refused-out-of-order",
                        acknowledged_rev=status.acknowledged_rev)
            raise ConflictError(
                f"push starts after revision {push.since_rev}, but the federation has "
                f"acknowledged only revision {status.acknowledged_rev}: send the changes "
                f"since {status.acknowledged_rev} first (nothing of this push was stored)")
        last_created = self.registry.last_push_created_at(site)
        if push.to_rev < status.acknowledged_rev or (
                push.to_rev == status.acknowledged_rev and last_created is not None
                and push.created_at.astimezone(UTC) < last_created):
            self._audit(principal, push, "stale-replay",
                        acknowledged_rev=status.acknowledged_rev)
            return noop
        return None

    def _check(self, site: str, push: SyncPush) -> tuple[Graph, list[_Checked]]:
        expected_meta = meta_graph_iri(site)
        if push.meta_graph != expected_meta:
            raise ValidationError(f"meta_graph must be <{expected_meta}>; got "
                                  f"<{push.meta_graph}> instead")
        if sha256_hex(push.meta_nquads) != push.meta_sha256:
            raise ValidationError("meta graph: content does not match its sha256 (corrupted "
                                  "in transit?)")
        # One dataset, parsed once: SHACL sees the union, alignment reads each graph in place.
        dataset = Dataset()
        meta = _parse_graph(push.meta_nquads, expected_meta, "meta graph",
                            dataset.graph(URIRef(expected_meta)))
        checked = []
        for item in push.batches:
            what = f"batch {item.batch_id}"
            expected = batch_graph_iri(site, item.batch_id)
            if item.graph != expected:
                raise ValidationError(f"{what}: graph must be <{expected}> (a site writes only "
                                      f"its own graphs); got <{item.graph}> instead")
            if sha256_hex(item.nquads) != item.sha256:
                raise ValidationError(f"{what}: content does not match its sha256")
            graph = _parse_graph(item.nquads, expected, what, dataset.graph(URIRef(expected)))
            sponsor_iri = graph.value(URIRef(expected), TF.sponsor)
            if sponsor_iri is None:
                raise ValidationError(f"{what}: the batch names no sponsor (tf:sponsor)")
            sponsor = meta.value(sponsor_iri, TF.sponsorCode)
            if sponsor is None:
                raise ValidationError(f"{what}: sponsor <{sponsor_iri}> is not described in "
                                      "the meta graph")
            checked.append(_Checked(item.batch_id, item.rev, expected, item.sha256, graph,
                                    str(sponsor)))
        report = validate(dataset)
        if not report.conforms:
            raise ValidationError("push refused by SHACL validation at the federation: "
                                  + report.text)
        return meta, checked

    def _current(self, checked: list[_Checked]
                 ) -> dict[str, tuple[int, str | None, str | None]]:
        """Stored revision, export hash and alignment version of each batch graph of the
        push (an identical batch aligned with an older alignment is aligned again)."""
        if not checked:
            return {}
        stored = self.store.graph_metadata([c.iri for c in checked])
        present = list(stored)
        revs: dict[str, int] = {}
        if present:
            result = self.store.query(
                f"SELECT ?g ?rev WHERE {{ GRAPH ?g {{ ?b <{TF.siteRevision}> ?rev }} }}",
                graphs=present)
            revs = {str(row[0].value): int(row[1].value) for row in result.rows}
        return {iri: (revs.get(iri, 0), stored[iri].export_hash,
                      stored[iri].alignment_version) for iri in present}

    def _store_push(self, site: str, push: SyncPush) -> SyncAck:
        meta, checked = self._check(site, push)
        alignment = load_alignment(site, self.alignments_dir)
        current = self._current(checked)
        received = datetime.now(UTC)
        graphs: dict[str, bytes] = {}
        metadata: dict[str, GraphMetadata] = {}
        unmapped: set[str] = set()
        stored = 0
        for c in checked:
            rev, export_hash, aligned_with = current.get(c.iri, (0, None, None))
            if rev > c.rev or (rev == c.rev and export_hash == f"sha256:{c.sha256}"
                               and aligned_with == alignment.version):
                continue  # a replay of an older or identical version: keep what is stored
            result = align_batch_graph(c.graph, meta, alignment)
            unmapped |= {f"tag {t}" for t in result.unmapped_tags}
            unmapped |= {f"failure mode {t}" for t in result.unmapped_failure_modes}
            unmapped |= {f"quality attribute {t}" for t in result.unmapped_attributes}
            graphs[c.iri] = _nquads(result.graph, c.iri)
            metadata[c.iri] = GraphMetadata(site=site, sponsor=c.sponsor,
                                            export_hash=f"sha256:{c.sha256}",
                                            received_at=received,
                                            alignment_version=alignment.version, kind="batch")
            stored += 1
        neutral, by_sponsor = split_meta(align_meta_graph(meta, alignment))
        meta_iri = meta_graph_iri(site)
        graphs[meta_iri] = _nquads(neutral, meta_iri)
        metadata[meta_iri] = GraphMetadata(site=site,
                                           export_hash=f"sha256:{push.meta_content_sha256}",
                                           received_at=received,
                                           alignment_version=alignment.version,
                                           kind="site-meta")
        for sponsor, graph in by_sponsor.items():
            iri = meta_graph_iri(site, sponsor)
            graphs[iri] = _nquads(graph, iri)
            metadata[iri] = GraphMetadata(site=site, sponsor=sponsor,
                                          export_hash=f"sha256:{push.meta_content_sha256}",
                                          received_at=received,
                                          alignment_version=alignment.version,
                                          kind="sponsor-meta")
        deleted = [batch_graph_iri(site, b) for b in push.deleted_batches]
        self.store.replace_graphs(graphs, metadata, delete=deleted)
        self.registry.record_push(site, push.push_id, outcome="stored",
                                  since_rev=push.since_rev, to_rev=push.to_rev,
                                  batches=stored, deleted=len(deleted),
                                  digest=push_digest(push), created_at=push.created_at)
        log.info("push %s from %s: %d batches stored, %d deleted", push.push_id, site, stored,
                 len(deleted))
        return SyncAck(push_id=push.push_id, site=site, outcome="stored",
                       acknowledged_rev=self.registry.site_status(site).acknowledged_rev,
                       batches_stored=stored, batches_deleted=len(deleted),
                       unmapped=sorted(unmapped), alignment_version=alignment.version)


def push_digest(push: SyncPush) -> str:
    """What a push carries, independent of when it was built (retries rebuild it)."""
    parts = [push.site, str(push.since_rev), str(push.to_rev), push.meta_content_sha256]
    parts += [f"{b.batch_id}@{b.rev}:{b.sha256}" for b in push.batches]
    parts += [f"-{b}" for b in push.deleted_batches]
    return sha256_hex("|".join(parts))


def _nquads(graph: Graph, iri: str) -> bytes:
    """A graph's triples as N-Quads in graph ``iri`` (rdflib keeps full lexical forms)."""
    body = graph.serialize(format="nt", encoding="utf-8")
    suffix = f" <{iri}> .\n".encode()
    lines = [line[:-2] + suffix for line in body.splitlines(keepends=True) if line.strip()]
    return b"".join(lines)
