"""Sync routes: where a site stands, and its pushes."""

from __future__ import annotations

from fastapi import APIRouter

from federation.api.deps import Caller, SyncDep
from protocol.sync import SyncAck, SyncPush, SyncState

router = APIRouter()


@router.get("/sync/{site}/state", operation_id="sync_state")
def state(site: str, sync: SyncDep, caller: Caller) -> SyncState:
    return sync.state(caller, site)


@router.post("/sync/{site}/pushes", operation_id="sync_push")
def push(site: str, body: SyncPush, sync: SyncDep, caller: Caller) -> SyncAck:
    return sync.push(caller, site, body)
