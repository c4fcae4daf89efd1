"""What a generated campaign holds: batches as their sites record them, plus ground truth.

Plain frozen records, no logic beyond small conveniences: :class:`CampaignConfig` (what to
generate), :class:`ProcessDefinition` (a sponsor's process), :class:`BatchPlan` (where and
when a batch runs), :class:`BatchRecord` (what the site holds for it, and the truth) and
:class:`Campaign`. Generation lives in :mod:`bioprocess.campaign`, rendering of the site's
records in :mod:`bioprocess.rendering`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from bioprocess.calibration import BatchObservations, observations_from_lab
from bioprocess.degradation import Degradation
from bioprocess.deviations import DeviationRecord
from bioprocess.faults import Fault
from bioprocess.recipe import Recipe
from bioprocess.sites import ANALYTE_QUANTITY, SiteProfile
from bioprocess.units import converter

#: Lab analytes that are states of the kinetic model.
_ANALYTE_STATE = {
    "vcd": "xv",
    "glc": "glc",
    "gln": "gln",
    "lac": "lac",
    "amm": "amm",
    "titre": "titre",
}


@dataclass(frozen=True)
class ProcessDefinition:
    """A sponsor's process: identity, specifications and how its clone differs."""

    sponsor_code: str
    sponsor_name: str
    product_code: str
    product_name: str
    process_code: str
    process_version: str
    process_name: str
    titre_spec_low_g_l: float = 2.5
    viability_spec_low_pct: float = 60.0
    kinetics: Mapping[str, float] = field(default_factory=dict)  # multipliers
    recipe: Mapping[str, float] = field(default_factory=dict)  # absolute overrides


ACME_PROCESS = ProcessDefinition(
    "SP-ACME",
    "Acme Biologics",
    "mAb-101",
    "Anti-IL6 mAb",
    "P-mAb-101-FB",
    "3",
    "mAb-101 fed-batch",
)
BETA_PROCESS = ProcessDefinition(
    "SP-BETA",
    "Beta Therapeutics",
    "mAb-202",
    "Anti-TNF-alpha mAb",
    "P-mAb-202-FB",
    "1",
    "mAb-202 fed-batch",
    titre_spec_low_g_l=2.0,
    kinetics={"mu_max": 1.06, "qp_beta": 0.8, "y_lac_glc": 1.15},
    recipe={"temp_shift_h": 150.0, "temp_production_c": 34.0, "feed_pct_per_day": 4.0},
)


@dataclass(frozen=True)
class CampaignConfig:
    """What to generate.

    ``batches_per_site`` counts the main sponsor's batches at each site; the second
    sponsor's batches (``second_sponsor_batches``, 0 to disable) are extra, at the site
    ``second_sponsor_site`` (or the last generated site when that one is not included).
    """

    n_sites: int = 3
    batches_per_site: int = 8
    fault_rate: float = 0.3
    seed: int = 7
    days: float = 14.0
    raman_every_h: float | None = None
    start_utc: datetime = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
    second_sponsor_batches: int = 2
    second_sponsor_site: str = "SITE-B"
    process: ProcessDefinition = ACME_PROCESS
    second_process: ProcessDefinition = BETA_PROCESS
    #: Assets that degrade over their successive batches (:mod:`bioprocess.degradation`);
    #: empty by default, so existing seeds give the same campaigns.
    degradations: tuple[Degradation, ...] = ()


@dataclass(frozen=True, eq=False)
class RamanData:
    """Spectra of one batch: rows = sample times (h), columns = wavenumbers (cm⁻¹)."""

    instrument_id: str
    t_h: np.ndarray
    wavenumbers: np.ndarray
    spectra: np.ndarray


@dataclass(frozen=True)
class PhaseRecord:
    name: str
    start_h: float
    end_h: float


@dataclass(frozen=True)
class QualityRecord:
    attribute: str
    value: float
    unit: str
    spec_low: float | None
    spec_high: float | None


@dataclass(frozen=True)
class BatchDeviation:
    """A deviation with the ids the site's QMS gave it and its CAPA ids."""

    deviation_id: str
    record: DeviationRecord
    capa_ids: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class BatchRecord:
    """One simulated batch as its site records it, plus its ground truth.

    ``process_data`` has a ``t_h`` column (hours since ``start``) and one column per site
    tag in the site's units (NaN = not sampled then); ``lab_data`` is long format
    (``t_h``, ``analyte`` = lab code, ``value``, ``unit``); ``truth`` and
    ``counterfactual`` hold true states in canonical units every 15 min.
    """

    batch_id: str
    site: SiteProfile
    process: ProcessDefinition
    bioreactor: str
    start: datetime
    duration_h: float
    status: str
    recipe: Recipe
    faults: tuple[Fault, ...]
    process_data: pd.DataFrame
    lab_data: pd.DataFrame
    raman: RamanData
    phases: tuple[PhaseRecord, ...]
    deviations: tuple[BatchDeviation, ...]
    quality: tuple[QualityRecord, ...]
    truth: pd.DataFrame
    counterfactual: pd.DataFrame

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=self.duration_h)

    @property
    def final_titre_g_l(self) -> float:
        return float(self.truth["titre"].iloc[-1])

    @property
    def counterfactual_final_titre_g_l(self) -> float:
        return float(self.counterfactual["titre"].iloc[-1])

    def observations(self) -> BatchObservations:
        """This batch's offline data in canonical units, ready for calibration."""
        codes = {}
        for a in self.site.analytes:
            state = _ANALYTE_STATE.get(a.analyte)
            if state is not None:
                conv = converter(ANALYTE_QUANTITY[a.analyte], a.unit)
                codes[state] = (a.code, 1.0 / float(conv(1.0) - conv(0.0)))
        return observations_from_lab(self.batch_id, self.recipe, self.lab_data, codes)

    def ground_truth(self) -> dict[str, Any]:
        """JSON-ready ground truth of this batch (canonical units)."""
        detected = {d.record.fault_type for d in self.deviations}
        return {
            "site": self.site.code,
            "sponsor": self.process.sponsor_code,
            "process": self.process.process_code,
            "batch_id": self.batch_id,
            "bioreactor": self.bioreactor,
            "start": self.start.isoformat(),
            "faults": [f.as_dict() for f in self.faults],
            "final_titre_g_l": round(self.final_titre_g_l, 4),
            "counterfactual_final_titre_g_l": round(self.counterfactual_final_titre_g_l, 4),
            "titre_loss_g_l": round(self.counterfactual_final_titre_g_l - self.final_titre_g_l, 4),
            "peak_vcd_e6_per_ml": round(float(self.truth["xv"].max()), 3),
            "deviations": [
                {
                    "deviation_id": d.deviation_id,
                    "rule": d.record.rule,
                    "failure_mode": d.record.failure_mode,
                    "fault_type": None if d.record.fault_type is None else str(d.record.fault_type),
                    "opened_h": round(d.record.opened_h, 3),
                }
                for d in self.deviations
            ],
            "undetected_faults": [str(f.type) for f in self.faults if f.type not in detected],
        }


@dataclass(frozen=True, eq=False)
class Campaign:
    """A generated campaign: the sites, their batches and the configuration used."""

    config: CampaignConfig
    sites: tuple[SiteProfile, ...]
    batches: tuple[BatchRecord, ...]
    #: Per batch on a degrading asset: batch id -> {kind: level} (ground truth).
    degradation_levels: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def batches_at(self, site_code: str, sponsor_code: str | None = None) -> list[BatchRecord]:
        return [
            b
            for b in self.batches
            if b.site.code == site_code
            and (sponsor_code is None or b.process.sponsor_code == sponsor_code)
        ]

    def batch(self, batch_id: str) -> BatchRecord:
        for b in self.batches:
            if b.batch_id == batch_id:
                return b
        raise KeyError(f"batch_id must be one of the campaign's batches; got {batch_id!r} instead")

    def ground_truth(self) -> dict[str, Any]:
        """JSON-ready ground truth of the whole campaign."""
        c = self.config
        return {
            "format": "twinfed-ground-truth/1",
            "seed": c.seed,
            "config": {
                "n_sites": c.n_sites,
                "batches_per_site": c.batches_per_site,
                "fault_rate": c.fault_rate,
                "days": c.days,
                "raman_every_h": c.raman_every_h,
                "second_sponsor_batches": c.second_sponsor_batches,
            },
            "units": {"titre": "g/L", "time": "h since batch start", "vcd": "1e6 cells/mL"},
            "batches": [b.ground_truth() for b in self.batches],
            **self._degradation_truth(),
        }

    def _degradation_truth(self) -> dict[str, Any]:
        if not self.config.degradations:
            return {}
        return {
            "equipment_degradations": [d.as_dict() for d in self.config.degradations],
            "degradation_levels": {b: dict(v) for b, v in self.degradation_levels.items()},
        }


@dataclass(frozen=True)
class BatchPlan:
    """Where and when one batch runs, under which id, with which random stream."""

    site_index: int
    index: int
    profile: SiteProfile
    process: ProcessDefinition
    bioreactor: str
    start: datetime
    batch_id: str
    rng_key: tuple[int, ...]


def format_id(template: str, seq: int, when: datetime) -> str:
    return template.format(seq=seq, yy=f"{when.year % 100:02d}", yyyy=f"{when.year:04d}")
