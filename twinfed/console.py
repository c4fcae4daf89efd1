"""Shared rich consoles for the CLI (stdout for results, stderr for progress and errors)."""

from rich.console import Console

out = Console()
err = Console(stderr=True)
if not out.is_terminal:  # piped or logged: do not squeeze tables into 80 columns
    out.width = 140
