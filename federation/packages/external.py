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
    """Soft-sensor and yield model cards of the process (any site), with a transfer check on
    R's data.

    The cards are what sites export (``site_node/export/models.py``): metrics, prediction
    interval, applicability-domain limits, drivers, assumptions, training batches. The full
    transfer check (``bioprocess.models.transfer.transfer_check``) needs the fitted model and
    R's spectra, which stay at their sites; the federation checks what it can see: whether
    R's aligned values of the model's target lie within the range of the batches the model
    was trained on (per-phase min and max features).
    """
    code = data.process.code.replace("\\", "\\\\").replace('"', '\\"')
    rows = store.query(PREFIXES + f"""
        SELECT ?model ?id ?version ?target ?unit ?algorithm ?r2 ?rmsecv ?rmsep ?bias ?half
               ?t2 ?q (GROUP_CONCAT(DISTINCT STR(?training); separator=" ") AS ?trainings)
               (GROUP_CONCAT(DISTINCT ?driver; separator=" | ") AS ?drivers)
               (GROUP_CONCAT(DISTINCT ?assumption; separator=" | ") AS ?assumptions)
               (COUNT(DISTINCT ?drift) AS ?drifts) (SAMPLE(?yieldType) AS ?yield)
        WHERE {{
          ?model a tf:SoftSensorModel ; tf:modelId ?id ; tf:modelVersion ?version ;
                 tf:targetAnalyte ?target ; tf:ofProcess ?p . ?p tf:processCode "{code}" .
          OPTIONAL {{ ?model tf:unitLabel ?unit }} OPTIONAL {{ ?model tf:algorithm ?algorithm }}
          OPTIONAL {{ ?model tf:r2 ?r2 }} OPTIONAL {{ ?model tf:rmsecv ?rmsecv }}
          OPTIONAL {{ ?model tf:rmsep ?rmsep }} OPTIONAL {{ ?model tf:bias ?bias }}
          OPTIONAL {{ ?model tf:intervalHalfWidth ?half }}
          OPTIONAL {{ ?model tf:t2Limit95 ?t2 }} OPTIONAL {{ ?model tf:qLimit95 ?q }}
          OPTIONAL {{ ?model prov:wasDerivedFrom ?training }}
          OPTIONAL {{ ?model tf:driver ?driver }} OPTIONAL {{ ?model tf:assumption ?assumption }}
          OPTIONAL {{ ?drift tf:aboutModel ?model }}
          OPTIONAL {{ ?model a ?yieldType FILTER(?yieldType = tf:YieldModel) }}
        }} GROUP BY ?model ?id ?version ?target ?unit ?algorithm ?r2 ?rmsecv ?rmsep ?bias ?half
                   ?t2 ?q""", sponsors=[data.process.sponsor], timeout_s=60).bindings()
    if not rows:
        return ExternalSection(empty_reason=(
            f"no site has exported a soft-sensor or yield model card for process "
            f"{data.process.code} to the federation"))
    latest: dict[tuple[str, str, bool], dict] = {}
    for row in rows:
        values = {k: v.value for k, v in row.items()}
        key = (values["model"].split("/model/")[0], values["target"], "yield" in values)
        if key not in latest or int(values["version"]) > int(latest[key]["version"]):
            latest[key] = values
    site_of = {iri: code for code, iri in data.site_iris.items()}
    items = []
    for (site_base, target, is_yield), card in sorted(latest.items()):
        site = site_of.get(site_base + "/", site_base.rsplit("/", 1)[-1])
        trainings = card.get("trainings", "").split()
        check = _range_check(data, site_base + "/", target, trainings)
        facts = {k: card[k] for k in ("algorithm", "r2", "rmsecv", "rmsep", "bias")
                 if card.get(k)}
        facts.update({"site": site, "target": f"{target} ({card.get('unit', '')})",
                      "version": card["version"], "training batches": len(trainings),
                      "prediction interval ±": card.get("half", "?"),
                      "applicability domain": f"T² ≤ {card.get('t2', '?')}, Q ≤ "
                                              f"{card.get('q', '?')} (95 %)",
                      "drift events": card.get("drifts", "0"),
                      "top drivers": card.get("drivers", "")[:300],
                      "transfer check on R's data": check})
        kind = "early-yield model" if is_yield else "soft sensor"
        items.append({"iri": card["model"], "label": f"{card['id']} ({target} {kind}, {site})",
                      "definition": card.get("assumptions", "")[:500],
                      "facts": facts, "evidence": tuple(trainings)})
    return ExternalSection(items=tuple(items))


def _range_check(data: TransferData, site_iri: str, target: str,
                 trainings: list[str]) -> str:
    """Share of R's per-phase values of the target inside the model's training range."""
    parameter = next((t.parameter for t in data.tags if t.name == target
                      and t.iri.startswith(site_iri) and t.parameter), None)
    if parameter is None:
        return (f"not possible: the model's target {target} is not mapped to a shared "
                "parameter")
    trained = [v for (b, p, _, stat), v in data.features.items()
               if b in set(trainings) and p == parameter and stat in ("min", "max")]
    receiving = [v for (b, p, _, stat), v in data.features.items()
                 if p == parameter and stat in ("min", "max")
                 and b in data.batches and data.batches[b].site == data.to_site]
    if not trained:
        return "not possible: the training batches' features are not in the federation"
    if not receiving:
        return (f"no data at {data.to_site} yet; the model was trained on "
                f"{min(trained):.3g}–{max(trained):.3g} (canonical unit)")
    low, high = min(trained), max(trained)
    inside = sum(low <= v <= high for v in receiving) / len(receiving)
    verdict = ("within the training range" if inside >= 0.95 else
               "partly outside the training range: recalibrate or extend before relying on it")
    return (f"{inside:.0%} of {data.to_site}'s per-phase min/max values of "
            f"{parameter.removeprefix('https://w3id.org/twinfed/parameter/')} lie in the "
            f"training range {low:.3g}–{high:.3g}: {verdict} (a full check on R's spectra "
            "needs the fitted model at R: bioprocess.models.transfer.transfer_check)")
