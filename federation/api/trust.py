"""Wire the trust layer into the federation app: audit log, limits, trace and audit routes.

``create_app`` calls :func:`install_trust` once; everything here applies to routes added
later too (limits are middleware, roles are dependencies in :mod:`federation.api.roles`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query

from federation.api.limits import install_limits, settings_limits
from federation.api.roles import AuditDep, AuditReader
from federation.audit import AuditLog, audit_log_in
from federation.config import FederationSettings
from federation.trace.routes import router as trace_router

audit_router = APIRouter()


@audit_router.get("/audit", operation_id="audit_entries")
def audit_entries(audit: AuditDep, caller: AuditReader,
                  action: Annotated[str | None, Query(max_length=128)] = None,
                  actor: Annotated[str | None, Query(max_length=256)] = None,
                  subject: Annotated[str | None, Query(max_length=2048)] = None,
                  limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list[dict[str, Any]]:
    """The newest audit entries (oldest first), filtered by action prefix, actor, subject."""
    return [entry.__dict__ for entry in audit.entries(action=action, actor=actor,
                                                      subject=subject, limit=limit)]


@audit_router.get("/audit/verify", operation_id="audit_verify")
def audit_verify(audit: AuditDep, caller: AuditReader) -> dict[str, Any]:
    """Check the whole hash chain; list every place it was altered."""
    result = audit.verify()
    return {"intact": result.intact, "entries": result.entries, "head": result.head,
            "problems": [{"entry": p.entry, "line": p.line, "what": p.what}
                         for p in result.problems]}


def stale_sites(app: FastAPI) -> list[str]:
    """Sites whose last stored push is older than ``stale_after_h`` (or that never synced):
    their data in any answer may be out of date."""
    now = datetime.now(UTC)
    limit = app.state.settings.stale_after_h * 3600
    return [s.code for s in app.state.registry.sites() if s.active and (
        s.last_push_at is None or (now - s.last_push_at).total_seconds() > limit)]


def install_trust(app: FastAPI, settings: FederationSettings) -> AuditLog:
    """Open the audit log (``app.state.audit``), add limits and the trace/audit routes."""
    audit = audit_log_in(settings.data)
    app.state.audit = audit
    install_limits(app, **settings_limits(settings))
    app.include_router(trace_router)
    app.include_router(audit_router)
    return audit
