"""Sync protocol payloads (site → federation), version 1.

A site pushes the batches changed since the federation's acknowledged revision. A push is
identified by ``push_id`` (chosen by the site): retrying the same push is a no-op. Each
batch graph travels as N-Quads with its SHA-256; the federation checks every hash, every
graph name and SHACL before it stores anything, then replaces all graphs of the push in one
atomic step and acknowledges ``to_rev``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SiteCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


def sha256_hex(data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BatchGraph(_Wire):
    """One batch's named graph, as N-Quads (every quad in ``graph``)."""

    batch_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    rev: Annotated[int, Field(ge=1)]
    graph: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    sha256: Sha256
    nquads: str


class SyncPush(_Wire):
    """A site's push: the batches changed in ``(since_rev, to_rev]`` plus its meta graph."""

    protocol: Literal["twinfed-sync/1"] = "twinfed-sync/1"
    push_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{8,128}$")]
    site: SiteCode
    since_rev: Annotated[int, Field(ge=0)]
    to_rev: Annotated[int, Field(ge=0)]
    created_at: datetime
    software_version: str
    meta_graph: str
    meta_sha256: Sha256
    #: SHA-256 of the meta graph's content without the export activity (changes only when
    #: the site's context changes): lets a site skip a push that would change nothing.
    meta_content_sha256: Sha256
    meta_nquads: str
    batches: list[BatchGraph] = Field(default_factory=list)
    deleted_batches: list[str] = Field(default_factory=list)


class SyncAck(_Wire):
    push_id: str
    site: str
    acknowledged_rev: int
    outcome: Literal["stored", "duplicate"]
    batches_stored: int
    batches_deleted: int
    unmapped: list[str] = Field(default_factory=list)
    alignment_version: str | None = None


class SyncState(_Wire):
    """What the federation holds of a site: where the next push starts."""

    site: str
    acknowledged_rev: int
    last_push_at: datetime | None
    batches: int
    meta_content_sha256: str | None = None
