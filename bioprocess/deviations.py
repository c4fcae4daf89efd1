"""What a site's quality system records: deviations opened from alarms and checks.

The QMS does not see the ground truth. It sees alarms on the *measured* signals, offline
results and routine checks, opens a deviation when one of its rules fires, and an
investigation then assigns a root cause — the right one with a site-specific probability,
otherwise "no assignable cause". So, as in a real plant, some faults are never recorded
(a control-probe drift that no check catches), some are recorded late (feed shortfall at
the next daily reconciliation), and alarms without a fault behind them get a deviation
without a root cause.

Rules (thresholds from the site profile's ``[alarms]`` table): low DO, low pH,
temperature outside limits (suppressed after a set-point change), agitation speed below
command, online/offline pH mismatch, redundant-probe DO disagreement, feed shortfall at
daily reconciliation, lactate above action limit, low peak VCD, and the post-run DO probe
verification (offset and response time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bioprocess.faults import Fault, FaultType
from bioprocess.kinetics import FloatArray
from bioprocess.sites import QmsCode, SiteProfile

NO_ROOT_CAUSE = "No assignable root cause identified"


@dataclass(frozen=True)
class CapaRecord:
    action: str
    effective: bool | None


@dataclass(frozen=True)
class DeviationRecord:
    """One deviation as the QMS holds it (ids are assigned by the campaign)."""

    opened_h: float
    category: str
    failure_mode: str
    description: str
    root_cause: str | None
    status: str
    capa: tuple[CapaRecord, ...]
    rule: str
    fault_type: FaultType | None  # ground truth: the fault behind it, if any


@dataclass(frozen=True)
class _Trigger:
    rule: str
    t_h: float
    detail: str
    explains: tuple[FaultType, ...]
    probabilistic: bool = False


def _sustained_fast(mask: np.ndarray, t: FloatArray, min_h: float) -> tuple[float, float] | None:
    """First sustained run (start time, duration h) of at least ``min_h``, vectorised."""
    if not mask.any():
        return None
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    dt = float(t[1] - t[0]) if t.size > 1 else 1.0
    lengths = (ends - starts) * dt
    ok = np.flatnonzero(lengths >= min_h)
    if ok.size == 0:
        return None
    i = ok[0]
    return float(t[starts[i]]) + min_h, float(lengths[i])


def _triggers(
    t: FloatArray,
    s: Mapping[str, FloatArray],
    lab: Mapping[str, tuple[FloatArray, FloatArray]],
    profile: SiteProfile,
    shift_h: float,
    faults: Sequence[Fault],
) -> list[_Trigger]:
    a = profile.alarms
    out: list[_Trigger] = []
    after_start = t > 12.0
    ft = FaultType

    low_do = (s["do_pv"] < s["do_sp"] - a.get("do_low_margin_pct", 10.0)) & after_start
    hit = _sustained_fast(low_do, t, a.get("do_low_min_h", 1.0))
    if hit:
        out.append(
            _Trigger(
                "do_low",
                hit[0],
                f"DO below alarm limit for {hit[1]:.1f} h",
                (
                    ft.SPARGER_FOULING,
                    ft.AGITATION_FAILURE,
                    ft.DO_PROBE_LAG,
                    ft.HYPER_METABOLIC,
                    ft.DO_PROBE_DRIFT,
                ),
            )
        )
    low_ph = (s["ph_pv"] < s["ph_sp"] - a.get("ph_dev", 0.1)) & after_start
    hit = _sustained_fast(low_ph, t, 1.0)
    if hit:
        out.append(
            _Trigger(
                "ph_low",
                hit[0],
                f"pH below alarm limit for {hit[1]:.1f} h",
                (ft.BASE_PUMP_FAILURE,),
            )
        )
    quiet = (np.abs(t - shift_h) > 8.0) & (t > 2.0)
    temp_off = (np.abs(s["temp_pv"] - s["temp_sp"]) > a.get("temp_dev_c", 0.5)) & quiet
    hit = _sustained_fast(temp_off, t, 0.25)
    if hit:
        peak = float(np.max(np.abs(s["temp_pv"] - s["temp_sp"])[temp_off]))
        out.append(
            _Trigger(
                "temperature",
                hit[0],
                f"temperature up to {peak:.1f} degC from set point for {hit[1]:.1f} h",
                (ft.TEMPERATURE_EXCURSION,),
            )
        )
    slow = s["rpm_pv"] < (1.0 - a.get("agitation_dev_frac", 0.1)) * s["rpm_sp"]
    hit = _sustained_fast(slow, t, 10.0 / 60.0)
    if hit:
        out.append(
            _Trigger(
                "agitation",
                hit[0],
                f"agitator speed below command for {hit[1]:.1f} h",
                (ft.AGITATION_FAILURE,),
            )
        )
    if profile.tag("do2_pv") is not None:
        apart = np.abs(s["do_pv"] - s["do2_pv"]) > a.get("probe_disagree_pct", 8.0)
        hit = _sustained_fast(apart & after_start, t, 1.0)
        if hit:
            out.append(
                _Trigger(
                    "do_disagree", hit[0], "DO probes disagree beyond limit", (ft.DO_PROBE_DRIFT,)
                )
            )
    # daily checks at lab sampling times
    t_lab, ph_off = lab["ph"]
    ph_on = np.interp(t_lab, t, s["ph_pv"])
    bad = np.flatnonzero(np.abs(ph_on - ph_off) > a.get("ph_offline_diff", 0.08))
    if bad.size:
        i = bad[0]
        out.append(
            _Trigger(
                "ph_offline",
                float(t_lab[i]),
                f"online pH {ph_on[i]:.2f} vs offline {ph_off[i]:.2f}",
                (ft.PH_PROBE_OFFSET,),
            )
        )
    fed_sp = np.concatenate(
        [[0.0], np.cumsum(0.5 * (s["feed_sp_lph"][1:] + s["feed_sp_lph"][:-1]) * np.diff(t))]
    )
    expected = np.interp(t_lab, t, fed_sp)
    delivered = np.interp(t_lab, t, s["feed_total_l"])
    short = (expected > 0.02 * s["weight_kg"][0]) & (
        delivered < (1.0 - a.get("feed_shortfall", 0.1)) * expected
    )
    bad = np.flatnonzero(short)
    if bad.size:
        i = bad[0]
        out.append(
            _Trigger(
                "feed_shortfall",
                float(t_lab[i]),
                f"feed delivered {delivered[i]:.1f} L of {expected[i]:.1f} L expected",
                (ft.FEED_PUMP_UNDER_DELIVERY,),
            )
        )
    t_lac, lac = lab["lac"]
    bad = np.flatnonzero(lac > a.get("lactate_high_mM", 45.0))
    if bad.size:
        out.append(
            _Trigger(
                "lactate_high",
                float(t_lac[bad[0]]),
                f"lactate {lac[bad[0]]:.0f} mM above action limit",
                (ft.HYPER_METABOLIC, ft.PH_PROBE_OFFSET),
            )
        )
    t_vcd, vcd = lab["vcd"]
    by_d8 = t_vcd <= 8 * 24.0 + 12.0
    if by_d8.any() and vcd[by_d8].max() < a.get("peak_vcd_low", 11.0):
        out.append(
            _Trigger(
                "low_growth",
                float(t_vcd[by_d8][-1]),
                f"peak VCD {vcd[by_d8].max():.1f} e6/mL below expected range",
                (
                    ft.POOR_MEDIA_LOT,
                    ft.BASE_PUMP_FAILURE,
                    ft.TEMPERATURE_EXCURSION,
                    ft.HYPER_METABOLIC,
                    ft.FEED_PUMP_UNDER_DELIVERY,
                ),
                probabilistic=True,
            )
        )
    for f in faults:  # post-run verification of the control DO probe (offset, response)
        if f.type is FaultType.DO_PROBE_DRIFT and f.detail.get("probe", 1) == 1 and abs(f.size) > 5:
            out.append(
                _Trigger(
                    "do_probe_check",
                    float(t[-1]),
                    f"DO probe off by {f.size:+.0f} % at post-run verification",
                    (ft.DO_PROBE_DRIFT,),
                    probabilistic=True,
                )
            )
        if f.type is FaultType.DO_PROBE_LAG and f.size > 10:
            out.append(
                _Trigger(
                    "do_probe_check",
                    float(t[-1]),
                    f"DO probe response time {f.size:.0f} min at post-run verification",
                    (ft.DO_PROBE_LAG,),
                    probabilistic=True,
                )
            )
    return sorted(out, key=lambda tr: tr.t_h)


def record_deviations(
    t: FloatArray,
    signals: Mapping[str, FloatArray],
    lab: Mapping[str, tuple[FloatArray, FloatArray]],
    profile: SiteProfile,
    shift_h: float,
    faults: Sequence[Fault],
    rng: np.random.Generator,
) -> list[DeviationRecord]:
    """Deviations the site's QMS opens for one batch.

    Parameters
    ----------
    t : ndarray
        Time grid of ``signals``, h.
    signals : mapping
        Measured online signals in canonical units (``do_pv``, ``do_sp``, ``do2_pv``,
        ``ph_pv``, ``ph_sp``, ``temp_pv``, ``temp_sp``, ``rpm_pv``, ``rpm_sp``,
        ``feed_sp_lph``, ``feed_total_l``, ``weight_kg``).
    lab : mapping
        Offline results in canonical units: analyte -> (times h, values), needs ``ph``,
        ``lac`` and ``vcd``.
    profile : SiteProfile
        Alarm limits and the QMS vocabulary.
    shift_h : float
        Temperature-shift time (temperature alarms are suppressed around it).
    faults : sequence of Fault
        Ground truth, used only to decide what an investigation can find.
    rng : numpy.random.Generator
    """
    by_kind = {f.type: f for f in faults}
    opened: dict[FaultType | None, DeviationRecord] = {}
    out: list[DeviationRecord] = []
    for trig in _triggers(t, signals, lab, profile, shift_h, faults):
        cause = next(
            (k for k in trig.explains if k in by_kind and by_kind[k].start_h <= trig.t_h + 1.0),
            None,
        )
        if cause is not None and cause in opened:
            continue  # the open investigation already covers this alarm
        kind = cause if cause is not None else trig.explains[0]
        code: QmsCode = profile.qms[kind]
        if trig.probabilistic and rng.random() > code.detect_probability:
            continue
        if cause is None and trig.probabilistic:
            continue  # checks only fire on real problems
        if cause is None and any(d.rule == trig.rule for d in out):
            continue
        found = cause is not None and rng.random() < code.root_cause_found
        root = code.root_cause if found else NO_ROOT_CAUSE
        if found and cause is FaultType.POOR_MEDIA_LOT:
            root = f"{root} (lot {by_kind[cause].detail.get('media_lot', 'unknown')})"
        capa: tuple[CapaRecord, ...] = ()
        if found:
            effective = [True, False, None][int(rng.choice(3, p=[0.6, 0.15, 0.25]))]
            capa = (CapaRecord(code.capa_action, effective),)
        status = "closed" if rng.random() < 0.85 else "open"
        rec = DeviationRecord(
            opened_h=trig.t_h,
            category=code.category,
            failure_mode=code.failure_mode,
            description=f"{code.description}: {trig.detail}",
            root_cause=root,
            status=status,
            capa=capa,
            rule=trig.rule,
            fault_type=cause,
        )
        out.append(rec)
        if cause is not None:
            opened[cause] = rec
    return out
