"""``twinfed site twin ...``: replay a stored batch through the live twin, recommend set points."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from neo4j import Driver

from bioprocess.errors import TwinfedError
from bioprocess.live.ensemble import FilterSettings
from bioprocess.live.replay import LiveUpdate
from site_node.config import SiteSettings
from site_node.db import connect
from site_node.live.service import (
    FOLLOW_FRACTIONS,
    SiteTwin,
    recommend_now,
    replay,
    site_twin,
    store_recommendation,
)
from twinfed.console import out

twin_app = typer.Typer(help="The live twin: follow a batch as if live, forecast its final "
                            "titre with intervals, recommend set points within proven ranges.",
                       no_args_is_help=True)

UriOption = Annotated[str | None, typer.Option("--neo4j-uri", help="bolt URI of the site's "
                                               "Neo4j (default: TWINFED_SITE_NEO4J_URI)")]
MembersOption = Annotated[int, typer.Option("--members", min=8,
                                            help="ensemble members (more: smoother, slower)")]


def _settings(neo4j_uri: str | None) -> SiteSettings:
    return SiteSettings(**({"neo4j_uri": neo4j_uri} if neo4j_uri else {}))


def print_update(u: LiveUpdate) -> None:
    """One line per update: time, data so far, forecast with interval, status."""
    h = u.hybrid
    mu = u.parameters.get("mu_max")
    status = "" if h.knows else "  [yellow]I don't know[/]: " + "; ".join(h.flags)
    out.print(f"  {u.forecast.t_h:6.0f} h ({h.fraction:4.0%})  {u.forecast.n_assimilated:3d} "
              f"samples  final titre {h.final_titre:5.2f} g/L  90 % [{h.low:5.2f}, "
              f"{h.high:5.2f}]  width {h.high - h.low:4.2f}"
              + (f"  mu_max {mu['estimate']:.4f}/h" if mu else "") + status, highlight=False)


def print_twin(st: SiteTwin) -> None:
    r = st.twin.residual
    out.print(f"live twin of {st.process}@{st.version} at {st.site_code}, learned from "
              f"{len(st.training_batches)} other batches"
              + (f"; residual correction {'on' if r.useful else 'off'} (LOBO RMSE "
                 f"{r.rmse_cv:.2f} vs {r.rmse_uncorrected:.2f} g/L uncorrected)" if r else ""),
              highlight=False)


@twin_app.command("follow")
def follow_command(
    batch_id: Annotated[str, typer.Argument(help="the stored batch to replay as if live")],
    neo4j_uri: UriOption = None,
    members: MembersOption = 32,
) -> None:
    """Replay a stored batch as if live, printing the forecast as it narrows."""
    settings = _settings(neo4j_uri)
    driver = connect(settings)
    try:
        st = site_twin(driver, batch_id, settings=FilterSettings(n_members=members),
                       database=settings.neo4j_database)
    finally:
        driver.close()
    print_twin(st)
    _, updates = replay(st, FOLLOW_FRACTIONS)
    for u in updates:
        print_update(u)
    if st.batch.final_titre is not None:
        out.print(f"  measured final titre: {st.batch.final_titre:.2f} g/L", highlight=False)


@twin_app.command("recommend")
def recommend_command(
    batch_id: Annotated[str, typer.Argument(help="the batch to recommend set points for")],
    at: Annotated[float, typer.Option("--at", min=0.05, max=0.95,
                                      help="fraction of the batch elapsed")] = 0.3,
    neo4j_uri: UriOption = None,
    members: MembersOption = 32,
    store: Annotated[bool, typer.Option(help="store it in the site graph (exported, PROV-O)")
                     ] = True,
) -> None:
    """Recommend set-point changes within the site's proven ranges, with their evidence."""
    settings = _settings(neo4j_uri)
    driver = connect(settings)
    try:
        st = site_twin(driver, batch_id, settings=FilterSettings(n_members=members),
                       database=settings.neo4j_database)
        print_twin(st)
        update, rec = recommend_now(st, at)
        print_update(update)
        print_recommendation(rec)
        if store:
            rec_id = store_recommendation(driver, st.site_code, rec, settings.neo4j_database)
            out.print(f"stored as recommendation {rec_id}", highlight=False)
    finally:
        driver.close()


@twin_app.command("card")
def card_command(
    batch_id: Annotated[str, typer.Argument(help="the batch whose twin to describe")],
    neo4j_uri: UriOption = None,
    members: MembersOption = 32,
) -> None:
    """Print the model card (JSON) of the live twin learned for a batch: parts, assumptions,
    inputs, outputs, applicability domain, proven ranges."""
    settings = _settings(neo4j_uri)
    driver = connect(settings)
    try:
        st = site_twin(driver, batch_id, settings=FilterSettings(n_members=members),
                       database=settings.neo4j_database)
    finally:
        driver.close()
    card = {**st.card(), "training_batches": list(st.training_batches),
            "proven_ranges": {k: {"low": r.low, "high": r.high, "unit": r.unit,
                                  "method": r.method, "batches": list(r.batch_ids)}
                              for k, r in st.ranges.items()}}
    typer.echo(json.dumps(card, indent=2, default=str))


def print_recommendation(rec) -> None:  # noqa: ANN001
    out.print(f"recommendation at {rec.t_h:.0f} h: {rec.describe()}", highlight=False)
    for lever, r in rec.evidence.get("proven_ranges", {}).items():
        out.print(f"  proven range {lever}: {r['low']:.3g}-{r['high']:.3g} {r['unit']} "
                  f"from {len(r['batches'])} good batches", highlight=False)
    out.print(f"  evidence: {rec.evidence.get('observations_assimilated')} samples of this batch, "
              f"{rec.evidence.get('candidates_evaluated')} candidates x "
              f"{rec.evidence.get('ensemble_members')} members, trained on "
              f"{len(rec.evidence.get('training_batches', []))} batches", highlight=False)


#: Demo settings: a small ensemble and a coarse step keep the replay to a few seconds.
DEMO_SETTINGS = FilterSettings(n_members=16, dt_h=2.0)
DEMO_FRACTIONS = (0.1, 0.25, 0.5, 0.75, 0.9)


def _demo_batch(driver: Driver) -> str | None:
    """The site's latest complete batch of its most-run process (None: too few batches)."""
    rows, _, _ = driver.execute_query(
        "MATCH (b:Batch {status: 'complete'}) WITH b.process AS p, b.process_version AS v, "
        "collect(b) AS bs WHERE size(bs) >= 5 WITH p, v, bs ORDER BY size(bs) DESC LIMIT 1 "
        "UNWIND bs AS b WITH b ORDER BY b.start DESC RETURN b.batch_id AS id LIMIT 1",
        routing_="r")
    return rows[0]["id"] if rows else None


def show_live_twin(drivers: dict[str, Driver]) -> None:
    """Demo step: replay one stored batch as if live, then one recommendation with evidence.

    Uses the first site whose twin proves ranges from its good batches (else the first that
    can learn at all); the recommendation is stored, so the export and sync carry it.
    """
    chosen = None
    for site, driver in sorted(drivers.items()):
        batch_id = _demo_batch(driver)
        if batch_id is None:
            continue
        try:
            st = site_twin(driver, batch_id, settings=DEMO_SETTINGS)
        except TwinfedError as exc:
            out.print(f"{site}: live twin not available ({exc})", highlight=False)
            continue
        if chosen is None or (st.ranges and not chosen[2].ranges):
            chosen = (site, driver, st)
        if st.ranges:
            break
    if chosen is None:
        out.print("live twin: no site has enough complete batches to learn from")
        return
    site, driver, st = chosen
    out.rule(f"{site}: live twin replays {st.batch.batch_id} as if live")
    print_twin(st)
    _, updates = replay(st, DEMO_FRACTIONS)
    for u in updates:
        print_update(u)
    if st.batch.final_titre is not None:
        out.print(f"  measured final titre: {st.batch.final_titre:.2f} g/L", highlight=False)
    _, rec = recommend_now(st, 0.25)
    print_recommendation(rec)
    rec_id = store_recommendation(driver, site, rec)
    out.print(f"  stored as {rec_id} (exported with PROV-O lineage)", highlight=False)
