"""Score a batch against a signature and say why.

``coverage``: the share of the signature's defining events (weighted by the share of members
that show each) that the batch shows. ``specificity``: the share of the batch's own evidence
that the signature's defining events explain, each event kind weighted by ``log(1 +
magnitude)`` as in discovery. A discovered signature describes the
whole deviation profile of its members, so its score is the harmonic mean of the two (a
batch with many unrelated excursions is not a good match, nor is one missing most defining
events). A curated pattern names only the events it requires and says nothing of others,
so its score is the coverage alone. Only events of at least ``min_magnitude`` envelope SDs
count, as in discovery (smaller excursions are everyday noise of 40-batch envelopes), plus
the batch's feature deviations (phase statistics far from its site's reference batches,
``features.py``) when its profile was read with them: the same evidence discovery uses.
"""

from __future__ import annotations

import math

from federation.signatures.model import (
    MIN_EVENT_MAGNITUDE,
    BatchProfile,
    EventEvidence,
    Match,
    Signature,
)


def match(profile: BatchProfile, signature: Signature,
          min_magnitude: float = MIN_EVENT_MAGNITUDE) -> Match:
    events = profile.evidence(min_magnitude)
    defining = signature.defining
    present, missing = [], []
    for event in defining:
        observed = [m for key, m in events.items() if event.key.covers(key)]
        evidence = EventEvidence(event.key, event.share, max(observed) if observed else None)
        (present if observed else missing).append(evidence)
    total = sum(e.share for e in defining)
    coverage = sum(e.weight for e in present) / total if total else 0.0
    unexplained = tuple(sorted(k for k in events if not any(e.key.covers(k) for e in defining)))
    # Weighted by log(1 + magnitude): a 2-SD-past-threshold wobble the signature does not
    # explain costs less than an unexplained 30-SD excursion.
    weights = {k: math.log1p(m) for k, m in events.items()}
    total_weight = sum(weights.values())
    specificity = (1 - sum(weights[k] for k in unexplained) / total_weight
                   if total_weight else 0.0)
    if signature.kind == "curated":
        score = coverage
    else:
        score = (2 * coverage * specificity / (coverage + specificity)
                 if coverage + specificity else 0.0)
    return Match(signature=signature, score=round(score, 4), coverage=round(coverage, 4),
                 specificity=round(specificity, 4), present=tuple(present),
                 missing=tuple(missing), unexplained=unexplained)


def rank(profile: BatchProfile, signatures: list[Signature],
         min_magnitude: float = MIN_EVENT_MAGNITUDE) -> list[Match]:
    """Every signature's match, best first (ties: by signature id)."""
    return sorted((match(profile, s, min_magnitude) for s in signatures),
                  key=lambda m: (-m.score, m.signature.signature_id))
