"""Slow equipment degradation across successive batches, with ground truth.

A fault (:mod:`bioprocess.faults`) happens inside one batch; a degradation is the state
of an asset that worsens a little with every batch it runs: a DO probe whose calibration
slips, a sparger that fouls, a base pump whose tubing wears. :class:`Degradation` says
which asset degrades, how, from which of its batches on (``onset_use``, 1-based count of
the batches run on that asset, in start order) and by how much per batch (``rate``).

How each kind acts on the simulated plant (``level`` = ``rate`` x batches since onset,
counting the onset batch as 1):

* ``do_probe_calibration_slip`` — the control DO probe reads ``level`` (% air saturation,
  signed) off from the start of the batch: the loop holds the wrong reading at set point.
  The redundant probe, where fitted, is not affected.
* ``sparger_fouling_progressive`` — the vessel's clean-sparger kLa is multiplied by
  ``1 - level`` (fraction lost, capped at 0.9): the DO cascade needs more output.
* ``base_pump_wear`` — the base pump delivers ``1 - level`` of its capacity (capped at
  0.9 lost): the pH loop needs more output for the same base.

:func:`apply_degradation` returns the per-batch hardware and sensor parameters; the
campaign generator stacks them like any other batch parameters. Without degradations the
parameters are returned unchanged, so existing seeds give identical campaigns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from bioprocess.control import VesselHardware
from bioprocess.plant import SensorSpec


class DegradationKind(StrEnum):
    """Kinds of slow, batch-to-batch equipment degradation the simulator can apply."""

    DO_PROBE_CALIBRATION_SLIP = "do_probe_calibration_slip"
    SPARGER_FOULING = "sparger_fouling_progressive"
    BASE_PUMP_WEAR = "base_pump_wear"


#: Unit of ``rate`` (per batch) and the component of the asset that degrades.
DEGRADATION_UNITS: dict[DegradationKind, tuple[str, str]] = {
    DegradationKind.DO_PROBE_CALIBRATION_SLIP: ("% air saturation per batch", "do_probe"),
    DegradationKind.SPARGER_FOULING: ("fraction of kLa lost per batch", "sparger"),
    DegradationKind.BASE_PUMP_WEAR: ("fraction of base capacity lost per batch", "base_pump"),
}

_MAX_LOSS = 0.9


@dataclass(frozen=True)
class Degradation:
    """Ground truth of one degrading asset.

    ``site`` and ``asset`` name the equipment (site code, equipment id); ``onset_use`` is
    the first of the asset's batches (1-based, in start order) that is affected.
    """

    site: str
    asset: str
    kind: DegradationKind
    onset_use: int
    rate: float

    def __post_init__(self) -> None:
        if self.onset_use < 1:
            raise ValueError(f"onset_use must be >= 1; got {self.onset_use} instead")
        if self.kind is not DegradationKind.DO_PROBE_CALIBRATION_SLIP and not (
            0.0 < self.rate < _MAX_LOSS
        ):
            raise ValueError(f"rate of {self.kind} must be within (0, {_MAX_LOSS}); "
                             f"got {self.rate} instead")

    def level(self, use: int) -> float:
        """Accumulated degradation in the asset's ``use``-th batch (1-based)."""
        steps = use - self.onset_use + 1
        if steps <= 0:
            return 0.0
        value = self.rate * steps
        if self.kind is DegradationKind.DO_PROBE_CALIBRATION_SLIP:
            return value
        return min(value, _MAX_LOSS)

    def as_dict(self) -> dict[str, Any]:
        unit, component = DEGRADATION_UNITS[self.kind]
        return {
            "site": self.site,
            "asset": self.asset,
            "kind": str(self.kind),
            "component": component,
            "onset_use": self.onset_use,
            "rate": self.rate,
            "rate_unit": unit,
        }


def parse_degradation(text: str) -> Degradation:
    """``SITE:ASSET:KIND:ONSET:RATE`` (the CLI's form) as a :class:`Degradation`."""
    parts = text.split(":")
    if len(parts) != 5:
        raise ValueError(f"a degradation must be SITE:ASSET:KIND:ONSET:RATE; got {text!r} instead")
    site, asset, kind, onset, rate = parts
    kinds = [k.value for k in DegradationKind]
    if kind not in kinds:
        raise ValueError(f"degradation kind must be one of {kinds}; got {kind!r} instead")
    try:
        return Degradation(site, asset, DegradationKind(kind), int(onset), float(rate))
    except ValueError as exc:
        raise ValueError(f"degradation {text!r}: {exc}") from exc


def degraded_parameters(
    degradations: Sequence[Degradation],
    site: str,
    asset: str,
    use: int,
    hardware: VesselHardware,
    sensors: SensorSpec,
) -> tuple[VesselHardware, SensorSpec, dict[str, float]]:
    """Hardware and sensors of one batch on ``asset`` (its ``use``-th batch), degraded.

    Returns the parameters and the level of every active degradation (kind -> level).
    """
    levels: dict[str, float] = {}
    for d in degradations:
        if d.site != site or d.asset != asset:
            continue
        level = d.level(use)
        if level == 0.0:
            continue
        levels[str(d.kind)] = round(level, 6)
        if d.kind is DegradationKind.SPARGER_FOULING:
            hardware = replace(hardware, kla_ref_per_h=float(hardware.kla_ref_per_h) * (1 - level))
        elif d.kind is DegradationKind.BASE_PUMP_WEAR:
            hardware = replace(
                hardware,
                base_max_l_per_h_per_l=float(hardware.base_max_l_per_h_per_l) * (1 - level),
            )
        else:
            sensors = replace(sensors, do_offset_pct=float(sensors.do_offset_pct) + level)
    return hardware, sensors, levels
