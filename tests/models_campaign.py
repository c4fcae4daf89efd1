"""One small generated campaign per test process for the model tests (pure, no Neo4j), and
adapters from its records to the models' inputs — as a site would hold them."""

from __future__ import annotations

from functools import lru_cache

from bioprocess.campaign import CampaignConfig, generate_campaign
from bioprocess.models.pairing import BatchSpectra
from bioprocess.models.yield_prediction import BatchHistory
from bioprocess.records import BatchRecord, Campaign


@lru_cache(maxsize=1)
def small_campaign() -> Campaign:
    """Two sites (different analysers, lab codes and units) x 7 batches, seed 5."""
    return generate_campaign(CampaignConfig(n_sites=2, batches_per_site=7, seed=5,
                                            fault_rate=0.4, second_sponsor_batches=0))


def site_batches(site: str) -> list[BatchRecord]:
    return [b for b in small_campaign().batches if b.site.code == site]


def batch_spectra(batch: BatchRecord, analyte: str) -> BatchSpectra:
    lab = batch.lab_data[batch.lab_data.analyte == analyte]
    return BatchSpectra(batch.batch_id, batch.raman.wavenumbers, batch.raman.t_h,
                        batch.raman.spectra, lab.t_h.to_numpy(), lab.value.to_numpy(),
                        batch.raman.instrument_id)


def batch_history(batch: BatchRecord, attribute: str) -> BatchHistory:
    table = batch.process_data
    t = table["t_h"].to_numpy()
    series = {c: (t, table[c].to_numpy()) for c in table.columns if c != "t_h"}
    lab = {a: (g["t_h"].to_numpy(), g["value"].to_numpy())
           for a, g in batch.lab_data.groupby("analyte")}
    final = next(q.value for q in batch.quality if q.attribute == attribute)
    return BatchHistory(batch.batch_id, batch.duration_h, series, lab, final)
