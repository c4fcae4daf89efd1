"""Ingest a bundle: read each batch, check it, write it in its own transaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from neo4j import Driver

from site_node.ingest.problems import BundleError, Problem
from site_node.ingest.reader import read_batch, read_manifest
from site_node.ingest.source import open_source
from site_node.ingest.writer import WriteResult, write_batch
from site_node.models.estimates import IngestEstimates, estimate_ingested_batch

#: Called after each batch with (batch_id, done, total).
Progress = Callable[[str, int, int], None]


@dataclass
class IngestReport:
    """Per batch: what was stored (or found unchanged) and what was refused, and why."""

    bundle: str
    manifest_site: str | None = None
    written: list[WriteResult] = field(default_factory=list)
    refused: list[BundleError] = field(default_factory=list)
    #: Soft-sensor estimates made on the new spectra (a failed model is listed with its error)
    estimates: list[IngestEstimates] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.refused

    @property
    def points(self) -> int:
        return sum(w.points for w in self.written)


def ingest_bundle(driver: Driver, path: Path, *, site_code: str | None,
                  max_file_bytes: int, database: str | None = None,
                  progress: Progress | None = None) -> IngestReport:
    """Ingest every batch of the bundle at ``path`` (a folder or a zip).

    A problem in the manifest refuses the whole bundle (raised); a problem in one batch
    refuses that batch only (reported) and leaves nothing of it in the store.
    """
    started = time.perf_counter()
    source = open_source(path, max_file_bytes)
    try:
        manifest = read_manifest(source)
        if site_code is not None and manifest.site.code != site_code:
            raise BundleError([Problem(
                "manifest.json", f"site.code must be this site's code '{site_code}'; found "
                f"'{manifest.site.code}' (a site node ingests only its own batches)",
                "$.site.code")])
        report = IngestReport(bundle=str(path), manifest_site=manifest.site.code)
        total = len(manifest.batches)
        for done, entry in enumerate(manifest.batches, start=1):
            try:
                batch = read_batch(source, manifest, entry)
            except BundleError as exc:
                report.refused.append(BundleError(exc.problems, batch_id=entry.batch_id))
            else:
                written = write_batch(driver, batch, database=database)
                report.written.append(written)
                if written.outcome != "unchanged":  # committed: now estimate its spectra
                    report.estimates.extend(estimate_ingested_batch(
                        driver, written.batch_id, site_code=manifest.site.code,
                        database=database))
            if progress is not None:
                progress(entry.batch_id, done, total)
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    report.seconds = time.perf_counter() - started
    return report
