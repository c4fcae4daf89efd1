"""The demo's dashboard step: site APIs for raw-data drill-down, then serve until Ctrl-C.

The federation's batch pages fetch raw series from the site node that holds them (the
``tf:rawData`` link each export carries), so the demo serves each site's API on a loopback
port before it syncs, and syncs with that API as the link. After the federation has
answered, :func:`serve_dashboard` prints the dashboard URL and the tokens to log in with,
and keeps everything serving until interrupted — only when asked (``--serve``) or when
stdin is a terminal, so CI and pipes finish.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from neo4j import Driver

from site_node.api import create_app as create_site_app
from site_node.config import SiteSettings
from twinfed.console import out
from twinfed.serving import serve


@contextmanager
def site_apis(drivers: dict[str, Driver]) -> Iterator[dict[str, str]]:
    """Serve each site's API (over its own driver) on a free loopback port: site -> URL."""
    with ExitStack() as stack:
        yield {site: stack.enter_context(serve(create_site_app(SiteSettings(code=site),
                                                               driver=driver)))
               for site, driver in drivers.items()}


def should_serve(flag: bool | None) -> bool:
    """``--serve``/``--no-serve`` when given, else serve only for a person at a terminal."""
    return sys.stdin.isatty() if flag is None else flag


def serve_dashboard(url: str, tokens: dict[str, str], flag: bool | None,
                    stop: threading.Event | None = None) -> None:
    """Print where to log in; with serving on, block until Ctrl-C (or ``stop`` is set)."""
    out.rule("dashboard")
    out.print(f"dashboard: {url}/ui/  (log in with a token below)", highlight=False)
    for user, token in tokens.items():
        out.print(f"  {user}: {token}", highlight=False)
    if not should_serve(flag):
        out.print("not serving on (no terminal; pass --serve to keep the demo running)",
                  highlight=False)
        return
    out.print("serving the federation, its dashboard and the site APIs; Ctrl-C to stop",
              highlight=False)
    stop = stop or threading.Event()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        out.print("stopping", highlight=False)
