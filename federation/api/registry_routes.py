"""Registry routes: sites and their credentials, users, per-site freshness."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from federation.api.deps import RegistryDep
from federation.api.roles import AuditDep, SitesManager, SitesReader
from federation.registry.service import ROLES, SiteStatus

router = APIRouter()


class SiteCreate(BaseModel):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
    name: str | None = None


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    roles: set[str] = Field(min_length=1, description=f"among {sorted(ROLES)}")
    sponsors: set[str] | None = Field(default=None, description="sponsor scope; null = all "
                                      "(only for admin and auditor)")


_WITHHELD = "withheld: refusal details may name other sponsors' data (admin and auditor see them)"


def _freshness(status: SiteStatus, stale_after_h: float) -> dict[str, Any]:
    now = datetime.now(UTC)
    lag_h = (now - status.last_push_at).total_seconds() / 3600 if status.last_push_at else None
    return {
        "code": status.code, "name": status.name, "active": status.active,
        "acknowledged_rev": status.acknowledged_rev,
        "last_sync": status.last_push_at, "lag_hours": lag_h,
        "stale": lag_h is None or lag_h > stale_after_h,
        "failures": status.failures, "last_failure_at": status.last_failure_at,
        "last_failure": status.last_failure,
    }


@router.post("/sites", operation_id="register_site", status_code=201)
def register_site(body: SiteCreate, registry: RegistryDep, caller: SitesManager,
                  audit: AuditDep) -> dict[str, str]:
    token = registry.register_site(body.code, body.name)
    audit.record(caller.name, "site.register", body.code, {"name": body.name})
    return {"code": body.code, "token": token,
            "note": "store this credential now: it is shown once and kept only as a hash"}


@router.post("/sites/{code}/credential", operation_id="rotate_site_credential")
def rotate(code: str, registry: RegistryDep, caller: SitesManager,
           audit: AuditDep) -> dict[str, str]:
    token = registry.rotate_site_credential(code)
    audit.record(caller.name, "site.credential-rotate", code)
    return {"code": code, "token": token}


@router.delete("/sites/{code}/credential", operation_id="revoke_site_credential",
               status_code=204)
def revoke(code: str, registry: RegistryDep, caller: SitesManager, audit: AuditDep) -> None:
    registry.revoke_site(code)
    audit.record(caller.name, "site.credential-revoke", code)


@router.post("/sites/{code}/resync", operation_id="request_site_resync")
def resync(code: str, registry: RegistryDep, caller: SitesManager,
           audit: AuditDep) -> dict[str, Any]:
    """The site's next sync re-sends every batch (after a store restore or an alignment or
    ontology upgrade); unchanged graphs already aligned with the current alignment stay."""
    previous = registry.request_resync(code)
    audit.record(caller.name, "site.resync", code, {"previous_acknowledged_rev": previous})
    return {"code": code, "previous_acknowledged_rev": previous, "acknowledged_rev": 0,
            "next": "run `twinfed site sync` at the site: it sends every batch again"}


@router.get("/sites", operation_id="list_sites")
def list_sites(request: Request, registry: RegistryDep,
               caller: SitesReader) -> list[dict[str, Any]]:
    stale_after = request.app.state.settings.stale_after_h
    sites = [_freshness(s, stale_after) for s in registry.sites()]
    if caller.sponsors is not None:  # refusal texts may name any sponsor's batches
        for site in sites:
            if site["last_failure"]:
                site["last_failure"] = _WITHHELD
    return sites


@router.get("/sites/{code}/pushes", operation_id="site_sync_history")
def history(code: str, registry: RegistryDep, caller: SitesReader) -> list[dict[str, Any]]:
    registry.site_status(code)
    pushes = registry.push_history(code)
    if caller.sponsors is not None:  # refusal texts may name any sponsor's batches
        for push in pushes:
            if push["detail"]:
                push["detail"] = _WITHHELD
    return pushes


@router.post("/users", operation_id="create_user", status_code=201)
def create_user(body: UserCreate, registry: RegistryDep, caller: SitesManager,
                audit: AuditDep) -> dict[str, str]:
    token = registry.add_user(body.name, body.roles, body.sponsors)
    audit.record(caller.name, "user.create", body.name,
                 {"roles": sorted(body.roles),
                  "sponsors": None if body.sponsors is None else sorted(body.sponsors)})
    return {"name": body.name, "token": token}
