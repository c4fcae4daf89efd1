"""Plot the process twin's output so a person can judge whether it looks like real data.

Writes to ``docs/img/``:

* ``twin_sites.png`` — fault-free batches of each site: VCD, glucose, lactate, titre (true
  states, with the site's offline results as dots), online DO and pH (measured).
* ``twin_faults.png`` — every fault kind at Site A against its fault-free counterfactual,
  on the signals it should move.
* ``twin_raman.png`` — Raman spectra of one batch over time, and the three analysers.
* ``twin_whatif.png`` — 1,000 virtual batches: titre against feed rate and shift day.

Usage: ``python scripts/plot_twin.py [--seed 7] [--out docs/img]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bioprocess.campaign import BatchRecord, CampaignConfig, generate_campaign  # noqa: E402
from bioprocess.faults import Fault, FaultType  # noqa: E402
from bioprocess.kinetics import MOLAR_MASS_G_PER_MMOL as MM  # noqa: E402
from bioprocess.scenarios import BASELINE, run_scenarios  # noqa: E402
from bioprocess.sites import (  # noqa: E402
    ANALYTE_QUANTITY,
    SIGNAL_QUANTITY,
    builtin_site_profiles,
    nominal_kinetics,
    nominal_recipe,
    vessel_capacity,
)
from bioprocess.units import converter  # noqa: E402
from bioprocess.whatif import random_design, run_whatif  # noqa: E402

SITE_COLOURS = {"SITE-A": "tab:blue", "SITE-B": "tab:orange", "SITE-C": "tab:green"}


def _to_canonical(values: np.ndarray, quantity: str, unit: str) -> np.ndarray:
    conv = converter(quantity, unit)
    a, b = float(conv(0.0)), float(conv(1.0))
    return (np.asarray(values, dtype=float) - a) / (b - a)


def _online(batch: BatchRecord, signal: str) -> tuple[np.ndarray, np.ndarray]:
    tag = batch.site.tag(signal)
    if tag is None:
        raise KeyError(signal)
    col = batch.process_data[["t_h", tag.name]].dropna()
    return col["t_h"].to_numpy() / 24.0, _to_canonical(
        col[tag.name].to_numpy(), SIGNAL_QUANTITY[signal], tag.unit
    )


def _lab(batch: BatchRecord, analyte: str) -> tuple[np.ndarray, np.ndarray]:
    spec = next(a for a in batch.site.analytes if a.analyte == analyte)
    rows = batch.lab_data[batch.lab_data["analyte"] == spec.code]
    return rows["t_h"].to_numpy() / 24.0, _to_canonical(
        rows["value"].to_numpy(), ANALYTE_QUANTITY[analyte], spec.unit
    )


def plot_sites(campaign, path: Path) -> None:
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5), sharex=True)
    panels = [
        ("xv", "vcd", 1.0, "Viable cell density (1e6 cells/mL)"),
        ("glc", "glc", MM["glucose"], "Glucose (g/L)"),
        ("lac", "lac", MM["lactate"], "Lactate (g/L)"),
        ("titre", "titre", 1.0, "Titre (g/L)"),
    ]
    for site in campaign.sites:
        good = [b for b in campaign.batches_at(site.code, "SP-ACME") if not b.faults][:3]
        colour = SITE_COLOURS.get(site.code, "k")
        for i, b in enumerate(good):
            label = f"{site.code} ({site.scale_l:g} L)" if i == 0 else None
            t = b.truth["t_h"].to_numpy() / 24.0
            for ax, (state, analyte, factor, _) in zip(axes.flat[:4], panels, strict=True):
                ax.plot(t, b.truth[state] * factor, color=colour, lw=1.2, alpha=0.8, label=label)
                tl, vl = _lab(b, analyte)
                if analyte in ("glc", "lac"):
                    vl = vl * factor
                ax.plot(tl, vl, "o", color=colour, ms=2.5, alpha=0.6)
            td, do = _online(b, "do_pv")
            axes.flat[4].plot(td, do, color=colour, lw=0.5, alpha=0.6, label=label)
            tp, ph = _online(b, "ph_pv")
            axes.flat[5].plot(tp, ph, color=colour, lw=0.5, alpha=0.6, label=label)
    for ax, (_, _, _, title) in zip(axes.flat[:4], panels, strict=True):
        ax.set_title(title)
    axes.flat[4].set_title("Dissolved oxygen, online (% air saturation)")
    axes.flat[5].set_title("pH, online")
    axes.flat[4].set_ylim(0, 110)
    for ax in axes[1]:
        ax.set_xlabel("day")
    axes.flat[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(
        "Process twin: fault-free mAb-101 fed-batch runs at three sites "
        "(lines = true state, dots = offline lab)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fault_scenarios() -> dict[str, list[Fault]]:
    F = FaultType
    return {
        "DO drift, redundant probe": [
            Fault(F.DO_PROBE_DRIFT, 60, -15, None, {"ramp_h": 48, "probe": 2})
        ],
        "DO drift, control probe": [
            Fault(F.DO_PROBE_DRIFT, 60, -15, None, {"ramp_h": 48, "probe": 1})
        ],
        "DO probe lag (45 min)": [Fault(F.DO_PROBE_LAG, 60, 45, None)],
        "pH probe offset (+0.15)": [Fault(F.PH_PROBE_OFFSET, 24, 0.15, None)],
        "sparger fouling (65 %)": [Fault(F.SPARGER_FOULING, 72, 0.65, None, {"ramp_h": 36})],
        "feed pump -45 %": [Fault(F.FEED_PUMP_UNDER_DELIVERY, 96, 0.45, 260)],
        "temperature +2.5 degC": [Fault(F.TEMPERATURE_EXCURSION, 80, 2.5, 92)],
        "poor media lot (-25 %)": [Fault(F.POOR_MEDIA_LOT, 0, 0.25, None)],
        "agitation -60 %": [Fault(F.AGITATION_FAILURE, 110, 0.6, 150)],
        "base pump failure": [Fault(F.BASE_PUMP_FAILURE, 80, 1.0, 125)],
        "hyper-metabolic x1.6": [Fault(F.HYPER_METABOLIC, 24, 1.6, None, {"ramp_h": 24})],
    }


def plot_faults(path: Path, seed: int) -> None:
    site = builtin_site_profiles()[0]
    res = run_scenarios(site, fault_scenarios(), seed=seed)
    base = res[BASELINE]
    fig, axes = plt.subplots(4, 3, figsize=(15, 14))
    day = 1.0 / 24.0

    def cf(ax, x, y, label="counterfactual (no fault)"):
        ax.plot(x * day, y, color="0.55", lw=1.0, label=label)

    def fault_span(ax, name):
        for f in res[name].faults:
            end = f.end_h if f.end_h is not None else base.truth["t_h"].iloc[-1]
            ax.axvspan(f.start_h * day, end * day, color="tab:red", alpha=0.07)

    panels = list(res)[1:]
    for ax, name in zip(axes.flat, panels, strict=False):
        r = res[name]
        m, t = r.measured, r.truth
        mb, tb = base.measured, base.truth
        fault_span(ax, name)
        if name.startswith("DO drift, redundant"):
            ax.plot(
                m.t_h * day, m.do2_pv, lw=0.6, color="tab:red", label="redundant probe (measured)"
            )
            ax.plot(m.t_h * day, m.do_true, lw=0.8, color="tab:blue", label="true DO")
            ax.set_ylabel("DO %")
        elif name.startswith("DO drift, control"):
            ax.plot(m.t_h * day, m.do_pv, lw=0.6, color="tab:red", label="control probe (measured)")
            ax.plot(m.t_h * day, m.do_true, lw=0.8, color="tab:blue", label="true DO")
            ax.set_ylabel("DO %")
        elif name.startswith("DO probe lag"):
            sel = (m.t_h > 100) & (m.t_h < 130)
            selb = (mb.t_h > 100) & (mb.t_h < 130)
            cf(ax, mb.t_h[selb], mb.do_true[selb], "true DO, no fault")
            ax.plot(m.t_h[sel] * day, m.do_true[sel], lw=0.8, color="tab:blue", label="true DO")
            ax.plot(
                m.t_h[sel] * day, m.do_pv[sel], lw=0.8, color="tab:red", label="measured (lagged)"
            )
            ax.set_ylabel("DO %")
            ax.set_xlim(100 * day, 130 * day)
        elif name.startswith("pH probe"):
            cf(ax, tb.t_h, tb.ph_true)
            ax.plot(m.t_h * day, m.ph_pv, lw=0.5, color="tab:red", label="online pH")
            ax.plot(t.t_h * day, t.ph_true, lw=1.0, color="tab:blue", label="true (offline) pH")
            ax.set_ylabel("pH")
        elif name.startswith("sparger"):
            cf(ax, mb.t_h, mb.do_out)
            ax.plot(m.t_h * day, m.do_out, lw=0.6, color="tab:red", label="DO controller output %")
            ax.plot(m.t_h * day, m.do_pv, lw=0.6, color="tab:blue", label="DO % (measured)")
            ax.set_ylabel("%")
        elif name.startswith("feed"):
            cf(ax, tb.t_h, tb.titre * 100)
            cf(ax, tb.t_h, tb.feed_added, None)
            ax.plot(t.t_h * day, t.feed_added, color="tab:purple", label="feed delivered, L")
            ax.plot(t.t_h * day, t.titre * 100, color="tab:red", label="titre x100, g/L")
        elif name.startswith("temperature"):
            cf(ax, mb.t_h, mb.temp_pv)
            ax.plot(m.t_h * day, m.temp_pv, lw=0.8, color="tab:red", label="temperature, degC")
            ax2 = ax.twinx()
            ax2.plot(m.t_h * day, m.temp_out, lw=0.5, color="tab:green", alpha=0.6)
            ax2.set_ylabel("TIC output %", color="tab:green")
        elif name.startswith("poor media"):
            cf(ax, tb.t_h, tb.xv)
            ax.plot(t.t_h * day, t.xv, color="tab:red", label="VCD 1e6/mL")
            ax.plot(t.t_h * day, t.titre * 4, color="tab:purple", label="titre x4, g/L")
            cf(ax, tb.t_h, tb.titre * 4, None)
        elif name.startswith("agitation"):
            cf(ax, mb.t_h, mb.do_pv)
            ax.plot(m.t_h * day, m.rpm_pv, lw=0.6, color="tab:purple", label="agitator rpm")
            ax.plot(m.t_h * day, m.do_pv, lw=0.6, color="tab:red", label="DO %")
            ax.plot(m.t_h * day, m.do_out, lw=0.6, color="tab:green", label="DO output %")
        elif name.startswith("base pump"):
            cf(ax, mb.t_h, mb.ph_pv)
            ax.plot(m.t_h * day, m.ph_pv, lw=0.6, color="tab:red", label="pH (online)")
            ax2 = ax.twinx()
            ax2.plot(m.t_h * day, m.base_total_l, color="tab:purple", lw=1.0)
            ax2.plot(mb.t_h * day, mb.base_total_l, color="0.55", lw=0.8, ls="--")
            ax2.set_ylabel("base added, L", color="tab:purple")
        elif name.startswith("hyper"):
            cf(ax, tb.t_h, tb.lac * MM["lactate"])
            cf(ax, tb.t_h, tb.our, None)
            cf(ax, tb.t_h, tb.titre, None)
            ax.plot(t.t_h * day, t.lac * MM["lactate"], color="tab:red", label="lactate g/L")
            ax.plot(t.t_h * day, t.our, color="tab:blue", label="OUR mmol/L/h")
            ax.plot(t.t_h * day, t.titre, color="tab:purple", label="titre g/L")
        ax.set_title(
            f"{name}: titre {r.final_titre_g_l:.2f} vs {base.final_titre_g_l:.2f} g/L", fontsize=10
        )
        ax.legend(fontsize=7, loc="best")
        ax.set_xlabel("day")
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    fig.suptitle(
        "Injected faults at Site A (red band = fault active) against the fault-free "
        "counterfactual (grey)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_raman(campaign, path: Path) -> None:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 5))
    b = campaign.batches[0]
    r = b.raman
    for i in np.linspace(0, len(r.t_h) - 1, 6).astype(int):
        ax1.plot(r.wavenumbers, r.spectra[i], lw=0.6, label=f"day {r.t_h[i] / 24:.1f}")
    ax1.set_title(f"{b.site.code} {b.batch_id}: in-line Raman ({r.instrument_id})")
    ax1.set_xlabel("Raman shift (cm-1)")
    ax1.set_ylabel("counts")
    ax1.legend(fontsize=8)
    for site in campaign.sites:
        bb = campaign.batches_at(site.code)[0]
        mid = len(bb.raman.t_h) // 2
        ax2.plot(
            bb.raman.wavenumbers,
            bb.raman.spectra[mid],
            lw=0.6,
            color=SITE_COLOURS.get(site.code),
            label=f"{site.code}: {site.raman.model}",
        )
    ax2.set_xlim(800, 1700)
    ax2.set_title("Fingerprint region on the three sites' analysers (mid-run)")
    ax2.set_xlabel("Raman shift (cm-1)")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_whatif(path: Path) -> None:
    site = builtin_site_profiles()[0]
    res = run_whatif(
        random_design(1000, seed=1),
        base_recipe=nominal_recipe(site),
        kinetics=nominal_kinetics(site),
        vessel=vessel_capacity(site),
    )
    df = res.to_frame()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    sc = axes[0].scatter(
        df.feed_pct_per_day, df.temp_shift_day, c=df.final_titre_g_l, s=8, cmap="viridis"
    )
    fig.colorbar(sc, ax=axes[0], label="final titre g/L")
    axes[0].set_xlabel("feed rate (% V0 per day)")
    axes[0].set_ylabel("temperature-shift day")
    axes[1].scatter(df.seed_density, df.final_titre_g_l, s=6, alpha=0.5)
    axes[1].set_xlabel("seeding density (1e6 cells/mL)")
    axes[1].set_ylabel("final titre g/L")
    axes[2].scatter(df.do_setpoint_pct, df.peak_vcd_e6_per_ml, s=6, alpha=0.5)
    axes[2].set_xlabel("DO set point (%)")
    axes[2].set_ylabel("peak VCD (1e6/mL)")
    fig.suptitle(f"What-if at SITE-A: 1,000 virtual 14-day batches in {res.elapsed_s:.1f} s")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    campaign = generate_campaign(CampaignConfig(seed=args.seed))
    plot_sites(campaign, args.out / "twin_sites.png")
    plot_faults(args.out / "twin_faults.png", args.seed)
    plot_raman(campaign, args.out / "twin_raman.png")
    plot_whatif(args.out / "twin_whatif.png")
    for name in ("twin_sites", "twin_faults", "twin_raman", "twin_whatif"):
        print(args.out / f"{name}.png")


if __name__ == "__main__":
    main()
