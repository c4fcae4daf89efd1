"""The live twin at a site: learn from its past batches, replay a batch as if live, recommend.

A batch is never its own teacher: the site's twin (prior clone, residual correction,
parameter domain, proven ranges) is learned from the *other* batches of the process, so a
stored batch can be replayed honestly, as if its data were arriving now.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
from neo4j import Driver, ManagedTransaction

from bioprocess.errors import NotFittedError
from bioprocess.live.card import MODEL_ID, MODEL_VERSION, model_card
from bioprocess.live.ensemble import EnsembleTwin, FilterSettings
from bioprocess.live.forecast import forecast
from bioprocess.live.hybrid import hybrid_forecast
from bioprocess.live.recommend import ProvenRange, Recommendation, recommend
from bioprocess.live.replay import HybridTwin, LiveUpdate, site_prior, train_hybrid
from site_node.live.ranges import proven_ranges
from site_node.live.reader import SiteBatch, batch_process, read_process_batches

#: Replay checkpoints of ``twinfed site twin follow`` (fractions of the batch).
FOLLOW_FRACTIONS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
MIN_TRAINING_BATCHES = 3


@dataclass(frozen=True, eq=False)
class SiteTwin:
    """The live twin of one process at one site, learned without the batch it follows."""

    site_code: str
    process: str
    version: str
    twin: HybridTwin
    ranges: dict[str, ProvenRange]
    training_batches: tuple[str, ...]
    batch: SiteBatch

    def card(self) -> dict:
        return model_card(self.twin)


def site_twin(driver: Driver, batch_id: str, *, settings: FilterSettings | None = None,
              database: str | None = None) -> SiteTwin:
    """Learn the twin for following ``batch_id`` from the process's other batches."""
    site, process, version = batch_process(driver, batch_id, database)
    batches = read_process_batches(driver, site, process, version, database)
    target = next(b for b in batches if b.batch_id == batch_id)
    others = [b for b in batches if b.batch_id != batch_id]
    train = [b for b in others if b.status == "complete" and b.final_titre is not None]
    if len(train) < MIN_TRAINING_BATCHES:
        raise NotFittedError(
            f"the live twin of {process}@{version} at {site} learns from at least "
            f"{MIN_TRAINING_BATCHES} other complete batches with a titre result; "
            f"found {len(train)}")
    settings = settings or FilterSettings()
    obs = [b.observations for b in train]
    base, settings = site_prior(obs, settings=settings)
    # the twin learns from every complete batch (its experience, faults included); only the
    # proven ranges are restricted to the good ones
    twin = train_hybrid(obs, {b.batch_id: float(b.final_titre) for b in train}, base, settings)
    return SiteTwin(site, process, version, twin, proven_ranges(others),
                    tuple(b.batch_id for b in train), target)


def replay(st: SiteTwin, fractions: Sequence[float] = FOLLOW_FRACTIONS
           ) -> tuple[EnsembleTwin, list[LiveUpdate]]:
    """Follow the batch as if live; one update per fraction of its planned duration."""
    ens = EnsembleTwin([st.batch.observations], st.twin.base, st.twin.settings,
                       vessel=st.twin.vessel)
    updates = []
    for f in sorted(fractions):
        ens.advance(f * float(ens.recipe.duration_h))
        (fc,) = forecast(ens)
        params = ens.parameter_summary(0)
        updates.append(LiveUpdate(fc, hybrid_forecast(fc, st.twin.residual, st.twin.domain,
                                                      params), params))
    return ens, updates


def recommend_now(st: SiteTwin, at_fraction: float) -> tuple[LiveUpdate, Recommendation]:
    """Replay the batch to ``at_fraction`` and search the proven ranges for a better finish."""
    ens, updates = replay(st, [at_fraction])
    update = updates[-1]
    rec = recommend(ens, 0, st.ranges, knows=update.hybrid.knows, evidence={
        "training_batches": list(st.training_batches),
        "model": f"{MODEL_ID} {MODEL_VERSION}",
        "forecast_now": {"final_titre": update.hybrid.final_titre, "low": update.hybrid.low,
                         "high": update.hybrid.high, "status": update.hybrid.status,
                         "flags": list(update.hybrid.flags)},
    })
    if not st.ranges:
        rec = replace(rec, action="keep", changes={}, expected_titre=rec.baseline_titre,
                      expected_gain=0.0, reason="no proven acceptable range at this site yet")
    return update, rec


def store_recommendation(driver: Driver, site_code: str, rec: Recommendation,
                         database: str | None = None) -> str:
    """Store ``rec`` as a node of the batch and bump the batch's revision (sync carries it)."""
    rec_id = f"{rec.batch_id}/{uuid.uuid4().hex[:12]}"
    ranges = rec.evidence.get("proven_ranges", {})
    evidence_batches = sorted({*rec.evidence.get("training_batches", []),
                               *(bid for r in ranges.values() for bid in r["batches"])})
    props = {
        "recommendation_id": rec_id, "t_h": float(rec.t_h), "action": rec.action,
        "reason": rec.reason, "baseline_titre": rec.baseline_titre,
        "expected_titre": rec.expected_titre, "expected_gain": rec.expected_gain,
        "gain_low": rec.gain_low, "gain_high": rec.gain_high, "p_improve": rec.p_improve,
        "changes": json.dumps({k: {"current": a, "proposed": b, "unit": ranges.get(k, {}).get(
            "unit"), "range_low": ranges.get(k, {}).get("low"),
            "range_high": ranges.get(k, {}).get("high")} for k, (a, b) in rec.changes.items()}),
        "evidence": json.dumps(rec.evidence, default=_json_default),
        "model_id": MODEL_ID, "model_version": MODEL_VERSION,
        "created_at": datetime.now(UTC), "evidence_batches": evidence_batches,
    }

    def write(tx: ManagedTransaction) -> None:
        tx.run("MATCH (s:Site {code: $code}) SET s.rev = s.rev + 1 WITH s "
               "MATCH (b:Batch {batch_id: $id}) SET b.rev = s.rev "
               "CREATE (b)-[:HAS_RECOMMENDATION]->(r:Recommendation) SET r = $props "
               "WITH r UNWIND $props.evidence_batches AS eid "
               "MATCH (e:Batch {batch_id: eid}) CREATE (r)-[:BASED_ON]->(e)",
               code=site_code, id=rec.batch_id, props=props)

    with driver.session(database=database) as session:
        session.execute_write(write)
    return rec_id


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
