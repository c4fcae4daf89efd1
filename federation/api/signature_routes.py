"""``/signatures``: discover, list, show and match failure signatures, scoped like ``/sparql``.

Reads run over the caller's scope (``federation.scope.caller_scope``): the sponsors the
caller may see plus the sponsor-neutral graphs. Discovery runs once per sponsor of that
scope and needs the admin or quality role.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from federation.api.deps import StoreDep
from federation.api.roles import AuditDep, SignaturesReader, SignaturesRunner
from federation.registry.service import ForbiddenError, Principal
from federation.scope import caller_scope
from federation.signatures.discovery import DiscoveryOptions
from federation.signatures.model import Match, Signature
from federation.signatures.profiles import DEFAULT_OUTCOME, ReadScope
from federation.signatures.service import SignatureService, impact_words
from federation.store.base import Store

router = APIRouter(tags=["signatures"])
_RUN_ROLES = frozenset({"admin", "quality"})


def _version() -> str:
    try:
        return metadata.version("twinfed")
    except metadata.PackageNotFoundError:
        return "unknown"


def _scope(store: Store, caller: Principal) -> ReadScope:
    scope = caller_scope(store, caller)
    return ReadScope(frozenset(scope.sponsors), tuple(scope.graphs))


class DiscoverRequest(BaseModel):
    """Settings of a discovery run (all optional; the defaults are documented)."""

    distance_threshold: float = Field(DiscoveryOptions.distance_threshold, gt=0, le=1,
                                      description="cosine distance cut")
    phase_weight: float = Field(DiscoveryOptions.phase_weight, ge=0,
                                description="weight of the phase-specific columns beside the "
                                "phase-free ones in the clustered vector")
    slope_weight: float = Field(DiscoveryOptions.slope_weight, ge=0,
                                description="weight of the slope statistics in the clustered "
                                "vector (slopes stay evidence for descriptions and matching)")
    gate_factor: float = Field(DiscoveryOptions.gate_factor, gt=0,
                               description="feature deviations count for a batch whose largest "
                               "|z| is this many times the site's median of that figure")
    min_feature_z: float = Field(DiscoveryOptions.min_feature_z, ge=0,
                                 description="smallest |z| of a feature deviation that counts")
    disagreement: bool = Field(DiscoveryOptions.disagreement,
                               description="also score declared redundant measurements' "
                               "disagreement with the measurement of record (off by default)")
    min_magnitude: float = Field(DiscoveryOptions.min_magnitude, ge=0,
                                 description="smallest event (envelope SDs) that is evidence")
    min_sites: int = Field(2, ge=1, description="keep groups seen at this many sites")
    min_batches: int = Field(0, ge=0, description="... or with this many batches (0: off)")
    defining_share: float = Field(0.5, gt=0, le=1, description="share of members an event "
                                  "needs to define the signature")
    outcome: str = Field(DEFAULT_OUTCOME, description="parameter IRI of the impact outcome")


def signature_dict(signature: Signature, *, full: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": signature.signature_id, "iri": signature.iri, "kind": signature.kind,
        "label": signature.label, "definition": signature.definition,
        "sponsor": signature.sponsor, "version": signature.version,
        "revision_of": signature.revision_of, "sites": list(signature.sites),
        "members": len(signature.members), "first_seen": signature.first_seen,
        "last_seen": signature.last_seen,
        "impact": None if signature.impact is None else {
            "parameter": signature.impact.parameter,
            "members_mean": signature.impact.members_mean,
            "comparable_mean": signature.impact.comparable_mean,
            "relative_change": signature.impact.relative_change,
            "comparable_batches": signature.impact.comparable_batches,
            "basis": signature.impact.basis,
            "in_words": impact_words(signature)},
    }
    if full:
        body["defining_events"] = [
            {"parameter": e.key.parameter, "phase": e.key.phase, "direction": e.key.direction,
             "share": e.share, "typical_magnitude": e.typical_magnitude,
             "in_words": e.key.words()} for e in signature.events]
        body["member_batches"] = [{"iri": iri, "batch_id": batch_id} for iri, batch_id in
                                  zip(signature.members, signature.member_ids, strict=True)]
        body["deviations"] = [
            {"iri": d.iri, "batch_id": d.batch_id, "deviation_id": d.deviation_id,
             "category": d.category, "description": d.description,
             "root_cause": d.root_cause, "failure_mode": d.failure_mode,
             "capa": [{"capa_id": c, "action": a, "effective": e} for c, a, e in d.capa]}
            for d in signature.deviations]
        body["run"] = signature.run
    return body


def match_dict(found: Match) -> dict[str, Any]:
    return {
        "signature": signature_dict(found.signature, full=False),
        "score": found.score, "coverage": found.coverage, "specificity": found.specificity,
        "similarity": found.similarity, "explanation": found.explanation(),
        "present": [{"event": e.key.words(), "weight": e.weight,
                     "magnitude": e.observed_magnitude} for e in found.present],
        "missing": [{"event": e.key.words(), "weight": e.weight} for e in found.missing],
        "unexplained": [k.words() for k in found.unexplained],
    }


@router.post("/signatures/discover", operation_id="discover_signatures")
def discover_signatures(store: StoreDep, caller: SignaturesRunner, audit: AuditDep,
                        body: DiscoverRequest | None = None) -> dict[str, Any]:
    """Run discovery once per sponsor in the caller's scope; each run is a new version."""
    if not caller.roles & _RUN_ROLES:
        raise ForbiddenError("signature discovery needs the admin or quality role; the caller "
                             f"has roles {', '.join(sorted(caller.roles)) or 'none'}")
    body = body or DiscoverRequest()
    options = DiscoveryOptions(distance_threshold=body.distance_threshold,
                               phase_weight=body.phase_weight, slope_weight=body.slope_weight,
                               min_magnitude=body.min_magnitude,
                               min_sites=body.min_sites, min_batches=body.min_batches,
                               defining_share=body.defining_share,
                               gate_factor=body.gate_factor, min_feature_z=body.min_feature_z,
                               disagreement=body.disagreement)
    scope = _scope(store, caller)
    runs = SignatureService(store, _version()).discover(
        scope.sponsors, scope.graphs, requested_by=caller.name, options=options,
        outcome=body.outcome)
    audit.record(caller.name, "signature.run", ",".join(sorted(scope.sponsors)), {
        "settings": options.as_dict(), "outcome": body.outcome,
        "runs": [{"sponsor": r.sponsor, "run": r.run, "graph": r.graph,
                  "signatures": len(r.signatures)} for r in runs]})
    return {"settings": options.as_dict(), "runs": [
        {"sponsor": r.sponsor, "run": r.run, "graph": r.graph, "batches_read": r.batches_read,
         "signatures": [signature_dict(s) for s in r.signatures]} for r in runs]}


@router.get("/signatures", operation_id="list_signatures")
def list_signatures(store: StoreDep, caller: SignaturesReader) -> list[dict[str, Any]]:
    """The latest version of every signature the caller may see, then the curated ones."""
    service = SignatureService(store)
    return [signature_dict(s, full=False) for s in service.signatures(_scope(store, caller))]


@router.get("/signatures/match", operation_id="match_signatures")
def match_batch(store: StoreDep, caller: SignaturesReader,
                batch: str = Query(..., description="batch id, SITE/BATCH_ID or batch IRI")
                ) -> dict[str, Any]:
    """Score one batch against every visible signature, best first, with explanations."""
    profile, matches = SignatureService(store).match(_scope(store, caller), batch)
    return {"batch": {"iri": profile.batch, "batch_id": profile.batch_id,
                      "site": profile.site, "events": len(profile.events)},
            "matches": [match_dict(m) for m in matches]}


@router.get("/signatures/{signature_id}", operation_id="show_signature")
def show_signature(signature_id: str, store: StoreDep, caller: SignaturesReader) -> dict[str, Any]:
    """One signature (latest version): definition, members, impact, deviations, CAPA."""
    signature, earlier = SignatureService(store).signature(_scope(store, caller), signature_id)
    return {**signature_dict(signature), "earlier_versions": earlier}
