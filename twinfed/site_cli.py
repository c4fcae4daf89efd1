"""``twinfed site ...``: ingest bundles into a site node, read it, serve its API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from site_node.config import SiteSettings
from site_node.db import connect
from site_node.ingest.service import IngestReport, ingest_bundle
from site_node.repository import BatchFilter, SiteRepository
from twinfed.console import err, out

site_app = typer.Typer(help="A site node: ingest batch bundles, read the site graph, serve "
                            "the site API.", no_args_is_help=True)

UriOption = Annotated[str | None, typer.Option("--neo4j-uri", help="bolt URI of the site's "
                                               "Neo4j (default: TWINFED_SITE_NEO4J_URI)")]
CodeOption = Annotated[str | None, typer.Option("--site", help="this site's code; bundles for "
                                                "other sites are refused (TWINFED_SITE_CODE)")]


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
    rate = report.points / report.seconds if report.seconds else 0.0
    out.print(f"{len(report.written)} stored or unchanged, {len(report.refused)} refused, "
              f"{report.points:,} points in {report.seconds:.2f} s ({rate:,.0f} points/s)",
              highlight=False)


@site_app.command("ingest")
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="bundle folders or zip files")],
    neo4j_uri: UriOption = None,
    site: CodeOption = None,
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
    finally:
        driver.close()
    if failed:
        raise typer.Exit(1)


@site_app.command("status")
def status(neo4j_uri: UriOption = None) -> None:
    """What the site holds: batches, series, points, spectra, deviations, revision."""
    settings = settings_from(neo4j_uri, None)
    driver = connect(settings)
    try:
        summary = SiteRepository(driver, settings.neo4j_database).site_summary()
    finally:
        driver.close()
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
    driver = connect(settings)
    try:
        rows = SiteRepository(driver, settings.neo4j_database).list_batches(
            BatchFilter(process=process, status=status))
    finally:
        driver.close()
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

    from site_node.api import create_app

    settings = settings_from(neo4j_uri, site)
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port,
                log_level="warning")
