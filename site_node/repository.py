"""Read the site graph: batches, their context, and one tag's series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from neo4j import Driver

from bioprocess.errors import NotFoundError
from site_node.ingest.writer import decode_intensities


@dataclass(frozen=True)
class BatchFilter:
    process: str | None = None
    status: str | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    limit: int = 1000


def _native(value: Any) -> Any:
    """Neo4j temporal values to Python datetimes; everything else unchanged."""
    to_native = getattr(value, "to_native", None)
    return to_native() if to_native is not None else value


def _record(node: Any) -> dict[str, Any]:
    return {key: _native(value) for key, value in dict(node).items()}


class SiteRepository:
    """Queries a site node answers from its Neo4j."""

    def __init__(self, driver: Driver, database: str | None = None) -> None:
        self._driver = driver
        self._database = database

    def _run(self, query: str, **params: Any) -> list[Any]:
        records, _, _ = self._driver.execute_query(query, params, database_=self._database,
                                                   routing_="r")
        return records

    def site_summary(self) -> dict[str, Any]:
        rows = self._run(
            "OPTIONAL MATCH (s:Site) WITH collect(s) AS sites "
            "OPTIONAL MATCH (b:Batch) WITH sites, count(b) AS batches "
            "OPTIONAL MATCH (ts:TimeSeries) WITH sites, batches, count(ts) AS series, "
            "  coalesce(sum(ts.n), 0) AS points "
            "OPTIONAL MATCH (ss:SpectrumSet) WITH sites, batches, series, points, "
            "  coalesce(sum(ss.n), 0) AS spectra "
            "OPTIONAL MATCH (l:LabResult) WITH sites, batches, series, points, spectra, "
            "  count(l) AS lab_results "
            "OPTIONAL MATCH (d:Deviation) "
            "RETURN sites, batches, series, points, spectra, lab_results, "
            "  count(d) AS deviations")
        row = rows[0]
        site = row["sites"][0] if row["sites"] else None
        return {
            "site": site["code"] if site else None,
            "rev": site["rev"] if site else 0,
            "batches": row["batches"],
            "time_series": row["series"],
            "points": row["points"],
            "spectra": row["spectra"],
            "lab_results": row["lab_results"],
            "deviations": row["deviations"],
        }

    def list_batches(self, query: BatchFilter) -> list[dict[str, Any]]:
        rows = self._run(
            "MATCH (b:Batch) "
            "WHERE ($process IS NULL OR b.process = $process) "
            "  AND ($status IS NULL OR b.status = $status) "
            "  AND ($after IS NULL OR b.start >= $after) "
            "  AND ($before IS NULL OR b.start < $before) "
            "RETURN b ORDER BY b.start, b.batch_id LIMIT $limit",
            process=query.process, status=query.status, after=query.started_after,
            before=query.started_before, limit=query.limit)
        return [_record(r["b"]) for r in rows]

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        rows = self._run(
            "MATCH (b:Batch {batch_id: $id}) "
            "OPTIONAL MATCH (b)-[:HAS_SERIES]->(ts:TimeSeries) "
            "WITH b, collect({tag: ts.tag, unit: ts.unit, n: ts.n}) AS series "
            "OPTIONAL MATCH (b)-[:HAS_UNIT_OPERATION]->(u:UnitOperation) "
            "OPTIONAL MATCH (u)-[:HAS_PHASE]->(ph:Phase) "
            "OPTIONAL MATCH (u)-[:USES_EQUIPMENT]->(q:Equipment) "
            "WITH b, series, u, collect(DISTINCT ph) AS phases, "
            "  collect(DISTINCT q.equipment_id) AS equipment "
            "WITH b, series, collect(CASE WHEN u IS NULL THEN NULL ELSE "
            "  {unit_operation: u, phases: phases, equipment: equipment} END) AS ops "
            "OPTIONAL MATCH (b)-[:HAS_DEVIATION]->(d:Deviation) "
            "OPTIONAL MATCH (d)-[:HAS_CAPA]->(c:CAPA) "
            "WITH b, series, ops, d, collect(c) AS capas "
            "WITH b, series, ops, collect(CASE WHEN d IS NULL THEN NULL ELSE "
            "  {deviation: d, capa: capas} END) AS deviations "
            "OPTIONAL MATCH (b)-[:HAS_QUALITY_RESULT]->(qr:QualityResult) "
            "WITH b, series, ops, deviations, collect(qr) AS quality "
            "OPTIONAL MATCH (b)-[:HAS_LAB_RESULT]->(l:LabResult) "
            "WITH b, series, ops, deviations, quality, count(l) AS lab_results "
            "OPTIONAL MATCH (b)-[:HAS_SPECTRA]->(ss:SpectrumSet) "
            "RETURN b, series, ops, deviations, quality, lab_results, "
            "  collect({instrument: ss.instrument, n: ss.n, channels: ss.channels}) AS spectra",
            id=batch_id)
        if not rows:
            raise NotFoundError(f"batch '{batch_id}' is not stored at this site")
        row = rows[0]
        batch = _record(row["b"])
        batch["series"] = sorted((s for s in row["series"] if s["tag"] is not None),
                                 key=lambda s: s["tag"])
        batch["unit_operations"] = [
            {**_record(op["unit_operation"]), "equipment": sorted(op["equipment"]),
             "phases": sorted((_record(p) for p in op["phases"]), key=lambda p: p["start_h"])}
            for op in row["ops"]]
        batch["deviations"] = [
            {**_record(d["deviation"]), "capa": [_record(c) for c in d["capa"]]}
            for d in row["deviations"]]
        batch["quality_results"] = [_record(q) for q in row["quality"]]
        batch["lab_results"] = row["lab_results"]
        batch["spectra"] = [s for s in row["spectra"] if s["n"] is not None]
        return batch

    def get_series(self, batch_id: str, tag: str, max_points: int | None = None
                   ) -> dict[str, Any]:
        rows = self._run(
            "MATCH (b:Batch {batch_id: $id}) "
            "OPTIONAL MATCH (b)-[:HAS_SERIES]->(ts:TimeSeries {tag: $tag}) "
            "RETURN ts.t AS t, ts.v AS v, ts.unit AS unit, b IS NOT NULL AS found",
            id=batch_id, tag=tag)
        if not rows:
            raise NotFoundError(f"batch '{batch_id}' is not stored at this site")
        row = rows[0]
        if row["t"] is None:
            raise NotFoundError(f"batch '{batch_id}' has no series for tag '{tag}'")
        t, v = np.asarray(row["t"]), np.asarray(row["v"])
        if max_points is not None and t.size > max_points:
            t, v = _downsample(t, v, max_points)
        return {"batch_id": batch_id, "tag": tag, "unit": row["unit"], "n": int(t.size),
                "t_h": t.tolist(), "v": v.tolist()}

    def get_spectra(self, batch_id: str) -> dict[str, Any]:
        """The batch's spectra: ``wavenumbers``, ``t_h`` and the ``intensities`` matrix."""
        rows = self._run(
            "MATCH (:Batch {batch_id: $id})-[:HAS_SPECTRA]->(ss:SpectrumSet)-[:HAS_CHUNK]->(c) "
            "RETURN ss.instrument AS instrument, ss.wavenumbers AS wavenumbers, "
            "  ss.channels AS channels, c.t AS t, c.values AS values ORDER BY c.index",
            id=batch_id)
        if not rows:
            raise NotFoundError(f"batch '{batch_id}' has no spectra at this site")
        return _spectra_from_rows(rows)


def _spectra_from_rows(rows: list[Any]) -> dict[str, Any]:
    first = rows[0]
    blocks = [decode_intensities(r["values"], first["channels"]) for r in rows]
    return {
        "instrument": first["instrument"],
        "wavenumbers": np.asarray(first["wavenumbers"]),
        "t_h": np.concatenate([np.asarray(r["t"]) for r in rows]),
        "intensities": np.vstack(blocks),
    }


def _downsample(t: np.ndarray, v: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean per equal-count bucket: keeps the shape of the trajectory in ``max_points``."""
    edges = np.linspace(0, t.size, max_points + 1).astype(int)
    sums_t = np.add.reduceat(t, edges[:-1])
    sums_v = np.add.reduceat(v, edges[:-1])
    counts = np.diff(edges)
    return sums_t / counts, sums_v / counts
