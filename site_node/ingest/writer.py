"""Write one checked batch to Neo4j in one transaction: all of it or none of it.

Bulk data go in as arrays with ``UNWIND`` (a handful of statements per batch, never one
per sample). The site's revision counter lives on the ``Site`` node; bumping it first
takes that node's write lock, so concurrent ingests are serialised and ``rev`` is
monotonic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
from neo4j import Driver, ManagedTransaction

from bioprocess.errors import NotFoundError
from site_node.graph.model import OWNED_RELATIONSHIPS
from site_node.ingest.reader import ParsedBatch

#: Spectra per ``SpectrumChunk`` node (keeps each node's arrays to a few MB).
CHUNK_SPECTRA = 100
#: Intensities travel and rest as packed little-endian doubles: lossless, and ~5x faster
#: through Bolt than a list of boxed floats (measured in ``benchmarks/ingest.py``).
SPECTRUM_ENCODING = "float64-le"


def encode_intensities(block: np.ndarray) -> bytes:
    """Row-major ``(n_spectra, n_channels)`` block as little-endian float64 bytes."""
    return np.ascontiguousarray(block, dtype="<f8").tobytes()


def decode_intensities(values: bytes, n_channels: int) -> np.ndarray:
    """Inverse of :func:`encode_intensities`."""
    return np.frombuffer(values, dtype="<f8").reshape(-1, n_channels)

Outcome = Literal["stored", "replaced", "unchanged"]

_OWNED = "|".join(OWNED_RELATIONSHIPS)


@dataclass(frozen=True)
class WriteResult:
    batch_id: str
    outcome: Outcome
    rev: int
    points: int


def write_batch(driver: Driver, batch: ParsedBatch, *, database: str | None = None) -> WriteResult:
    """Store ``batch`` atomically; identical content already stored is left untouched."""
    with driver.session(database=database) as session:
        return session.execute_write(_write, batch)


def _write(tx: ManagedTransaction, batch: ParsedBatch) -> WriteResult:
    manifest = batch.manifest
    # Lock the site first: serialises writers and makes the hash check race-free.
    tx.run("MERGE (s:Site {code: $code}) ON CREATE SET s.rev = 0 "
           "SET s.name = coalesce($name, s.name), s.rev = coalesce(s.rev, 0)",
           code=manifest.site.code, name=manifest.site.name)
    existing = tx.run("OPTIONAL MATCH (b:Batch {batch_id: $id}) "
                      "RETURN b.content_hash AS hash, b.rev AS rev",
                      id=batch.batch_id).single()
    if existing is not None and existing["hash"] == batch.content_hash:
        return WriteResult(batch.batch_id, "unchanged", existing["rev"], 0)
    replaced = existing is not None and existing["hash"] is not None
    rev = tx.run("MATCH (s:Site {code: $code}) SET s.rev = s.rev + 1 RETURN s.rev AS rev",
                 code=manifest.site.code).single()["rev"]
    if replaced:
        _delete_subgraph(tx, batch.batch_id)
    tx.run("MATCH (t:Tombstone {batch_id: $id}) DELETE t", id=batch.batch_id)  # re-created
    _write_context(tx, batch)
    _write_batch_node(tx, batch, rev)
    _write_series(tx, batch)
    _write_lab(tx, batch)
    _write_spectra(tx, batch)
    _write_events(tx, batch)
    return WriteResult(batch.batch_id, "replaced" if replaced else "stored", rev, batch.n_points)


def _delete_subgraph(tx: ManagedTransaction, batch_id: str) -> None:
    tx.run(f"MATCH (b:Batch {{batch_id: $id}}) "
           f"OPTIONAL MATCH (b)-[:{_OWNED}*1..2]->(owned) "
           f"DETACH DELETE owned, b", id=batch_id)


def delete_batch(driver: Driver, site_code: str, batch_id: str, reason: str, *,
                 database: str | None = None) -> int:
    """Delete a batch in one transaction and leave a tombstone (the next sync propagates it).

    Returns the site revision of the deletion; raises ``NotFoundError`` for an unknown batch.
    """
    def work(tx: ManagedTransaction) -> int:
        tx.run("MATCH (s:Site {code: $code}) SET s.rev = s.rev", code=site_code)  # lock
        if tx.run("MATCH (b:Batch {batch_id: $id}) RETURN b", id=batch_id).single() is None:
            raise NotFoundError(f"batch '{batch_id}' is not stored at this site")
        rev = tx.run("MATCH (s:Site {code: $code}) SET s.rev = s.rev + 1 RETURN s.rev AS rev",
                     code=site_code).single()["rev"]
        _delete_subgraph(tx, batch_id)
        tx.run("MERGE (t:Tombstone {batch_id: $id}) SET t.rev = $rev, t.reason = $reason, "
               "t.deleted_at = $now", id=batch_id, rev=rev, reason=reason,
               now=datetime.now(UTC))
        return rev

    with driver.session(database=database) as session:
        return session.execute_write(work)


def _write_context(tx: ManagedTransaction, batch: ParsedBatch) -> None:
    m = batch.manifest
    tx.run(
        "MERGE (sp:Sponsor {code: $sponsor}) SET sp.name = coalesce($sponsor_name, sp.name) "
        "MERGE (pr:Product {code: $product}) SET pr.name = coalesce($product_name, pr.name) "
        "MERGE (sp)-[:OWNS_PRODUCT]->(pr) "
        "MERGE (p:Process {key: $key}) "
        "SET p.code = $process, p.version = $version, p.name = coalesce($process_name, p.name) "
        "MERGE (pr)-[:HAS_PROCESS]->(p)",
        sponsor=m.sponsor.code, sponsor_name=m.sponsor.name, product=m.product.code,
        product_name=m.product.name, key=m.process.key, process=m.process.code,
        version=m.process.version, process_name=m.process.name,
    )
    tx.run(
        "UNWIND $tags AS tag MERGE (t:Tag {name: tag.name}) "
        "SET t.unit = tag.unit, t.kind = tag.kind, t.description = tag.description",
        tags=[t.model_dump() for t in batch.tags_used],
    )
    tx.run(
        "UNWIND $equipment AS e MERGE (q:Equipment {equipment_id: e.equipment_id}) "
        "SET q.kind = e.kind, q.working_volume_l = e.working_volume_l, "
        "q.attributes = e.attributes",
        equipment=[{"equipment_id": e.equipment_id, "kind": e.kind,
                    "working_volume_l": e.working_volume_l,
                    "attributes": _json(e.attributes)} for e in batch.equipment_used],
    )


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True)


def _write_batch_node(tx: ManagedTransaction, batch: ParsedBatch, rev: int) -> None:
    m, e = batch.manifest, batch.entry
    tx.run(
        "MATCH (s:Site {code: $site}) MATCH (p:Process {key: $key}) "
        "CREATE (b:Batch {batch_id: $id, site: $site, process: $process_code, "
        "  process_version: $version, sponsor: $sponsor, product: $product, scale_l: $scale, "
        "  start: $start, end: $end, status: $status, rev: $rev, content_hash: $hash, "
        "  source: $source, ingested_at: $now}) "
        "CREATE (b)-[:AT_SITE]->(s) CREATE (b)-[:OF_PROCESS]->(p)",
        site=m.site.code, key=m.process.key, id=e.batch_id, process_code=m.process.code,
        version=m.process.version, sponsor=m.sponsor.code, product=m.product.code,
        scale=e.scale_l, start=e.start.astimezone(UTC),
        end=e.end.astimezone(UTC) if e.end else None, status=e.status, rev=rev,
        hash=batch.content_hash, source=batch.source, now=datetime.now(UTC),
    )
    tx.run(
        "MATCH (b:Batch {batch_id: $id}) UNWIND $ops AS op "
        "CREATE (b)-[:HAS_UNIT_OPERATION]->(u:UnitOperation {kind: op.kind, start: op.start, "
        "  end: op.end}) "
        "WITH u, op UNWIND op.equipment AS eid MATCH (q:Equipment {equipment_id: eid}) "
        "CREATE (u)-[:USES_EQUIPMENT]->(q)",
        id=e.batch_id,
        ops=[{"kind": u.kind, "start": u.start.astimezone(UTC),
              "end": u.end.astimezone(UTC) if u.end else None, "equipment": u.equipment}
             for u in e.unit_operations],
    )


def _write_series(tx: ManagedTransaction, batch: ParsedBatch) -> None:
    tx.run(
        "MATCH (b:Batch {batch_id: $id}) UNWIND $series AS s MATCH (t:Tag {name: s.tag}) "
        "CREATE (b)-[:HAS_SERIES]->(ts:TimeSeries {tag: s.tag, unit: s.unit, t: s.t, v: s.v, "
        "  n: size(s.t)})-[:OF_TAG]->(t)",
        id=batch.batch_id,
        series=[{"tag": s.tag, "unit": s.unit, "t": s.t_h.tolist(), "v": s.values.tolist()}
                for s in batch.series],
    )


def _write_lab(tx: ManagedTransaction, batch: ParsedBatch) -> None:
    tx.run(
        "MATCH (b:Batch {batch_id: $id}) UNWIND $rows AS r MATCH (t:Tag {name: r.analyte}) "
        "CREATE (b)-[:HAS_LAB_RESULT]->(:LabResult {analyte: r.analyte, value: r.value, "
        "  unit: r.unit, sampled_at: r.sampled_at, t_h: r.t_h})-[:OF_TAG]->(t)",
        id=batch.batch_id,
        rows=[{"analyte": r.analyte, "value": r.value, "unit": r.unit,
               "sampled_at": r.sampled_at, "t_h": r.t_h} for r in batch.lab],
    )


def _write_spectra(tx: ManagedTransaction, batch: ParsedBatch) -> None:
    spectra = batch.spectra
    if spectra is None:
        return
    chunks = []
    for index, begin in enumerate(range(0, spectra.t_h.size, CHUNK_SPECTRA)):
        end = begin + CHUNK_SPECTRA
        chunks.append({"index": index, "t": spectra.t_h[begin:end].tolist(),
                       "values": encode_intensities(spectra.intensities[begin:end])})
    tx.run(
        "MATCH (b:Batch {batch_id: $id}) "
        "CREATE (b)-[:HAS_SPECTRA]->(ss:SpectrumSet {instrument: $instrument, "
        "  wavenumbers: $wavenumbers, n: $n, channels: size($wavenumbers), "
        "  encoding: $encoding}) "
        "WITH ss UNWIND $chunks AS c "
        "CREATE (ss)-[:HAS_CHUNK]->(:SpectrumChunk {index: c.index, t: c.t, values: c.values})",
        id=batch.batch_id, instrument=spectra.instrument,
        wavenumbers=spectra.wavenumbers.tolist(), n=int(spectra.t_h.size), chunks=chunks,
        encoding=SPECTRUM_ENCODING,
    )


def _write_events(tx: ManagedTransaction, batch: ParsedBatch) -> None:
    declared = {u.kind for u in batch.entry.unit_operations}
    implicit = sorted({p.unit_operation for p in batch.phases} - declared)
    # Phases of a batch that declares no unit operation hang off an implicit one.
    tx.run(
        "MATCH (b:Batch {batch_id: $id}) UNWIND $kinds AS kind "
        "CREATE (b)-[:HAS_UNIT_OPERATION]->(:UnitOperation {kind: kind, start: b.start, "
        "  end: b.end, implicit: true})",
        id=batch.batch_id, kinds=implicit,
    )
    tx.run(
        "MATCH (b:Batch {batch_id: $id}) UNWIND $phases AS ph "
        "MATCH (b)-[:HAS_UNIT_OPERATION]->(u:UnitOperation {kind: ph.unit_operation}) "
        "CREATE (u)-[:HAS_PHASE]->(:Phase {name: ph.name, start_h: ph.start_h, "
        "  end_h: ph.end_h})",
        id=batch.batch_id,
        phases=[{"unit_operation": p.unit_operation, "name": p.name, "start_h": p.start_h,
                 "end_h": p.end_h} for p in batch.phases],
    )
    tx.run(
        "MATCH (b:Batch {batch_id: $id}) UNWIND $deviations AS d "
        "CREATE (b)-[:HAS_DEVIATION]->(dev:Deviation {deviation_id: d.deviation_id, "
        "  opened_at: d.opened_at, category: d.category, description: d.description, "
        "  root_cause: d.root_cause, status: d.status, failure_mode: d.failure_mode}) "
        "WITH dev, d UNWIND d.capa AS c "
        "CREATE (dev)-[:HAS_CAPA]->(:CAPA {capa_id: c.capa_id, action: c.action, "
        "  effective: c.effective})",
        id=batch.batch_id,
        deviations=[{**d.model_dump(exclude={"opened_at", "capa"}),
                     "opened_at": d.opened_at.astimezone(UTC),
                     "capa": [c.model_dump() for c in d.capa]} for d in batch.deviations],
    )
    tx.run(
        "MATCH (b:Batch {batch_id: $id}) UNWIND $results AS q "
        "CREATE (b)-[:HAS_QUALITY_RESULT]->(:QualityResult {attribute: q.attribute, "
        "  value: q.value, unit: q.unit, spec_low: q.spec_low, spec_high: q.spec_high})",
        id=batch.batch_id, results=[q.model_dump() for q in batch.quality_results],
    )

