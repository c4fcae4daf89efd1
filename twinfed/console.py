"""Shared rich console for the CLI (stderr for messages, stdout for results)."""

from rich.console import Console

out = Console()
err = Console(stderr=True)
