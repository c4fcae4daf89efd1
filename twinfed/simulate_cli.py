"""``twinfed simulate``: generate multi-site campaigns and run what-if studies on the twin.

The commands are thin: they parse options, call :func:`bioprocess.campaign.generate_campaign`
/ :func:`twinfed.bundle_writer.write_campaign` or :func:`bioprocess.whatif.run_whatif`, and
show progress and a summary with rich.
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bioprocess.campaign import Campaign, CampaignConfig, generate_campaign
from bioprocess.errors import TwinfedError
from bioprocess.sites import (
    builtin_site_profiles,
    nominal_kinetics,
    nominal_recipe,
    vessel_capacity,
)
from bioprocess.whatif import grid_design, random_design, run_whatif
from twinfed.bundle_writer import write_campaign

simulate_app = typer.Typer(
    help="Simulate the process twin: multi-site campaigns with known faults, what-if runs.",
    no_args_is_help=True,
)
console = Console()


class BundleFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


class DesignKind(StrEnum):
    random = "random"
    grid = "grid"


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=2)


def _summary(campaign: Campaign) -> Table:
    table = Table(title="Campaign")
    for col in ("site", "sponsor", "batches", "with faults", "deviations", "mean titre g/L"):
        table.add_column(col, justify="right" if col != "site" else "left")
    groups: dict[tuple[str, str], list] = {}
    for b in campaign.batches:
        groups.setdefault((b.site.code, b.process.sponsor_code), []).append(b)
    for (site, sponsor), batches in groups.items():
        table.add_row(
            site,
            sponsor,
            str(len(batches)),
            str(sum(1 for b in batches if b.faults)),
            str(sum(len(b.deviations) for b in batches)),
            f"{sum(b.final_titre_g_l for b in batches) / len(batches):.2f}",
        )
    return table


@simulate_app.command("campaign")
def campaign_command(
    out: Annotated[Path, typer.Option("--out", help="Output folder (must be empty).")],
    sites: Annotated[int, typer.Option(help="Number of sites (1-3, built-in profiles).")] = 3,
    batches: Annotated[int, typer.Option(help="Main-sponsor batches per site.")] = 8,
    fault_rate: Annotated[float, typer.Option(help="Probability that a batch has a fault.")] = 0.3,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same campaign.")] = 7,
    days: Annotated[float, typer.Option(help="Batch duration, days.")] = 14.0,
    raman_every_h: Annotated[
        float | None, typer.Option(help="Raman interval, h (default: each site's own).")
    ] = None,
    second_sponsor_batches: Annotated[
        int, typer.Option(help="Extra batches for sponsor SP-BETA at SITE-B (0 = none).")
    ] = 2,
    fmt: Annotated[
        BundleFormat, typer.Option("--format", help="Online-tag file format.")
    ] = BundleFormat.csv,
    overwrite: Annotated[
        bool, typer.Option(help="Replace a previous campaign folder at --out.")
    ] = False,
) -> None:
    """Generate a multi-site campaign and write it as ingest bundles plus ground truth."""
    config = CampaignConfig(
        n_sites=sites,
        batches_per_site=batches,
        fault_rate=fault_rate,
        seed=seed,
        days=days,
        raman_every_h=raman_every_h,
        second_sponsor_batches=second_sponsor_batches,
    )
    t0 = time.perf_counter()
    columns = (
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as bar:
            sim = bar.add_task("simulating batches", total=1.0)
            render = bar.add_task("rendering site records", total=1.0)

            def on_progress(stage: str, fraction: float) -> None:
                bar.update(sim if stage == "simulate" else render, completed=fraction)

            campaign = generate_campaign(config, progress=on_progress)
            bar.update(sim, completed=1.0)
            t_gen = time.perf_counter() - t0
            write = bar.add_task("writing bundles", total=len(campaign.batches))
            written = write_campaign(
                campaign,
                out,
                fmt=fmt.value,
                overwrite=overwrite,
                progress=lambda _b, done, _n: bar.update(write, completed=done),
            )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    except TwinfedError as exc:
        raise _fail(str(exc)) from None
    console.print(_summary(campaign))
    console.print(
        f"{written.n_batches} batches in {len(written.bundles)} bundles, "
        f"{written.n_bytes / 1e6:.1f} MB -> {written.out_dir}  "
        f"(simulated in {t_gen:.1f} s, total {time.perf_counter() - t0:.1f} s)"
    )
    console.print(f"ground truth: {written.ground_truth}")


@simulate_app.command("whatif")
def whatif_command(
    site: Annotated[str, typer.Option(help="Site whose set points and vessel to use.")] = "SITE-A",
    n: Annotated[int, typer.Option(help="Virtual batches (random design).")] = 1000,
    design: Annotated[DesignKind, typer.Option(help="random (Latin hypercube) or grid.")] = (
        DesignKind.random
    ),
    seed: Annotated[int, typer.Option(help="Seed of the random design.")] = 0,
    days: Annotated[float, typer.Option(help="Batch duration, days.")] = 14.0,
    top: Annotated[int, typer.Option(help="Rows to show, best titre first.")] = 10,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write all results to this CSV file.")
    ] = None,
) -> None:
    """Run virtual batches over feed rate, shift day, DO set point and seeding density."""
    profiles = {p.code: p for p in builtin_site_profiles()}
    if site not in profiles:
        raise _fail(f"site must be one of {sorted(profiles)}; got {site!r} instead")
    prof = profiles[site]
    try:
        d = random_design(n, seed=seed) if design is DesignKind.random else grid_design()
    except ValueError as exc:
        raise _fail(str(exc)) from None
    result = run_whatif(
        d,
        base_recipe=nominal_recipe(prof, days),
        kinetics=nominal_kinetics(prof),
        vessel=vessel_capacity(prof),
        days=days,
    )
    frame = result.to_frame()
    table = Table(title=f"What-if at {site}: best {min(top, len(frame))} of {len(frame)}")
    cols = {
        "feed_pct_per_day": "feed %/d",
        "temp_shift_day": "shift day",
        "do_setpoint_pct": "DO SP %",
        "seed_density": "seed e6/mL",
        "final_titre_g_l": "titre g/L",
        "peak_vcd_e6_per_ml": "peak VCD",
        "final_viability_pct": "viab. %",
        "peak_lactate_g_l": "peak lac g/L",
    }
    for label in cols.values():
        table.add_column(label, justify="right")
    for _, row in result.best(top).iterrows():
        table.add_row(*(f"{row[k]:.2f}" for k in cols))
    console.print(table)
    console.print(
        f"{len(frame)} virtual {days:g}-day batches in {result.elapsed_s:.2f} s "
        f"({len(frame) / result.elapsed_s:,.0f} batches/s)"
    )
    if out is not None:
        frame.to_csv(out, index=False)
        console.print(f"results: {out}")
