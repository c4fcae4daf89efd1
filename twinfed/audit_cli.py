"""``twinfed federation audit ...``: verify and read the federation's audit log."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer

from federation.audit import AuditLog, audit_log_in
from federation.config import FederationSettings
from twinfed.console import out

audit_app = typer.Typer(help="The tamper-evident audit log: verify its chain, list entries.",
                        no_args_is_help=True)

DataOption = Annotated[Path | None, typer.Option("--data", help="federation data directory "
                                                 "(TWINFED_FED_DATA)")]


def cli_record(settings: FederationSettings, action: str, subject: str,
               details: dict[str, object] | None = None) -> None:
    """Audit an action taken through the CLI (actor: ``cli:<OS user>``)."""
    audit_log_in(settings.data).record(f"cli:{getpass.getuser()}", action,
                                                   subject, details)


def _log(data: Path | None) -> AuditLog:
    settings = FederationSettings(**({"data": data} if data is not None else {}))
    return audit_log_in(settings.data)


@audit_app.command("verify")
def verify(
    data: DataOption = None,
    expect_head: Annotated[str | None, typer.Option(help="the head hash you kept from an "
                                                    "earlier verify (catches cut-off tails)")]
    = None,
) -> None:
    """Check every entry's hash, link and number; exit 1 and say where if altered."""
    log = _log(data)
    result = log.verify(expect_head)
    if result.intact:
        out.print(f"audit log intact: {result.entries} entries, head {result.head}",
                  highlight=False)
        return
    out.print(f"audit log ALTERED ({log.path}): {len(result.problems)} problem(s)",
              highlight=False)
    for problem in result.problems:
        out.print(f"  {problem}", highlight=False)
    raise typer.Exit(1)


@audit_app.command("list")
def list_entries(
    data: DataOption = None,
    action: Annotated[str | None, typer.Option(help="action or prefix, e.g. sync")] = None,
    actor: Annotated[str | None, typer.Option(help="who acted")] = None,
    limit: Annotated[int, typer.Option(help="newest N entries")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object a line")] = False,
) -> None:
    """Print the newest audit entries (oldest first)."""
    for entry in _log(data).entries(action=action, actor=actor, limit=limit):
        if as_json:
            out.print(json.dumps(entry.__dict__, sort_keys=True), highlight=False,
                      soft_wrap=True)
        else:
            details = json.dumps(entry.details, sort_keys=True)
            out.print(f"{entry.n:>6} {entry.at[:19]} {entry.actor:<16} {entry.action:<24} "
                      f"{entry.subject} {details}", highlight=False, soft_wrap=True)
