"""``twinfed site ...``: ingest bundles into a site node, read it, serve its API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from neo4j import Driver
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from site_node.analysis.service import AnalysisReport, analyse
from site_node.config import SiteSettings
from site_node.db import connect
from site_node.ingest.service import IngestReport, ingest_bundle
from site_node.repository import BatchFilter, SiteRepository
from twinfed.console import err, out
from twinfed.equipment_cli import equipment_app
from twinfed.package_cli import site_package_app
from twinfed.softsensor_cli import softsensor_app
from twinfed.twin_cli import twin_app

site_app = typer.Typer(help="A site node: ingest batch bundles, read the site graph, serve "
                            "the site API.", no_args_is_help=True)
site_app.add_typer(twin_app, name="twin")
site_app.add_typer(equipment_app, name="equipment")
site_app.add_typer(site_package_app, name="package")
site_app.add_typer(softsensor_app, name="softsensor")

UriOption = Annotated[str | None, typer.Option("--neo4j-uri", help="bolt URI of the site's "
                                               "Neo4j (default: TWINFED_SITE_NEO4J_URI)")]
CodeOption = Annotated[str | None, typer.Option("--site", help="this site's code; bundles for "
                                                "other sites are refused (TWINFED_SITE_CODE)")]


@contextmanager
def connected(settings: SiteSettings) -> Iterator[Driver]:
    """The site's driver (schema installed), closed when the block ends."""
    driver = connect(settings)
    try:
        yield driver
    finally:
        driver.close()


def settings_from(neo4j_uri: str | None, code: str | None) -> SiteSettings:
    overrides = {k: v for k, v in {"neo4j_uri": neo4j_uri, "code": code}.items() if v}
    return SiteSettings(**overrides)


def print_report(report: IngestReport) -> None:
    for written in report.written:
        out.print(f"  [green]{written.outcome:9}[/] {written.batch_id}  rev {written.rev}  "
                  f"{written.points:,} points", highlight=False)
    for refused in report.refused:
        out.print(f"  [red]refused[/]   {refused.batch_id}", highlight=False)
        for problem in refused.problems:
            out.print(f"            {problem}", highlight=False, soft_wrap=True)
    for made in report.estimates:  # soft sensors applied to the new spectra
        if made.error is not None:
            out.print(f"  [red]estimates failed[/] {made.batch_id} with model {made.model_id} "
                      f"(the batch is stored): {made.error}", highlight=False, soft_wrap=True)
        else:
            out.print(f"  estimated {made.batch_id} with {made.model_id}: {made.estimates} "
                      f"estimates, {made.out_of_domain} out of domain", highlight=False)
    rate = report.points / report.seconds if report.seconds else 0.0
    out.print(f"{len(report.written)} stored or unchanged, {len(report.refused)} refused, "
              f"{report.points:,} points in {report.seconds:.2f} s ({rate:,.0f} points/s)",
              highlight=False)


def print_analysis(report: AnalysisReport) -> None:
    for process, result in report.processes.items():
        events = sum(len(b.events) for b in result.batches.values())
        reference = result.reference
        out.print(f"analysed {process}: {len(result.batches)} batches, "
                  f"{len(result.envelopes)} envelopes from {len(reference.batch_ids)} reference "
                  f"batches ({reference.reason}{', fallback' if reference.fallback else ''}), "
                  f"{events} deviation events", highlight=False)
    out.print(f"{len(report.changed_batches)} batches with changed results got a new revision "
              f"({report.seconds:.1f} s)", highlight=False)


@site_app.command("ingest")
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="bundle folders or zip files")],
    neo4j_uri: UriOption = None,
    site: CodeOption = None,
    analyse_after: Annotated[bool, typer.Option(
        "--analyse/--no-analyse", help="recompute features, envelopes and deviation events "
        "after the ingest")] = True,
) -> None:
    """Ingest one or more bundles (a batch or a campaign each); one transaction per batch."""
    settings = settings_from(neo4j_uri, site)
    driver = connect(settings)
    failed = False
    try:
        for path in paths:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=err, transient=True) as bar:
                task = bar.add_task(f"ingest {path.name}", total=None)

                def advance(batch_id: str, done: int, total: int, task: int = task,
                            bar: Progress = bar) -> None:
                    bar.update(task, completed=done, total=total,
                               description=f"ingest {batch_id}")

                report = ingest_bundle(driver, path, site_code=settings.code,
                                       max_file_bytes=settings.max_file_bytes,
                                       database=settings.neo4j_database, progress=advance)
            out.print(f"[bold]{path}[/]", highlight=False)
            print_report(report)
            failed = failed or not report.ok
            code = site or settings.code or _site_code(driver)
        if analyse_after and code:
            print_analysis(analyse(driver, site_code=code, database=settings.neo4j_database))
    finally:
        driver.close()
    if failed:
        raise typer.Exit(1)


def _site_code(driver) -> str | None:  # noqa: ANN001
    return SiteRepository(driver).site_summary()["site"]


@site_app.command("analyse")
def analyse_command(neo4j_uri: UriOption = None) -> None:
    """Recompute phases, per-phase features, envelopes, deviation events and T²/SPE."""
    settings = settings_from(neo4j_uri, None)
    with connected(settings) as driver:
        code = settings.code or _site_code(driver)
        if code is None:
            out.print("the site holds no batches yet: nothing to analyse")
            return
        print_analysis(analyse(driver, site_code=code, database=settings.neo4j_database))


@site_app.command("export")
def export_command(
    neo4j_uri: UriOption = None,
    since: Annotated[int, typer.Option("--since", help="export batches changed after this "
                                       "site revision")] = 0,
    fmt: Annotated[str, typer.Option("--format", help="trig, nquads, turtle or jsonld")]
    = "trig",
    output: Annotated[Path | None, typer.Option("--out", help="file to write (default: "
                                                "stdout)")] = None,
    api_base: Annotated[str, typer.Option(help="public base URL of this site's API (raw "
                                          "data links)")] = "http://127.0.0.1:8701",
) -> None:
    """Export batch graphs in the shared structure; SHACL-validated before they are written."""
    from site_node.export.service import export_site
    from twinfed import __version__

    if fmt not in ("trig", "nquads", "turtle", "jsonld"):
        raise typer.BadParameter(f"--format must be trig, nquads, turtle or jsonld; got {fmt}")
    settings = settings_from(neo4j_uri, None)
    with connected(settings) as driver:
        code = settings.code or _site_code(driver)
        if code is None:
            out.print("the site holds no batches yet: nothing to export")
            return
        export = export_site(driver, site_code=code, api_base=api_base,
                             software_version=__version__, since_rev=since,
                             database=settings.neo4j_database)
    data = export.serialize(fmt)  # type: ignore[arg-type]
    if output is None:
        typer.echo(data.decode())
    else:
        output.write_bytes(data)
    err.print(f"{len(export.batch_ids)} batches, {export.triples:,} triples, revisions "
              f"{export.rev_range}; SHACL: conforms (built {export.build_seconds:.2f} s, "
              f"validated {export.validate_seconds:.2f} s)", highlight=False)


@site_app.command("sync")
def sync_command(
    federation: Annotated[str, typer.Option(help="federation base URL "
                                            "(TWINFED_SITE_FEDERATION_URL)")] = "",
    token: Annotated[str, typer.Option(help="this site's credential "
                                       "(TWINFED_SITE_FEDERATION_TOKEN)")] = "",
    neo4j_uri: UriOption = None,
    api_base: Annotated[str, typer.Option(help="public base URL of this site's API")]
    = "http://127.0.0.1:8701",
) -> None:
    """Push the batches changed since the federation's acknowledged revision."""
    import os

    from site_node.sync.client import FederationClient, sync_site
    from twinfed import __version__

    url = federation or os.environ.get("TWINFED_SITE_FEDERATION_URL", "")
    credential = token or os.environ.get("TWINFED_SITE_FEDERATION_TOKEN", "")
    if not url or not credential:
        raise typer.BadParameter("--federation and --token (or TWINFED_SITE_FEDERATION_URL and "
                                 "TWINFED_SITE_FEDERATION_TOKEN) are required")
    settings = settings_from(neo4j_uri, None)
    driver = connect(settings)
    client = FederationClient(url, credential)
    try:
        code = settings.code or _site_code(driver)
        if code is None:
            out.print("the site holds no batches yet: nothing to sync")
            return
        result = sync_site(driver, client, site_code=code, api_base=api_base,
                           software_version=__version__, database=settings.neo4j_database)
    finally:
        client.close()
        driver.close()
    for ack in result.pushes:
        out.print(f"push {ack.push_id[:12]}: {ack.outcome}, {ack.batches_stored} batches stored, "
                  f"acknowledged rev {ack.acknowledged_rev}"
                  + (f"; unmapped: {', '.join(ack.unmapped)}" if ack.unmapped else ""),
                  highlight=False)
    out.print(f"{code}: {result.batches} batches synced in {result.seconds:.1f} s; the "
              f"federation holds revision {result.acknowledged_rev}", highlight=False)


@site_app.command("delete")
def delete_command(
    batch_id: str,
    reason: Annotated[str, typer.Option(help="why the batch is withdrawn (kept with the "
                                        "tombstone)")],
    neo4j_uri: UriOption = None,
) -> None:
    """Delete a batch (one transaction); the next sync removes it from the federation."""
    from site_node.ingest.writer import delete_batch

    settings = settings_from(neo4j_uri, None)
    with connected(settings) as driver:
        code = settings.code or _site_code(driver)
        rev = delete_batch(driver, code or "", batch_id, reason,
                           database=settings.neo4j_database)
    out.print(f"deleted {batch_id} at site revision {rev}; run `twinfed site sync` to "
              "propagate it", highlight=False)


@site_app.command("status")
def status(neo4j_uri: UriOption = None) -> None:
    """What the site holds: batches, series, points, spectra, deviations, revision."""
    settings = settings_from(neo4j_uri, None)
    with connected(settings) as driver:
        summary = SiteRepository(driver, settings.neo4j_database).site_summary()
    for key, value in summary.items():
        out.print(f"{key:12} {value}", highlight=False)


@site_app.command("batches")
def batches(
    neo4j_uri: UriOption = None,
    process: Annotated[str | None, typer.Option(help="process code")] = None,
    status: Annotated[str | None, typer.Option(help="batch status")] = None,
) -> None:
    """List the site's batches."""
    settings = settings_from(neo4j_uri, None)
    with connected(settings) as driver:
        rows = SiteRepository(driver, settings.neo4j_database).list_batches(
            BatchFilter(process=process, status=status))
    table = Table("batch", "process", "start", "status", "scale (L)", "rev")
    for row in rows:
        table.add_row(row["batch_id"], row.get("process") or "", str(row.get("start") or ""),
                      row.get("status") or "", f"{row.get('scale_l') or 0:g}", str(row["rev"]))
    out.print(table)


@site_app.command("serve")
def serve(
    neo4j_uri: UriOption = None,
    site: CodeOption = None,
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
) -> None:
    """Serve the site API (FastAPI) until interrupted."""
    import uvicorn

    from observability import configure_logging
    from site_node.api import create_app

    settings = settings_from(neo4j_uri, site)
    configure_logging()  # TWINFED_LOG_FORMAT=json for one JSON object per line
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port,
                log_config=None, access_log=False)
