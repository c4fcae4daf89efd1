"""FastAPI dependencies: the caller, the services (one place, ``Annotated`` aliases)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from federation.api.roles import authenticate
from federation.registry.service import ForbiddenError, Principal, Registry
from federation.store.base import Store
from federation.sync.service import SyncService


def _registry(request: Request) -> Registry:
    return request.app.state.registry


def _store(request: Request) -> Store:
    return request.app.state.store


def _sync(request: Request) -> SyncService:
    return request.app.state.sync


def _principal(request: Request) -> Principal:
    return authenticate(request)  # token use and refusals of record go to the audit log


def require_admin(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    if "admin" not in principal.roles:
        raise ForbiddenError("this call needs the admin role")
    return principal


RegistryDep = Annotated[Registry, Depends(_registry)]
StoreDep = Annotated[Store, Depends(_store)]
SyncDep = Annotated[SyncService, Depends(_sync)]
Caller = Annotated[Principal, Depends(_principal)]
Admin = Annotated[Principal, Depends(require_admin)]
