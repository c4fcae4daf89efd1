"""``GET /compare?process=P&sites=A,B``: site comparison for a process, scoped to the
caller's sponsors exactly like ``/sparql`` (plot-ready JSON, see
:mod:`federation.comparison.service`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from federation.api.deps import StoreDep
from federation.api.roles import CanCompare
from federation.comparison.service import compare
from federation.scope import caller_scope

router = APIRouter(tags=["comparison"])


def _codes(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


@router.get("/compare", operation_id="compare_sites")
def compare_sites(
    request: Request, store: StoreDep, caller: CanCompare,
    process: Annotated[str, Query(description="process code (tf:processCode)")],
    sites: Annotated[str | None, Query(description="comma-separated site codes; default: "
                                       "every site with batches of the process")] = None,
    statistics: Annotated[str, Query(description="comma-separated feature statistics")]
    = "mean",
) -> dict[str, Any]:
    """Per-phase parameter distributions, outcomes with Cpk, envelopes, equipment and
    measurement differences of the sites that ran ``process``."""
    settings = request.app.state.settings
    return compare(store, caller_scope(store, caller), process, _codes(sites),
                   statistics=_codes(statistics) or ["mean"],
                   timeout_s=settings.sparql_timeout_s,
                   max_results=settings.sparql_max_results)
