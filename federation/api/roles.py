"""Roles, permissions and the dependencies that enforce them on every route.

A route says what it needs, not who may do it: ``caller: CanQuery`` (or
``Depends(require("query"))``). The role → permission table below is the one place that
decides; the registry's roles (:data:`federation.registry.service.ROLES`) and the site
credential's pseudo-role ``site`` are its keys. Sponsor scoping is separate and always on
(:func:`federation.scope.caller_scope`): a permission lets a caller use a route, the scope
decides which sponsors' data the route may show.

Token use of record: the first authenticated call of each principal per UTC day is written
to the audit log (``auth.token-use``), as is every refused token (``auth.refused``, at most a
few per minute per client address so a flood cannot fill the log). Tokens themselves are
never written anywhere; only the principal's name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request

from federation.audit import AuditLog
from federation.registry.service import AuthError, ForbiddenError, Principal

#: What each permission lets a caller do.
PERMISSIONS: dict[str, str] = {
    "sites.manage": "register sites, rotate or revoke their credentials, create users",
    "sites.read": "list sites with their freshness and sync history",
    "sync.push": "push the site's own graphs (site credentials only)",
    "sync.read": "see where a site's sync stands",
    "query": "run SPARQL and named questions over the caller's sponsors",
    "trace": "trace a finding back to its origins",
    "compare": "compare sites on a process",
    "signatures.read": "see failure signatures",
    "signatures.run": "run signature discovery",
    "packages.read": "read technology-transfer knowledge packages",
    "packages.build": "build technology-transfer knowledge packages",
    "models.read": "see model cards and estimates",
    "models.register": "register a model version",
    "alignment.read": "see alignment files and align-check reports",
    "alignment.manage": "change alignment files",
    "equipment.read": "see equipment across sites",
    "dashboard": "open the web dashboard",
    "audit.read": "read the audit log and verify its chain",
}

_READ_ALL = {"sites.read", "query", "trace", "compare", "signatures.read", "packages.read",
             "models.read", "alignment.read", "equipment.read", "dashboard"}

#: Role → permissions. ``admin`` has every permission.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "site": frozenset({"sync.push", "sync.read"}),
    "site_admin": frozenset({"sites.read", "sync.read", "alignment.read", "equipment.read",
                             "models.read", "dashboard"}),
    "engineer": frozenset({"query", "trace", "compare", "signatures.read", "models.read",
                           "models.register", "equipment.read", "alignment.read",
                           "dashboard", "sites.read"}),
    "quality": frozenset(_READ_ALL | {"signatures.run", "alignment.manage", "audit.read"}),
    "tech_transfer": frozenset({"query", "trace", "compare", "signatures.read",
                                "packages.read", "packages.build", "models.read",
                                "equipment.read", "alignment.read", "dashboard",
                                "sites.read"}),
    "auditor": frozenset(_READ_ALL | {"audit.read", "sync.read"}),
    "admin": frozenset(PERMISSIONS),
}

#: Roles whose queries are queries of record (written to the audit log).
RECORDED_QUERY_ROLES = frozenset({"quality", "auditor"})


def permissions_of(principal: Principal) -> frozenset[str]:
    granted: set[str] = set()
    for role in principal.roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)


def has_permission(principal: Principal, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}; known: {sorted(PERMISSIONS)}")
    return permission in permissions_of(principal)


def audit_log(request: Request) -> AuditLog:
    return request.app.state.audit


class _Seen:
    """Principals already recorded today, and refusals per client per minute."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: set[tuple[str, str]] = set()
        self._refused: dict[str, tuple[int, int]] = {}

    def first_use_today(self, name: str) -> bool:
        key = (name, datetime.now(UTC).date().isoformat())
        with self._lock:
            if key in self._used:
                return False
            self._used.add(key)
            return True

    def refusal_worth_recording(self, client: str, per_minute: int = 5) -> bool:
        minute = int(time.time() // 60)
        with self._lock:
            seen_minute, count = self._refused.get(client, (minute, 0))
            count = count + 1 if seen_minute == minute else 1
            self._refused[client] = (minute, count)
            if len(self._refused) > 10_000:
                self._refused.clear()
            return count <= per_minute


def _seen(request: Request) -> _Seen:
    state = request.app.state
    if getattr(state, "trust_seen", None) is None:
        state.trust_seen = _Seen()
    return state.trust_seen


def authenticate(request: Request) -> Principal:
    """The caller behind the bearer token, with token use and refusals of record audited."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    audit = getattr(request.app.state, "audit", None)
    client = request.client.host if request.client else "unknown"
    try:
        principal = request.app.state.registry.authenticate(token)
    except AuthError as exc:
        if audit is not None and _seen(request).refusal_worth_recording(client):
            audit.record("anonymous", "auth.refused", request.url.path,
                         {"client": client, "reason": str(exc)})
        raise
    request.state.principal = principal
    if audit is not None and _seen(request).first_use_today(principal.name):
        audit.record(principal.name, "auth.token-use", request.url.path,
                     {"client": client, "roles": sorted(principal.roles)})
    return principal


def _holders(permission: str) -> str:
    """``"quality, auditor or admin"``: the roles granting ``permission``, admin last."""
    holders = [r for r in ROLE_PERMISSIONS if permission in ROLE_PERMISSIONS[r]
               and r != "admin"]
    return " or ".join([", ".join(holders), "admin"]) if holders else "admin"


def require(permission: str) -> Callable[..., Principal]:
    """A dependency: the authenticated caller, if one of its roles grants ``permission``."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}; known: {sorted(PERMISSIONS)}")

    def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if permission not in permissions_of(principal):
            roles = ", ".join(sorted(principal.roles)) or "none"
            raise ForbiddenError(f"this call needs the '{permission}' permission "
                                 f"({PERMISSIONS[permission]}), held by the "
                                 f"{_holders(permission)} role; the caller has roles {roles}")
        return principal

    dependency.__name__ = f"require_{permission.replace('.', '_')}"
    return dependency


def _permit(permission: str) -> Any:
    return Annotated[Principal, Depends(require(permission))]


# One alias per permission: ``def route(caller: CanQuery) -> ...``.
SitesManager = _permit("sites.manage")
SitesReader = _permit("sites.read")
SyncReader = _permit("sync.read")
CanQuery = _permit("query")
CanTrace = _permit("trace")
CanCompare = _permit("compare")
SignaturesReader = _permit("signatures.read")
SignaturesRunner = _permit("signatures.run")
PackagesReader = _permit("packages.read")
PackagesBuilder = _permit("packages.build")
ModelsReader = _permit("models.read")
ModelsRegistrar = _permit("models.register")
AlignmentReader = _permit("alignment.read")
AlignmentManager = _permit("alignment.manage")
EquipmentReader = _permit("equipment.read")
DashboardUser = _permit("dashboard")
AuditReader = _permit("audit.read")
AuditDep = Annotated[AuditLog, Depends(audit_log)]


def record_query(request: Request, principal: Principal, kind: str, text: str,
                 details: dict[str, Any] | None = None) -> None:
    """Write a query of record (quality and auditor roles) to the audit log."""
    if not principal.roles & RECORDED_QUERY_ROLES:
        return
    audit = getattr(request.app.state, "audit", None)
    if audit is not None:
        audit.record(principal.name, f"query.{kind}", request.url.path,
                     {"query": text, **(details or {})})
