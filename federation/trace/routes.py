"""``GET /trace?iri=...``: one call returns the whole chain behind a finding."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from bioprocess.errors import NotFoundError, ValidationError
from federation.api.deps import StoreDep
from federation.api.roles import CanTrace, record_query
from federation.scope import caller_scope
from federation.trace.service import trace

router = APIRouter()

_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20\x7f<>\"{}|^`\\]*$")


def checked_iri(iri: str, what: str = "iri") -> str:
    """``iri`` if it is an absolute IRI safe to put between ``<>`` in SPARQL."""
    if len(iri) > 2048:
        raise ValidationError(f"{what} must be at most 2048 characters; got {len(iri)}")
    if not _IRI.match(iri):
        raise ValidationError(f"{what} must be an absolute IRI without spaces, control "
                              "characters or any of "
                              f"<>\"{{}}|^`\\; got {iri[:120]!r} instead")
    return iri


@router.get("/trace", operation_id="trace")
def trace_finding(request: Request, store: StoreDep, caller: CanTrace,
                  iri: Annotated[str, Query(min_length=1, max_length=4096,
                                            description="the finding's IRI")]
                  ) -> dict[str, Any]:
    """The chain from ``iri`` back to its origins (model, batches, export, site, raw data),
    within the caller's sponsors."""
    checked_iri(iri)
    scope = caller_scope(store, caller)
    settings = request.app.state.settings
    found = None if scope.empty else trace(store, iri, graphs=scope.graphs,
                                           sponsors=scope.sponsors,
                                           timeout_s=settings.sparql_timeout_s)
    record_query(request, caller, "trace", iri)
    if found is None:
        raise NotFoundError(f"<{iri}> is not described in any graph you may see")
    graphs = {g for node in found.nodes.values() for g in node.graphs}
    info = {}
    for graph, meta in store.graph_metadata(graphs).items():
        info[graph] = {"graph": graph, "site": meta.site, "sponsor": meta.sponsor,
                       "kind": meta.kind, "export_hash": meta.export_hash,
                       "received_at": meta.received_at.isoformat() if meta.received_at
                       else None, "alignment_version": meta.alignment_version}
    return found.as_json(info)
