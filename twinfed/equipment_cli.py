"""``twinfed site equipment health|drift``: equipment health at a site node, and the demo step.

``health`` computes every vessel asset's indicators per batch, judges drift per indicator
across the asset's batches, stores indicator values, drift events and recommendations in
the site graph (batches whose results changed get a new revision, so the next sync carries
them) and prints a summary per asset. ``drift`` prints the stored drift events with their
evidence and whether the batches on the asset deviated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from neo4j import Driver
from rich.table import Table

from bioprocess.degradation import Degradation, DegradationKind
from bioprocess.equipment_health.drift import DriftAssessment
from bioprocess.equipment_health.indicators import INDICATORS
from site_node.config import SiteSettings
from site_node.db import connect
from site_node.equipment.service import HealthReport, stored_drifts, update_equipment_health
from twinfed.console import out

equipment_app = typer.Typer(help="Equipment health: indicators per asset and batch, drift "
                                 "across batches, maintenance recommendations.",
                            no_args_is_help=True)

UriOption = Annotated[str | None, typer.Option("--neo4j-uri", help="bolt URI of the site's "
                                               "Neo4j (default: TWINFED_SITE_NEO4J_URI)")]

#: Assets that degrade in the demo campaign (``twinfed demo``): a sparger fouling by 12 % of
#: its clean kLa per batch at Basel, a DO probe slipping 2.5 % air saturation per batch at
#: Singapore, both from the asset's second batch on.
DEMO_DEGRADATIONS: tuple[Degradation, ...] = (
    Degradation("SITE-A", "BR-2000-1", DegradationKind.SPARGER_FOULING, 2, 0.12),
    Degradation("SITE-B", "SG-BR502", DegradationKind.DO_PROBE_CALIBRATION_SLIP, 2, 2.5),
)


def _settings(neo4j_uri: str | None) -> SiteSettings:
    return SiteSettings(**({"neo4j_uri": neo4j_uri} if neo4j_uri else {}))


def _site_code(driver: Driver, settings: SiteSettings) -> str | None:
    if settings.code:
        return settings.code
    rows, _, _ = driver.execute_query("MATCH (s:Site) RETURN s.code AS code LIMIT 1",
                                      database_=settings.neo4j_database, routing_="r")
    return rows[0]["code"] if rows else None


def describe_drift(d: DriftAssessment) -> str:
    """One drift in words: the evidence, the fitted trend, the tests and the action."""
    spec = INDICATORS[d.indicator]
    values = ", ".join(f"{b} {v:.3g}" for b, v in zip(d.batches, d.values, strict=True))
    detected = d.batches[d.detected_index] if d.detected_index is not None else "-"
    change = d.batches[d.change_index] if d.change_index is not None else "-"
    return (f"{d.asset} {spec.label} ({d.indicator}, {spec.unit}): {values}; "
            f"trend {d.slope_per_batch:+.3g}/batch (Theil-Sen), Mann-Kendall S={d.mk_s} "
            f"p={d.mk_p:.3f}, CUSUM {d.cusum_max:.1f}, noise {d.sigma:.3g}; rule: {d.rule}; "
            f"detected after {detected}, change began at {change}. "
            f"Recommendation: {d.recommendation()}")


def print_health(report: HealthReport) -> None:
    """Per asset: batches, indicators assessed, drifting indicators; then each drift."""
    table = Table(title=f"{report.site}: equipment health", show_lines=False)
    for column in ("asset", "kind", "process", "batches", "indicators assessed", "drifting"):
        table.add_column(column)
    for a in report.assets:
        drifting = (", ".join(d.indicator for d in a.drifts) or "no drift" if a.assessments
                    else "not judged (a trend needs 4 batches)")
        table.add_row(a.asset, a.kind, a.process, str(len(a.batches)), str(len(a.assessments)),
                      drifting)
    out.print(table)
    for d in report.drifts:
        out.print(f"  [yellow]drift[/] {describe_drift(d)}", highlight=False, soft_wrap=True)
    for note in report.notes:
        out.print(f"  note: {note}", highlight=False)
    out.print(f"{len(report.changed_batches)} batches with changed equipment results got a new "
              "revision", highlight=False)


def show_equipment_health(drivers: dict[str, Driver],
                          truth: Sequence[Degradation] = ()) -> dict[str, HealthReport]:
    """Demo step: compute, store and print equipment health at every site; compare with the
    degradations the campaign injected (ground truth)."""
    reports = {}
    for site, driver in drivers.items():
        out.rule(f"{site}: equipment health")
        reports[site] = report = update_equipment_health(driver, site)
        print_health(report)
    injected = {(d.site, d.asset): d for d in truth}
    out.rule("equipment health against the campaign's ground truth")
    for site, report in reports.items():
        for a in report.assets:
            d = injected.get((site, a.asset))
            said = (", ".join(sorted({x.indicator for x in a.drifts})) if a.drifts
                    else "no drift" if a.assessments
                    else f"not judged ({len(a.batches)} batches; a trend needs 4)")
            real = (f"degrading ({d.kind}, from its batch {d.onset_use}, {d.rate:g}/batch)"
                    if d else "no degradation")
            out.print(f"  {site} {a.asset} ({a.process}): {said}; ground truth: {real}",
                      highlight=False)
    return reports


@equipment_app.command("health")
def health_command(neo4j_uri: UriOption = None) -> None:
    """Compute and store indicators, drift events and recommendations; print per asset."""
    settings = _settings(neo4j_uri)
    driver = connect(settings)
    try:
        code = _site_code(driver, settings)
        if code is None:
            out.print("the site holds no batches yet: no equipment to assess")
            return
        print_health(update_equipment_health(driver, code, database=settings.neo4j_database))
    finally:
        driver.close()


def _print_event(e: dict[str, Any]) -> None:
    values = ", ".join(f"{b} {v:.3g}" for b, v in zip(e["batches"], e["values"], strict=True))
    deviating = [b["batch_id"] for b in e["evidence"]
                 if b["deviations"] or b["deviation_events"]]
    out.print(f"[bold]{e['asset']}[/] ({e.get('asset_kind') or '?'}, process "
              f"{e.get('process') or '?'}) {e['indicator']} "
              f"({e['unit']}), {e['rule']}: {values}; slope {e['slope_per_batch']:+.3g}/batch, "
              f"p={e['mk_p']:.3f}; batches on it that deviated: "
              f"{', '.join(deviating) or 'none'}", highlight=False, soft_wrap=True)
    out.print(f"  {e['recommendation']}", highlight=False, soft_wrap=True)


@equipment_app.command("drift")
def drift_command(neo4j_uri: UriOption = None) -> None:
    """Print the stored drift events with evidence and whether batches on the asset deviated."""
    settings = _settings(neo4j_uri)
    driver = connect(settings)
    try:
        events = stored_drifts(driver, database=settings.neo4j_database)
    finally:
        driver.close()
    if not events:
        out.print("no equipment drift stored (run `twinfed site equipment health` first)")
        return
    for e in events:
        _print_event(e)
