"""Per-batch health indicators of one equipment asset, from signals named by parameter.

Input is a :class:`BatchSignals`: each series keyed by the *shared parameter* it measures
(``dissolved-oxygen``, ``oxygen-uptake-rate``, ...), in that parameter's canonical unit,
plus second measurements of a parameter (a redundant probe, an offline check) under
``redundant``. The site maps its own tags to parameters (its alignment); nothing here
knows a tag name. An indicator whose inputs are missing is simply not computed.

Each indicator (:data:`INDICATORS`) has a component of the asset it speaks about, a unit,
the direction in which it gets worse (``up``, ``down`` or ``away`` from zero) and a
default maintenance limit. Definitions are in ``docs/equipment-health.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

Series = tuple[np.ndarray, np.ndarray]  # (t in h since batch start, values)

#: Shared parameters (ontology/parameters.ttl local names) the indicators read.
DO = "dissolved-oxygen"
DO_SP = "dissolved-oxygen-set-point"
DO_OUT = "dissolved-oxygen-controller-output"
OUR = "oxygen-uptake-rate"
AGITATION = "agitation"
AIR, OXYGEN, CO2 = "air-flow", "oxygen-flow", "co2-flow"
TEMPERATURE = "temperature"
PH = "ph"
PH_OUT = "ph-controller-output"
BASE = "base-addition"

#: Reference agitation and gas flow of the kLa normalisation (van 't Riet form).
KLA_RPM_REF = 100.0
KLA_FLOW_REF_L_MIN = 1.0
KLA_RPM_EXPONENT = 1.2  # kLa ~ (P/V)^0.4 and P ~ N^3 (van 't Riet 1979, coalescing media)
KLA_GAS_EXPONENT = 0.5


@dataclass(frozen=True)
class IndicatorSpec:
    """What an indicator measures and when it calls for maintenance.

    ``limit`` is absolute for ``away`` (|value| >= limit) and for ``up``/``down`` when
    ``relative`` is False; with ``relative`` it is a fraction of the asset's baseline
    (e.g. 0.3 = a 30 % loss or rise from the asset's first batches).
    """

    name: str
    label: str
    component: str
    unit: str
    worse: str  # "up", "down" or "away" (from zero)
    limit: float
    relative: bool
    min_sigma: float  # noise-scale floor: absolute, or a fraction of the baseline if relative
    action: str


INDICATORS: Mapping[str, IndicatorSpec] = {
    s.name: s
    for s in (
        IndicatorSpec("do_probe_bias", "DO probe bias against the redundant probe", "do_probe",
                      "% air saturation", "away", 5.0, False, 0.2,
                      "recalibrate the DO probe; replace membrane and electrolyte"),
        IndicatorSpec("do_start_offset", "DO reading at batch start minus air saturation",
                      "do_probe", "% air saturation", "away", 5.0, False, 0.2,
                      "recalibrate the DO probe (two-point calibration)"),
        # floor 0.01 pH: the accuracy of an offline (blood-gas) pH reading
        IndicatorSpec("ph_probe_bias", "online minus offline pH", "ph_probe", "pH", "away",
                      0.1, False, 0.01, "re-standardise the pH probe; check buffers"),
        IndicatorSpec("kla_reference", "oxygen transfer coefficient at reference agitation "
                      "and gas flow", "sparger", "1/h", "down", 0.3, True, 0.02,
                      "inspect and clean the sparger (caustic soak, borescope)"),
        IndicatorSpec("do_controller_effort", "DO controller output while oxygen demand is "
                      "high", "oxygen_supply", "%", "up", 0.3, True, 0.02,
                      "check sparger, agitator drive and gas supply"),
        IndicatorSpec("base_pump_gain", "base delivered per unit of base-side pH controller "
                      "output", "base_pump", "L per %.h", "down", 0.3, True, 0.02,
                      "replace the base pump tubing; check the pump head and base line"),
        IndicatorSpec("do_low_alarm_hours", "hours with DO more than 10 % air saturation "
                      "below set point", "oxygen_supply", "h", "up", 1.0, False, 0.1,
                      "check oxygen supply capacity before the next batch"),
    )
}


@dataclass(frozen=True, eq=False)
class BatchSignals:
    """One batch's series by shared parameter (canonical units), plus second measurements."""

    series: Mapping[str, Series]
    redundant: Mapping[str, Series] = field(default_factory=dict)


def _finite(s: Series) -> Series:
    t, v = np.asarray(s[0], dtype=float), np.asarray(s[1], dtype=float)
    keep = np.isfinite(t) & np.isfinite(v)
    order = np.argsort(t[keep], kind="stable")
    return t[keep][order], v[keep][order]


def _on(grid: np.ndarray, s: Series) -> np.ndarray:
    t, v = s
    return np.interp(grid, t, v, left=np.nan, right=np.nan)


def _bias(a: Series, b: Series) -> float | None:
    """Median of a - b, with a taken at b's sample times (b may be sparse, e.g. offline)."""
    if a[0].size < 2 or b[0].size < 1:
        return None
    diff = _on(b[0], a) - b[1]
    diff = diff[np.isfinite(diff)]
    return float(np.median(diff)) if diff.size else None


def _do_start_offset(do: Series, window_h: float = 0.05) -> float | None:
    """The medium is air-saturated when the batch starts (the probe's calibration point):
    the reading of the first minutes minus 100 % is the calibration offset."""
    if do[0].size == 0 or do[0][0] > window_h:
        return None
    sel = do[0] <= do[0][0] + window_h
    return float(np.median(do[1][sel]) - 100.0)


def _high_demand(s: Mapping[str, Series]) -> np.ndarray | None:
    """Times (OUR grid) where oxygen demand is at least half its batch maximum."""
    our = s.get(OUR)
    if our is None or our[0].size < 5 or not np.nanmax(our[1]) > 0:
        return None
    return our[0][our[1] >= 0.5 * np.nanmax(our[1])]


def _kla_reference(s: Mapping[str, Series]) -> float | None:
    needed = (DO, OUR, AGITATION, AIR, TEMPERATURE)
    grid = _high_demand(s)
    if grid is None or any(k not in s for k in needed):
        return None
    our = _on(grid, s[OUR])
    do = _on(grid, s[DO])
    rpm = _on(grid, s[AGITATION])
    air = _on(grid, s[AIR])
    o2 = _on(grid, s[OXYGEN]) if OXYGEN in s else np.zeros_like(grid)
    co2 = _on(grid, s[CO2]) if CO2 in s else np.zeros_like(grid)
    temp = _on(grid, s[TEMPERATURE])
    total = air + o2 + co2
    c_air = 0.210 * (1.0 + 0.0135 * (37.0 - temp))  # mM O2 at air saturation (medium)
    y_o2 = (0.2095 * air + o2) / np.where(total > 0, total, np.nan)
    driving = c_air * (y_o2 / 0.2095 - do / 100.0)
    kla = our / np.where(driving > 0.01 * c_air, driving, np.nan)
    norm = (np.maximum(rpm, 1e-6) / KLA_RPM_REF) ** KLA_RPM_EXPONENT * (
        np.maximum(total, 1e-6) / KLA_FLOW_REF_L_MIN
    ) ** KLA_GAS_EXPONENT
    value = kla / norm
    value = value[np.isfinite(value)]
    return float(np.median(value)) if value.size >= 5 else None


def _do_effort(s: Mapping[str, Series]) -> float | None:
    grid = _high_demand(s)
    if grid is None or DO_OUT not in s:
        return None
    out = _on(grid, s[DO_OUT])
    out = out[np.isfinite(out)]
    return float(np.median(out)) if out.size >= 5 else None


def _base_pump_gain(s: Mapping[str, Series]) -> float | None:
    if BASE not in s or PH_OUT not in s:
        return None
    t, u = s[PH_OUT]
    if t.size < 10:
        return None
    demand = float(np.trapezoid(np.maximum(u, 0.0), t))  # %.h of base-side output
    base_t, base_v = s[BASE]
    delivered = float(base_v[-1] - base_v[0]) if base_v.size >= 2 else 0.0
    if demand < 1.0 or delivered <= 0.0:
        return None
    return delivered / demand


def _do_low_hours(s: Mapping[str, Series], margin: float = 10.0) -> float | None:
    if DO not in s or DO_SP not in s:
        return None
    t, do = s[DO]
    if t.size < 2:
        return None
    sp = _on(t, s[DO_SP])
    low = (do < sp - margin).astype(float)
    dt = np.diff(t, append=t[-1])
    return float(np.sum(low * dt))


def batch_indicators(signals: BatchSignals) -> dict[str, float]:
    """Every indicator the batch's signals support: name -> value (units: INDICATORS)."""
    s = {k: _finite(v) for k, v in signals.series.items()}
    r = {k: _finite(v) for k, v in signals.redundant.items()}
    out: dict[str, float | None] = {}
    if DO in s:
        out["do_probe_bias"] = _bias(s[DO], r[DO]) if DO in r else None
        out["do_start_offset"] = _do_start_offset(s[DO])
    if PH in s and PH in r:
        out["ph_probe_bias"] = _bias(s[PH], r[PH])
    out["kla_reference"] = _kla_reference(s)
    out["do_controller_effort"] = _do_effort(s)
    out["base_pump_gain"] = _base_pump_gain(s)
    out["do_low_alarm_hours"] = _do_low_hours(s)
    return {k: v for k, v in out.items() if v is not None and np.isfinite(v)}
