"""The mechanistic twin's forecast of final titre, as one input of the early-yield model.

For each batch and cut-off, the live twin (``bioprocess.live``: an ensemble Kalman filter over
the kinetic model) follows the batch's own records up to the cut-off and forecasts its final
titre. Its site prior (clone and batch-to-batch spread) is learned from the *teacher*
batches other than the batch itself — a batch is never its own teacher. The twin reads the
site's data through its reviewed alignment (``site_node.live.reader``); a site or batch the
twin cannot read (no alignment, no viable-cell count at the start) gets no forecast, and the
yield model stays data-driven for it (a missing forecast is imputed, never invented).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from neo4j import Driver

from bioprocess.errors import TwinfedError
from bioprocess.live.ensemble import FilterSettings
from bioprocess.live.replay import HybridTwin, follow, site_prior
from site_node.live.reader import SiteBatch, batch_process, read_process_batches
from site_node.live.vocabulary import site_vocabulary, to_canonical

#: The forecast's name in the yield model (its drivers and card say this in words).
FORECAST_NAME = "mechanistic twin forecast"
#: Fewer members than the live twin's default: the forecast's mean is what the yield model
#: uses, and it settles with far fewer members than the interval does.
MEMBERS = 24
MIN_TEACHERS = 3


def twin_forecasts(batches: Sequence[SiteBatch], fractions: Sequence[float],
                   teachers: Collection[str], *, members: int = MEMBERS
                   ) -> dict[str, dict[float, float]]:
    """``{batch_id: {fraction: forecast of final titre (g/L)}}`` for every batch the twin can
    follow, each with a prior learned from ``teachers`` (complete batches) other than itself."""
    settings = FilterSettings(n_members=members, dt_h=1.0)
    taught = [b for b in batches if b.batch_id in teachers and b.status == "complete"
              and b.final_titre is not None]
    out: dict[str, dict[float, float]] = {}
    for batch in batches:
        others = [b.observations for b in taught if b.batch_id != batch.batch_id]
        if len(others) < MIN_TEACHERS:
            continue
        base, tuned = site_prior(others, settings=settings)
        updates = follow([batch.observations], HybridTwin(base, tuned, None, None),
                         sorted(fractions))[batch.batch_id]
        out[batch.batch_id] = {f: float(u.hybrid.mechanistic)
                               for f, u in zip(sorted(fractions), updates, strict=True)}
    return out


def site_twin_forecasts(driver: Driver, batch_ids: Sequence[str], attribute: str,
                        unit: str, fractions: Sequence[float], teachers: Collection[str],
                        database: str | None = None
                        ) -> tuple[dict[str, dict[float, float]], str | None]:
    """Forecasts of ``attribute`` (in ``unit``) for the stored batches, or ``({}, reason)``
    when the twin cannot read this site's process or the attribute is not its titre."""
    try:
        site, process, version = batch_process(driver, batch_ids[0], database)
        vocabulary = site_vocabulary(site)
        if attribute not in set(vocabulary.attributes_for("titre")):
            return {}, (f"'{attribute}' is not aligned to the shared titre parameter at "
                        f"{site}; the mechanistic twin forecasts titre only")
        factor = float(to_canonical("titre", unit, f"quality attribute {attribute}")(1.0))
        wanted = set(batch_ids)
        batches = [b for b in read_process_batches(driver, site, process, version, database)
                   if b.batch_id in wanted]
        forecasts = twin_forecasts(batches, fractions, teachers)
    except TwinfedError as exc:
        return {}, f"the mechanistic twin cannot follow this site's batches: {exc}"
    return ({b: {f: v / factor for f, v in by.items()} for b, by in forecasts.items()},
            None)
