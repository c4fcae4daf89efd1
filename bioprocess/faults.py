"""Faults and disturbances with ground truth: what went wrong, when, and how badly.

A :class:`Fault` is the ground truth of one injected fault; :data:`FAULT_CATALOGUE`
documents what each size means and which signals it should move. :func:`sample_faults`
draws faults at random times and sizes; :class:`FaultSchedule` turns the faults of many
stacked batches into arrays that the plant simulator evaluates at every step.

Fault kinds and how they act (``size`` in brackets):

* ``do_probe_drift`` — a DO probe reading drifts linearly over ``ramp_h`` and stays off
  (% air saturation, signed). On the control probe the loop holds the *measurement* at
  set point and the true DO moves; on the redundant probe the measurement moves and the
  true DO does not.
* ``do_probe_lag`` — fouled membrane: the control probe's time constant rises to
  ``size`` (min); the reading becomes smooth and late, so the loop reacts late and the
  true DO dips further than the reading shows.
* ``ph_probe_offset`` — mis-standardised pH probe (pH units, signed); the loop holds the
  wrong reading at set point, the true pH is off by ``-size``, visible against offline pH.
* ``sparger_fouling`` — kLa falls progressively by the fraction ``size`` over ``ramp_h``;
  the DO output and O2 flow rise, and DO falls once they saturate.
* ``feed_pump_under_delivery`` — the pump delivers ``1 - size`` of its set point (worn
  tubing) in the window; the balance shows less feed, nutrients and titre fall.
* ``temperature_excursion`` — loss of jacket authority; broth temperature heads to set
  point + ``size`` (°C, signed) for the window; temperature output saturates.
* ``poor_media_lot`` — a basal-medium lot that supports slower growth: ``mu_max`` falls
  by the fraction ``size`` for the whole batch.
* ``agitation_failure`` — drive fault: the impeller turns at ``1 - size`` of its command
  in the window; kLa falls, the DO output and O2 rise.
* ``base_pump_failure`` — the base pump delivers ``1 - size`` of its command in the
  window; the pH output saturates and pH falls while lactate is produced.
* ``hyper_metabolic`` — overflow metabolism from ``start_h`` on (ramping over ``ramp_h``):
  glucose uptake × ``size``, lactate keeps accumulating, OUR rises, specific
  productivity falls.

References
----------
.. [1] Mulukutla BC, Gramer M, Hu WS (2012). On metabolic shift to lactate consumption in
   fed-batch culture of mammalian cells. Metab Eng 14(2):138–149.
.. [2] Nienow AW (2006). Reactor engineering in large scale animal cell culture.
   Cytotechnology 50:9–33.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from bioprocess.kinetics import FloatArray


class FaultType(StrEnum):
    """The kinds of fault the simulator can inject."""

    DO_PROBE_DRIFT = "do_probe_drift"
    DO_PROBE_LAG = "do_probe_lag"
    PH_PROBE_OFFSET = "ph_probe_offset"
    SPARGER_FOULING = "sparger_fouling"
    FEED_PUMP_UNDER_DELIVERY = "feed_pump_under_delivery"
    TEMPERATURE_EXCURSION = "temperature_excursion"
    POOR_MEDIA_LOT = "poor_media_lot"
    AGITATION_FAILURE = "agitation_failure"
    BASE_PUMP_FAILURE = "base_pump_failure"
    HYPER_METABOLIC = "hyper_metabolic"


@dataclass(frozen=True)
class FaultSpec:
    """What a fault kind means: its size unit, the signals it should move, its sampler."""

    description: str
    size_unit: str
    moves: tuple[str, ...]
    start_h: tuple[float, float]
    size: tuple[float, float]
    duration_h: tuple[float, float] | None = None  # None: persists to the end of the batch
    ramp_h: tuple[float, float] | None = None
    signed: bool = False


FAULT_CATALOGUE: Mapping[FaultType, FaultSpec] = {
    FaultType.DO_PROBE_DRIFT: FaultSpec(
        "DO probe reading drifts away from the true value",
        "% air saturation",
        ("measured DO vs true DO", "DO controller output"),
        start_h=(48.0, 216.0),
        size=(8.0, 20.0),
        ramp_h=(24.0, 72.0),
        signed=True,
    ),
    FaultType.DO_PROBE_LAG: FaultSpec(
        "DO probe responds slowly (fouled membrane)",
        "min (probe time constant)",
        ("DO reading smoothed and delayed", "true DO dips hidden from the reading"),
        start_h=(48.0, 200.0),
        size=(20.0, 60.0),
    ),
    FaultType.PH_PROBE_OFFSET: FaultSpec(
        "pH probe standardised with an offset",
        "pH units",
        ("online vs offline pH", "true pH", "base addition", "lactate"),
        start_h=(0.0, 120.0),
        size=(0.08, 0.18),
        signed=True,
    ),
    FaultType.SPARGER_FOULING: FaultSpec(
        "sparger progressively fouled, kLa falls",
        "fraction of kLa lost",
        ("DO controller output", "O2 flow", "DO at peak OUR"),
        start_h=(48.0, 144.0),
        size=(0.4, 0.7),
        ramp_h=(24.0, 60.0),
    ),
    FaultType.FEED_PUMP_UNDER_DELIVERY: FaultSpec(
        "feed pump delivers less than its set point",
        "fraction of feed not delivered",
        ("cumulative feed", "glucose", "titre"),
        start_h=(72.0, 168.0),
        size=(0.3, 0.6),
        duration_h=(72.0, 200.0),
    ),
    FaultType.TEMPERATURE_EXCURSION: FaultSpec(
        "temperature control lost, broth temperature leaves set point",
        "degC (asymptotic excursion)",
        ("temperature", "temperature controller output", "viability"),
        start_h=(24.0, 240.0),
        size=(1.5, 3.5),
        duration_h=(3.0, 14.0),
        signed=True,
    ),
    FaultType.POOR_MEDIA_LOT: FaultSpec(
        "basal medium lot supports slower growth",
        "fraction of mu_max lost",
        ("VCD", "OUR", "titre"),
        start_h=(0.0, 0.0),
        size=(0.15, 0.30),
    ),
    FaultType.AGITATION_FAILURE: FaultSpec(
        "agitator drive delivers less speed than commanded",
        "fraction of speed lost",
        ("agitation speed", "DO controller output", "O2 flow", "DO"),
        start_h=(72.0, 200.0),
        size=(0.35, 0.7),
        duration_h=(6.0, 48.0),
    ),
    FaultType.BASE_PUMP_FAILURE: FaultSpec(
        "base pump does not deliver",
        "fraction of base not delivered",
        ("pH", "pH controller output", "base addition", "growth"),
        start_h=(60.0, 110.0),
        size=(0.9, 1.0),
        duration_h=(18.0, 60.0),
    ),
    FaultType.HYPER_METABOLIC: FaultSpec(
        "hyper-metabolic (overflow) culture profile",
        "glucose uptake multiplier",
        ("glucose uptake", "lactate", "OUR", "titre"),
        start_h=(0.0, 72.0),
        size=(1.4, 1.9),
        ramp_h=(12.0, 36.0),
    ),
}


@dataclass(frozen=True)
class Fault:
    """Ground truth of one injected fault.

    ``end_h`` is None when the fault persists to the end of the batch; ``detail`` holds
    kind-specific facts (e.g. ``probe``: 1 = control probe, 2 = redundant probe;
    ``ramp_h``; ``media_lot``).
    """

    type: FaultType
    start_h: float
    size: float
    end_h: float | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def size_unit(self) -> str:
        return FAULT_CATALOGUE[self.type].size_unit

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready ground-truth record."""
        return {
            "type": str(self.type),
            "start_h": round(self.start_h, 3),
            "end_h": None if self.end_h is None else round(self.end_h, 3),
            "size": round(self.size, 4),
            "size_unit": self.size_unit,
            "description": FAULT_CATALOGUE[self.type].description,
            "expected_to_move": list(FAULT_CATALOGUE[self.type].moves),
            "detail": dict(self.detail),
        }


def sample_fault(kind: FaultType, rng: np.random.Generator, duration_h: float) -> Fault:
    """Draw one fault of ``kind`` with a random start, size (and duration) from its spec."""
    spec = FAULT_CATALOGUE[kind]
    hi = min(spec.start_h[1], duration_h * 0.8)  # short runs squeeze the window
    lo = min(spec.start_h[0], hi)
    start = float(rng.uniform(lo, hi)) if hi > lo else lo
    size = float(rng.uniform(*spec.size))
    if spec.signed and rng.random() < 0.5:
        size = -size
    end = None
    if spec.duration_h is not None:
        end = min(start + float(rng.uniform(*spec.duration_h)), duration_h)
    detail: dict[str, Any] = {}
    if spec.ramp_h is not None:
        detail["ramp_h"] = round(float(rng.uniform(*spec.ramp_h)), 2)
    if kind is FaultType.DO_PROBE_DRIFT:
        detail["probe"] = int(rng.integers(1, 3))
    if kind is FaultType.POOR_MEDIA_LOT:
        detail["media_lot"] = f"L{int(rng.integers(10000, 99999))}"
    return Fault(kind, round(start, 3), size, None if end is None else round(end, 3), detail)


def sample_faults(
    rng: np.random.Generator,
    fault_rate: float,
    weights: Mapping[FaultType, float],
    duration_h: float,
    second_fault_rate: float = 0.08,
) -> tuple[Fault, ...]:
    """Draw the faults of one batch: none (probability ``1 - fault_rate``), one, or two.

    ``weights`` (relative frequencies per kind, e.g. from a site profile) pick the kinds.
    """
    if not 0.0 <= fault_rate <= 1.0:
        raise ValueError(f"fault_rate must be within [0, 1]; got {fault_rate} instead")
    if rng.random() >= fault_rate:
        return ()
    kinds = list(weights)
    w = np.asarray([weights[k] for k in kinds], dtype=float)
    first = kinds[int(rng.choice(len(kinds), p=w / w.sum()))]
    faults = [sample_fault(first, rng, duration_h)]
    if rng.random() < second_fault_rate:
        others = [k for k in kinds if k is not first]
        wo = np.asarray([weights[k] for k in others], dtype=float)
        second = others[int(rng.choice(len(others), p=wo / wo.sum()))]
        faults.append(sample_fault(second, rng, duration_h))
    return tuple(sorted(faults, key=lambda f: f.start_h))


@dataclass(frozen=True, eq=False)
class FaultSchedule:
    """Faults of stacked batches as arrays: per kind, start, end, size and ramp per batch.

    A batch without a fault of a kind has ``size = 0`` for it, which makes the effect an
    identity. Build it with :meth:`from_faults`.
    """

    start: Mapping[FaultType, FloatArray]
    end: Mapping[FaultType, FloatArray]
    size: Mapping[FaultType, FloatArray]
    ramp: Mapping[FaultType, FloatArray]
    drift_probe: FloatArray  # 1 or 2 per batch (probe affected by do_probe_drift)
    kinds: frozenset[FaultType] = frozenset()  # kinds present in at least one batch

    @staticmethod
    def from_faults(per_batch: Sequence[Sequence[Fault]]) -> FaultSchedule:
        n = len(per_batch)
        start = {k: np.full(n, np.inf) for k in FaultType}
        end = {k: np.full(n, np.inf) for k in FaultType}
        size = {k: np.zeros(n) for k in FaultType}
        ramp = {k: np.full(n, 1e-6) for k in FaultType}
        probe = np.ones(n)
        for i, faults in enumerate(per_batch):
            for f in faults:
                start[f.type][i] = f.start_h
                end[f.type][i] = np.inf if f.end_h is None else f.end_h
                size[f.type][i] = f.size
                ramp[f.type][i] = max(float(f.detail.get("ramp_h", 1e-6)), 1e-6)
                if f.type is FaultType.DO_PROBE_DRIFT:
                    probe[i] = float(f.detail.get("probe", 1))
        kinds = frozenset(k for k in FaultType if np.any(size[k] != 0.0))
        return FaultSchedule(start, end, size, ramp, probe, kinds)

    def present(self, kind: FaultType) -> bool:
        """True when any stacked batch has a fault of ``kind``."""
        return kind in self.kinds

    def window(self, kind: FaultType, t_h: float) -> FloatArray | float:
        """Size of ``kind`` where ``t_h`` is inside its window, else 0."""
        if kind not in self.kinds:
            return 0.0
        active = (t_h >= self.start[kind]) & (t_h < self.end[kind])
        return np.where(active, self.size[kind], 0.0)

    def ramped(self, kind: FaultType, t_h: float) -> FloatArray | float:
        """Size of ``kind`` ramped linearly from its start over its ramp, then held."""
        if kind not in self.kinds:
            return 0.0
        frac = np.minimum(np.maximum((t_h - self.start[kind]) / self.ramp[kind], 0.0), 1.0)
        frac = np.where(t_h < self.end[kind], frac, 0.0)
        return self.size[kind] * frac
