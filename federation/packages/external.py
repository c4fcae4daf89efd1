"""Sections other capabilities contribute: failure signatures and soft-sensor/yield models.

Each function returns an :class:`ExternalSection`: the items for the package (label,
definition, facts, evidence IRIs) or, when the capability has nothing for this process, the
reason the section is empty — stated in the package and its report, never silently left out.
"""

from __future__ import annotations

from federation.packages.sections import ExternalSection
from federation.packages.source import PREFIXES, TransferData
from federation.store.base import Store


def _process_batches(store: Store, data: TransferData) -> set[str]:
    """Every batch of the process at any site, within the process's sponsor."""
    code = data.process.code.replace("\\", "\\\\").replace('"', '\\"')
    rows = store.query(PREFIXES + f"""SELECT ?b WHERE {{ ?b a tf:Batch ; tf:ofProcess ?p .
        ?p tf:processCode "{code}" }}""", sponsors=[data.process.sponsor], timeout_s=60,
                       max_results=1_000_000).rows
    return {row[0].value for row in rows if row[0] is not None}


def signature_section(store: Store, data: TransferData) -> ExternalSection:
    """Failure signatures seen for the process at any site, with root causes and CAPA.

    The latest discovery run of the process's sponsor (``federation/signatures``) is read;
    a signature belongs here when any of its member batches ran the process.
    """
    from federation.signatures.profiles import ReadScope
    from federation.signatures.service import SignatureService, impact_words

    sponsor = data.process.sponsor
    neutral = tuple(sorted(iri for iri, meta in store.graph_metadata().items()
                           if meta.sponsor is None))
    signatures = SignatureService(store).signatures(ReadScope(frozenset({sponsor}), neutral),
                                                    include_curated=False)
    if not signatures:
        return ExternalSection(empty_reason=(
            f"no failure-signature discovery has been run for sponsor {sponsor} yet (POST "
            "/signatures/discover or `twinfed federation signatures discover`)"))
    batches = _process_batches(store, data)
    items = []
    for signature in signatures:
        members = sorted(set(signature.members) & batches)
        if not members:
            continue
        capas = [c for d in signature.deviations for c in d.capa]
        effective = sum(1 for c in capas if c[2] is True)
        causes = sorted({d.root_cause for d in signature.deviations if d.root_cause})
        items.append({
            "iri": signature.iri, "label": signature.label, "definition": signature.definition,
            "sites": signature.sites,
            "facts": {
                "members of this process": f"{len(members)} of {len(signature.members)}",
                "sites": ", ".join(signature.sites), "first seen": signature.first_seen or "",
                "last seen": signature.last_seen or "", "impact": impact_words(signature),
                "root causes": "; ".join(causes) or "none recorded",
                "CAPA": f"{len(capas)} ({effective} proven effective)" + (
                    ": " + "; ".join(sorted({c[1] for c in capas if c[1]})) if capas else ""),
            },
            "evidence": tuple(members) + tuple(d.iri for d in signature.deviations),
        })
    if not items:
        return ExternalSection(empty_reason=(
            f"the latest signature discovery for sponsor {sponsor} found "
            f"{len(signatures)} signature(s), none with a batch of process "
            f"{data.process.code} among its members"))
    return ExternalSection(items=tuple(items))


def model_section(store: Store, data: TransferData) -> ExternalSection:
    """Soft-sensor and yield models of the process, with a transfer check on R's data."""
    return ExternalSection(empty_reason=(
        "no soft-sensor or yield model card is in the federation for this process: the "
        "model-card export (site_node/models) had not landed when this package builder was "
        "written, so there is no model or transfer check to carry"))
