"""Dashboard login: a federation user's token, exchanged for an HttpOnly session cookie.

The federation has users with bearer tokens (``federation/registry/service.py``), no
passwords. The login form takes the token once; the server keeps it in memory under a
random session id and the browser only holds that id, in an ``HttpOnly``, ``SameSite=Strict``
cookie (scripts cannot read it; other sites cannot send it). Every request authenticates the
token again with the registry, so a revoked user is out at the next click. Site credentials
cannot log in: they see nothing through queries.
"""

from __future__ import annotations

import secrets
import threading
import time

from fastapi import Request

from federation.registry.service import AuthError, ForbiddenError, Principal, Registry

COOKIE = "twinfed_session"
#: Sessions end after this many seconds without a request.
IDLE_S = 8 * 3600


class LoginRequired(Exception):
    """No valid session: the page redirects to the login form."""


class Sessions:
    """Session id -> token, in memory (a restart logs everyone out, which is fine)."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def open(self, registry: Registry, token: str) -> tuple[str, Principal]:
        principal = registry.authenticate(token.strip())
        if principal.is_site:
            raise AuthError("a site credential cannot open the dashboard; log in with a "
                            "user token (twinfed federation add-user)")
        from federation.web.render import permitted

        if not permitted(principal, "dashboard"):
            raise ForbiddenError(f"user '{principal.name}' may not open the dashboard (roles: "
                                 f"{', '.join(sorted(principal.roles))})")
        session = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[session] = (token.strip(), time.monotonic())
        return session, principal

    def close(self, session: str | None) -> None:
        with self._lock:
            self._tokens.pop(session or "", None)

    def principal(self, registry: Registry, session: str | None) -> Principal:
        with self._lock:
            entry = self._tokens.get(session or "")
            if entry is None or time.monotonic() - entry[1] > IDLE_S:
                self._tokens.pop(session or "", None)
                raise LoginRequired
            self._tokens[session or ""] = (entry[0], time.monotonic())
        try:
            return registry.authenticate(entry[0])
        except AuthError:
            self.close(session)
            raise LoginRequired from None


def sessions(request: Request) -> Sessions:
    app = request.app
    if not hasattr(app.state, "web_sessions"):
        app.state.web_sessions = Sessions()
    return app.state.web_sessions


def current_principal(request: Request) -> Principal:
    return sessions(request).principal(request.app.state.registry, request.cookies.get(COOKIE))
