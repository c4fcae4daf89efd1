"""``twinfed neo4j ...``: the embedded Neo4j launcher for development, tests and the demo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from site_node.neo4j_embedded import (
    ENV_LAUNCHER_DIR,
    LAUNCHER_DIR,
    daemon_status,
    start_daemon,
    stop_daemon,
)
from twinfed.console import err, out

neo4j_app = typer.Typer(help="Embedded Neo4j Community (one JVM, one DBMS per site) on "
                             "loopback, for development, tests and the demo.",
                        no_args_is_help=True)

DataOption = Annotated[Path, typer.Option("--data", help="root data directory; each site "
                                          "gets DATA/<site>")]
DEFAULT_DATA = Path(".twinfed/neo4j")


def _launcher_dir() -> Path:
    return Path(os.environ.get(ENV_LAUNCHER_DIR, LAUNCHER_DIR))


@neo4j_app.command("start")
def start(
    sites: Annotated[str, typer.Option(help="comma-separated site names, e.g. a,b,c")] = "a",
    data: DataOption = DEFAULT_DATA,
    port_base: Annotated[int, typer.Option(help="Bolt port of the first site; the next "
                                           "sites count up")] = 7687,
) -> None:
    """Start one DBMS per site in the background and print each Bolt URI."""
    names = [s.strip() for s in sites.split(",") if s.strip()]
    err.print(f"starting Neo4j for {', '.join(names)} (first run builds the launcher with "
              "Maven) ...")
    uris = start_daemon(names, data, port_base, _launcher_dir())
    for name, uri in uris.items():
        out.print(f"READY {name} {uri}", highlight=False)
    out.print(f"stop with: twinfed neo4j stop --data {data}", highlight=False)


@neo4j_app.command("stop")
def stop(data: DataOption = DEFAULT_DATA) -> None:
    """Stop the background launcher started with ``twinfed neo4j start``."""
    if stop_daemon(data):
        out.print("stopped")
    else:
        out.print(f"no launcher was running for {data}")


@neo4j_app.command("status")
def status(data: DataOption = DEFAULT_DATA) -> None:
    """Show whether the launcher runs and whether each site's Bolt port answers."""
    state = daemon_status(data)
    if state is None:
        out.print(f"no launcher started for {data}")
        raise typer.Exit(1)
    out.print(f"pid {state['pid']}  running: {state['running']}  started {state['started_at']}",
              highlight=False)
    for name, instance in state["instances"].items():
        mark = "[green]up[/]" if instance["reachable"] else "[red]down[/]"
        out.print(f"  {name:12} {instance['uri']}  {mark}", highlight=False)
    if not state["healthy"]:
        raise typer.Exit(1)
