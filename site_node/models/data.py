"""Read what models train on from the site's Neo4j: spectra with paired lab values, and
finished batches' records with their final quality results (early yield prediction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from neo4j import Driver

from bioprocess.errors import NotFoundError, ValidationError
from bioprocess.models.pairing import BatchSpectra
from bioprocess.models.yield_prediction import BatchHistory, PartialBatch
from site_node.repository import SiteRepository


@dataclass(frozen=True)
class SpectraSelection:
    """Batches with spectra (and their lab values of ``analyte``) of one process."""

    analyte: str
    unit: str
    process: str
    process_version: str
    sponsor: str
    batches: list[BatchSpectra]


def _rows(driver: Driver, query: str, database: str | None, **params: Any) -> list[Any]:
    records, _, _ = driver.execute_query(query, params, database_=database, routing_="r")
    return records


def spectra_with_lab(driver: Driver, analyte: str, *, process: str | None = None,
                     batch_ids: list[str] | None = None, database: str | None = None
                     ) -> SpectraSelection:
    """Every batch (of ``process``, or of the given ids) holding spectra, with its lab values
    of ``analyte`` (possibly none). Several processes without ``process`` is an error."""
    rows = _rows(driver, """
        MATCH (b:Batch)-[:HAS_SPECTRA]->(:SpectrumSet)
        WHERE ($process IS NULL OR b.process = $process)
          AND ($ids IS NULL OR b.batch_id IN $ids)
        OPTIONAL MATCH (b)-[:HAS_LAB_RESULT]->(l:LabResult {analyte: $analyte})
        WITH b, l ORDER BY l.t_h
        WITH b.batch_id AS batch_id, b.process AS process, b.process_version AS version,
             b.sponsor AS sponsor, b.start AS start, collect(l.t_h) AS t,
             collect(l.value) AS v, collect(l.unit)[0] AS unit
        RETURN batch_id, process, version, sponsor, t, v, unit
        ORDER BY start, batch_id""", database, analyte=analyte, process=process,
                 ids=batch_ids)
    if not rows:
        raise NotFoundError("no batch with spectra" + (f" of process '{process}'" if process
                                                        else "") + " is stored at this site")
    processes = sorted({(r["process"], r["version"]) for r in rows})
    if len(processes) > 1:
        raise ValidationError(f"batches with spectra belong to {len(processes)} processes "
                              f"({', '.join(p for p, _ in processes)}); choose one with "
                              "--process")
    repository = SiteRepository(driver, database)
    batches = []
    for row in rows:
        spectra = repository.get_spectra(row["batch_id"])
        batches.append(BatchSpectra(row["batch_id"], spectra["wavenumbers"], spectra["t_h"],
                                    spectra["intensities"], np.asarray(row["t"], float),
                                    np.asarray(row["v"], float), spectra["instrument"] or ""))
    units = {r["unit"] for r in rows if r["unit"]}
    return SpectraSelection(analyte, units.pop() if len(units) == 1 else "", processes[0][0],
                            processes[0][1] or "", rows[0]["sponsor"] or "", batches)


def _series_and_lab(driver: Driver, batch_id: str, database: str | None
                    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]],
                               dict[str, tuple[np.ndarray, np.ndarray]]]:
    series_rows = _rows(driver, """
        MATCH (:Batch {batch_id: $id})-[:HAS_SERIES]->(ts:TimeSeries)
        MATCH (ts)-[:OF_TAG]->(tag:Tag) WHERE tag.kind = 'online'
        RETURN ts.tag AS tag, ts.t AS t, ts.v AS v""", database, id=batch_id)
    lab_rows = _rows(driver, """
        MATCH (:Batch {batch_id: $id})-[:HAS_LAB_RESULT]->(l:LabResult)
        WITH l ORDER BY l.t_h
        RETURN l.analyte AS analyte, collect(l.t_h) AS t, collect(l.value) AS v""",
                     database, id=batch_id)
    series = {r["tag"]: (np.asarray(r["t"], float), np.asarray(r["v"], float))
              for r in series_rows}
    lab = {r["analyte"]: (np.asarray(r["t"], float), np.asarray(r["v"], float))
           for r in lab_rows}
    return series, lab


def batch_histories(driver: Driver, attribute: str, *, process: str | None = None,
                    database: str | None = None) -> tuple[list[BatchHistory], str]:
    """Finished batches with a quality result ``attribute``: their records and final value."""
    rows = _rows(driver, """
        MATCH (b:Batch)-[:HAS_QUALITY_RESULT]->(q:QualityResult {attribute: $attribute})
        WHERE ($process IS NULL OR b.process = $process) AND b.end IS NOT NULL
        RETURN b.batch_id AS batch_id, b.process AS process, q.value AS value, q.unit AS unit,
               duration.inSeconds(b.start, b.end).seconds / 3600.0 AS hours, b.start AS start
        ORDER BY start, batch_id""", database, attribute=attribute, process=process)
    if not rows:
        raise NotFoundError(f"no finished batch has a quality result '{attribute}'")
    processes = sorted({r["process"] for r in rows})
    if len(processes) > 1:
        raise ValidationError(f"batches with '{attribute}' belong to {len(processes)} processes "
                              f"({', '.join(processes)}); choose one with --process")
    histories = []
    for row in rows:
        series, lab = _series_and_lab(driver, row["batch_id"], database)
        histories.append(BatchHistory(row["batch_id"], float(row["hours"]), series, lab,
                                      float(row["value"])))
    return histories, rows[0]["unit"] or ""


def partial_batch(driver: Driver, batch_id: str, elapsed_h: float,
                  database: str | None = None) -> PartialBatch:
    """A stored batch as it was ``elapsed_h`` hours after its start (later data ignored)."""
    series, lab = _series_and_lab(driver, batch_id, database)
    if not series and not lab:
        raise NotFoundError(f"batch '{batch_id}' has no series or lab results at this site")
    return PartialBatch(batch_id, elapsed_h, series, lab)
