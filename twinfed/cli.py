"""``twinfed``: the root command and its groups; errors become one readable line."""

from __future__ import annotations

import logging
import sys

import click
import typer

from bioprocess.errors import TwinfedError
from observability.config_file import ConfigFileError
from twinfed.console import err
from twinfed.demo import demo
from twinfed.federation_cli import federation_app
from twinfed.neo4j_cli import neo4j_app
from twinfed.site_cli import site_app

app = typer.Typer(
    name="twinfed",
    help="Federated knowledge-graph digital twin for biopharmaceutical manufacturing.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(site_app, name="site")
app.add_typer(neo4j_app, name="neo4j")
app.add_typer(federation_app, name="federation")
app.command("demo")(demo)

try:  # the process twin's commands (bioprocess simulator)
    from twinfed.simulate_cli import simulate_app
except ImportError:  # pragma: no cover - only while the simulator is being built
    simulate_app = None
if simulate_app is not None:
    app.add_typer(simulate_app, name="simulate")


def main() -> None:
    """Run the CLI; a :class:`TwinfedError` (or a bad ``TWINFED_CONFIG`` file) prints one line
    and exits with status 1."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = app(standalone_mode=False)  # returns typer.Exit's code instead of exiting
        if isinstance(code, int) and code:
            sys.exit(code)
    except (TwinfedError, ConfigFileError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
