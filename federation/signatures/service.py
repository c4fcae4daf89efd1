"""Discover, store, list, show and match failure signatures within a caller's scope.

Sponsor isolation: discovery runs once per sponsor, reading only that sponsor's graphs (its
union view) plus the sponsor-neutral site graphs, and stores its result in a graph whose
metadata names that sponsor. The store then shows the signatures only to callers whose
scope includes the sponsor, exactly as it does for the sponsor's batches. Reads
(:meth:`SignatureService.signatures`, :meth:`match`) run with the caller's scope, the same
one ``/sparql`` uses.
"""

from __future__ import annotations

import hashlib
import statistics
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from rdflib import Graph

from bioprocess.errors import NotFoundError, ValidationError
from federation.signatures import rdf
from federation.signatures.discovery import DiscoveryOptions, Group, discover
from federation.signatures.matching import MemberEvidence, rank
from federation.signatures.model import (
    BatchProfile,
    DefiningEvent,
    EventKey,
    Impact,
    Match,
    Signature,
    parameter_label,
)
from federation.signatures.profiles import (
    DEFAULT_OUTCOME,
    ReadScope,
    read_deviations,
    read_profiles,
    reference_batches,
    select_rows,
    with_feature_deviations,
    with_stored_feature_deviations,
)
from federation.store.base import Store
from federation.store.metadata import GraphMetadata

#: Per sponsor: its latest discovery run (activity IRI) and the settings recorded with it.
RunSettings = dict[str, tuple[str, DiscoveryOptions]]


@dataclass(frozen=True)
class RunSummary:
    sponsor: str
    run: str
    graph: str
    batches_read: int
    signatures: list[Signature]


def _nquads(graph: Graph, iri: str) -> bytes:
    body = graph.serialize(format="nt", encoding="utf-8")
    suffix = f" <{iri}> .\n".encode()
    return b"".join(line[:-2] + suffix for line in body.splitlines(keepends=True)
                    if line.strip())


def _mean(values: list[float]) -> float | None:
    return float(statistics.fmean(values)) if values else None


def impact(group: Group, profiles: list[BatchProfile], references: dict[str, set[str]],
           outcome: str) -> Impact:
    """Members' outcome against comparable good batches of their own site and process.

    Comparable: same site and process, no aligned deviation event, not a member. Where a
    site/process has none, the good batches its envelopes were built from stand in (the
    basis says so). The relative change is averaged over members, each against its own
    site/process comparables.
    """
    members = {m.batch for m in group.members}
    pools: dict[tuple[str, str], list[BatchProfile]] = defaultdict(list)
    for p in profiles:
        if p.batch not in members and not p.events and p.outcome is not None:
            pools[(p.site, p.process)].append(p)
    changes, member_values, comparable_values, used_fallback = [], [], [], False
    comparable_ids: set[str] = set()
    for member in group.members:
        if member.outcome is None:
            continue
        pool = pools.get((member.site, member.process), [])
        if not pool:
            good = references.get(member.process, set()) - members
            pool = [p for p in profiles if p.batch in good and p.outcome is not None]
            used_fallback = used_fallback or bool(pool)
        if not pool:
            continue
        reference = statistics.fmean(p.outcome for p in pool)  # type: ignore[misc]
        comparable_ids |= {p.batch for p in pool}
        member_values.append(member.outcome)
        comparable_values.append(reference)
        if reference:
            changes.append((member.outcome - reference) / reference)
    basis = ("batches of the same site and process without aligned deviation events"
             + ("; where a site had none, the good batches its envelopes were built from"
                if used_fallback else ""))
    return Impact(parameter=outcome, members_mean=_mean(member_values),
                  comparable_mean=_mean(comparable_values), relative_change=_mean(changes),
                  comparable_batches=len(comparable_ids), basis=basis)


def describe_in_words(events: tuple[DefiningEvent, ...], members: int,
                      sites: tuple[str, ...]) -> tuple[str, str]:
    """A label and a definition a QA reviewer can check against the members' events."""
    label = "; ".join(e.key.words() for e in events[:3])
    if len(events) > 3:
        label += f" (+{len(events) - 3} more)"
    shown = []
    for e in events[:12]:
        count = round(e.share * members)
        shown.append(f"{e.key.words()} ({count} of {members} batches, typically "
                     f"{e.typical_magnitude:.1f} SD off the site's norm)")
    more = f"; and {len(events) - 12} more event kinds" if len(events) > 12 else ""
    definition = (f"{members} batches at {len(sites)} site(s) ({', '.join(sites)}) share this "
                  f"deviation pattern. Events most members show: {'; '.join(shown)}{more}. "
                  "SD off the site's norm: envelope SDs beyond the site's band for deviation "
                  "events, robust SDs from the median of the site's reference batches for a "
                  "phase statistic (mean, min, max or slope) of the parameter.")
    return label, definition


def _lineage_id(events: tuple[DefiningEvent, ...]) -> str:
    text = "|".join(f"{e.key.parameter} {e.key.phase} {e.key.direction}" for e in
                    sorted(events, key=lambda e: e.key))
    return "sig-" + hashlib.sha256(text.encode()).hexdigest()[:10]


def _jaccard(a: set[EventKey], b: set[EventKey]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


class SignatureService:
    """Signature operations over one federation store."""

    def __init__(self, store: Store, software_version: str = "0") -> None:
        self.store = store
        self.software_version = software_version

    # -- discovery -------------------------------------------------------------------------

    def discover(self, sponsors: set[str] | frozenset[str], neutral_graphs: tuple[str, ...],
                 *, requested_by: str, options: DiscoveryOptions | None = None,
                 outcome: str = DEFAULT_OUTCOME) -> list[RunSummary]:
        """One run per sponsor; each stored as a new version beside the old ones."""
        options = options or DiscoveryOptions()
        neutral = tuple(g for g in neutral_graphs if g != rdf.CURATED_GRAPH)
        summaries, graphs, metadata = [], {}, {}
        for sponsor in sorted(sponsors):
            summary, graph = self._discover_one(sponsor, neutral, requested_by, options,
                                                outcome)
            graphs[summary.graph] = _nquads(graph, summary.graph)
            metadata[summary.graph] = GraphMetadata(
                sponsor=sponsor, kind="signature", received_at=datetime.now(UTC))
            summaries.append(summary)
        curated = rdf.curated_graph()
        graphs[rdf.CURATED_GRAPH] = _nquads(curated, rdf.CURATED_GRAPH)
        metadata[rdf.CURATED_GRAPH] = GraphMetadata(kind="signature-curated",
                                                    received_at=datetime.now(UTC))
        self.store.replace_graphs(graphs, metadata)
        return summaries

    def _discover_one(self, sponsor: str, neutral: tuple[str, ...], requested_by: str,
                      options: DiscoveryOptions, outcome: str) -> tuple[RunSummary, Graph]:
        started = datetime.now(UTC)
        scope = ReadScope(frozenset({sponsor}), neutral)
        profiles = [p for p in read_profiles(self.store, scope, outcome=outcome,
                                             features=options.features)
                    if p.sponsor == sponsor]
        groups = discover(profiles, options)
        references = reference_batches(self.store, scope)
        previous = self._latest(ReadScope(frozenset({sponsor})), sponsor)
        run_id = started.strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        signatures = self._signatures(sponsor, groups, profiles, references, outcome,
                                      previous, scope)
        graph = rdf.run_graph(sponsor=sponsor, run_id=run_id, started=started,
                              ended=datetime.now(UTC), software_version=self.software_version,
                              requested_by=requested_by, options=options, outcome=outcome,
                              used=sorted(p.batch for p in profiles), signatures=signatures,
                              evidence=profiles)
        summary = RunSummary(sponsor=sponsor, run=str(rdf.run_iri(sponsor, run_id)),
                             graph=rdf.run_graph_iri(sponsor, run_id),
                             batches_read=len(profiles), signatures=signatures)
        return summary, graph

    def _signatures(self, sponsor: str, groups: list[Group], profiles: list[BatchProfile],
                    references: dict[str, set[str]], outcome: str,
                    previous: list[Signature], scope: ReadScope) -> list[Signature]:
        unclaimed = list(previous)
        signatures: list[Signature] = []
        taken: set[str] = set()
        for group in groups:
            keys = {e.key for e in group.events}
            best = max(unclaimed, key=lambda s: _jaccard(keys, {e.key for e in s.events}),
                       default=None)
            if best is not None and _jaccard(keys, {e.key for e in best.events}) >= 0.5:
                unclaimed.remove(best)
                signature_id, version, revision_of = (best.signature_id, best.version + 1,
                                                      best.iri)
            else:
                signature_id, version, revision_of = _lineage_id(group.events), 1, None
            while signature_id in taken:
                signature_id += "x"
            taken.add(signature_id)
            sites = group.sites
            label, definition = describe_in_words(group.events, len(group.members), sites)
            members = tuple(m.batch for m in group.members)
            signatures.append(Signature(
                iri=rdf.signature_iri(sponsor, signature_id, version),
                signature_id=signature_id, kind="discovered", label=label,
                definition=definition, events=group.events, sponsor=sponsor, version=version,
                revision_of=revision_of, members=members,
                member_ids=tuple(m.batch_id for m in group.members), sites=sites,
                first_seen=min(m.start for m in group.members),
                last_seen=max(m.start for m in group.members),
                impact=impact(group, profiles, references, outcome),
                deviations=tuple(read_deviations(self.store, scope, members))))
        return signatures

    # -- reads -----------------------------------------------------------------------------

    def _latest_runs(self, scope: ReadScope) -> dict[str, str]:
        rows = select_rows(self.store, scope, """SELECT ?run ?sponsor ?ended WHERE {
            ?run a tf:SignatureDiscovery ; tf:forSponsorCode ?sponsor ;
                 prov:endedAtTime ?ended }""")
        latest: dict[str, tuple[str, str]] = {}
        for row in rows:
            if row["sponsor"] not in latest or row["ended"] > latest[row["sponsor"]][0]:
                latest[row["sponsor"]] = (row["ended"], row["run"])
        return {sponsor: run for sponsor, (_, run) in latest.items()}

    def run_settings(self, scope: ReadScope) -> RunSettings:
        """Per sponsor in scope: its latest discovery run (activity IRI) and the settings
        recorded with it (settings it did not record keep their defaults)."""
        latest = self._latest_runs(scope)
        if not latest:
            return {}
        rows = select_rows(self.store, scope, f"""SELECT ?run ?name ?value WHERE {{
            VALUES ?run {{ {" ".join(f"<{r}>" for r in latest.values())} }}
            ?run tf:setting ?setting . ?setting rdfs:label ?name ; rdf:value ?value }}"""
                           .replace("SELECT", "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-"
                                    "schema#>\nPREFIX rdf: <http://www.w3.org/1999/02/22-rdf-"
                                    "syntax-ns#>\nSELECT", 1))
        recorded: dict[str, dict[str, float]] = defaultdict(dict)
        for row in rows:
            recorded[row["run"]][row["name"]] = float(row["value"])
        known = DiscoveryOptions().as_dict()
        found = {}
        for sponsor, run in latest.items():
            values = {k: type(known[k])(v) for k, v in recorded[run].items() if k in known}
            found[sponsor] = (run, DiscoveryOptions(**values))  # type: ignore[arg-type]
        return found

    def _latest(self, scope: ReadScope, sponsor: str) -> list[Signature]:
        run = self._latest_runs(scope).get(sponsor)
        return self._read(scope, [run]) if run else []

    def _read(self, scope: ReadScope, runs: list[str]) -> list[Signature]:
        if not runs:
            return []
        values = " ".join(f"<{r}>" for r in runs)
        base = {}
        for row in select_rows(self.store, scope, f"""SELECT * WHERE {{
            VALUES ?run {{ {values} }}
            ?sig prov:wasGeneratedBy ?run ; tf:signatureId ?id ; tf:signatureVersion ?version ;
                 rdfs:label ?label ; skos:definition ?definition ; tf:forSponsorCode ?sponsor .
            OPTIONAL {{ ?sig prov:wasRevisionOf ?revisionOf }}
            OPTIONAL {{ ?sig tf:firstSeen ?first ; tf:lastSeen ?last }}
            OPTIONAL {{ ?sig tf:outcomeParameter ?outcome ; tf:comparableBatchCount
                        ?comparableCount ; tf:comparableBasis ?basis .
              OPTIONAL {{ ?sig tf:memberOutcomeMean ?membersMean }}
              OPTIONAL {{ ?sig tf:comparableOutcomeMean ?comparableMean }}
              OPTIONAL {{ ?sig tf:relativeOutcomeChange ?relativeChange }} }}
        }}""".replace("SELECT", "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
                      "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\nSELECT", 1)):
            base[row["sig"]] = row
        events: dict[str, list[DefiningEvent]] = defaultdict(list)
        for row in select_rows(self.store, scope, f"""SELECT ?sig ?parameter ?phase ?direction
            ?share ?magnitude WHERE {{
            VALUES ?run {{ {values} }}
            ?sig prov:wasGeneratedBy ?run ; tf:definingEvent ?e .
            ?e tf:parameter ?parameter ; tf:eventDirection ?direction .
            OPTIONAL {{ ?e tf:eventPhase ?phase }} OPTIONAL {{ ?e tf:memberShare ?share }}
            OPTIONAL {{ ?e tf:typicalMagnitude ?magnitude }} }}"""):
            events[row["sig"]].append(DefiningEvent(
                EventKey(row["parameter"], row.get("phase"), row["direction"]),
                float(row.get("share", 1.0)),
                float(row["magnitude"]) if "magnitude" in row else None))
        members: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        sites: dict[str, set[str]] = defaultdict(set)
        linked: dict[str, set[str]] = defaultdict(set)
        for row in select_rows(self.store, scope, f"""SELECT ?sig ?member ?memberId ?site ?deviation
            WHERE {{ VALUES ?run {{ {values} }} ?sig prov:wasGeneratedBy ?run .
            {{ ?sig tf:memberBatch ?member . OPTIONAL {{ ?member tf:batchId ?memberId }} }}
            UNION {{ ?sig tf:seenAtSiteCode ?site }} UNION {{ ?sig tf:linkedDeviation ?deviation }}
            }}"""):
            if "member" in row:
                members[row["sig"]].append((row["member"], row.get(
                    "memberId", row["member"].rsplit("/", 1)[-1]), ""))
            if "site" in row:
                sites[row["sig"]].add(row["site"])
            if "deviation" in row:
                linked[row["sig"]].add(row["deviation"])
        signatures = []
        for iri, row in base.items():
            member_rows = sorted(set(members[iri]))
            deviations = ()
            if linked[iri]:
                deviations = tuple(d for d in read_deviations(
                    self.store, scope, [m for m, _, _ in member_rows]) if d.iri in linked[iri])
            signatures.append(Signature(
                iri=iri, signature_id=row["id"], kind="discovered", label=row["label"],
                definition=row["definition"],
                events=tuple(sorted(events[iri], key=lambda e: (-e.share, e.key))),
                sponsor=row["sponsor"], version=int(row["version"]),
                revision_of=row.get("revisionOf"), members=tuple(m for m, _, _ in member_rows),
                member_ids=tuple(i for _, i, _ in member_rows), sites=tuple(sorted(sites[iri])),
                first_seen=row.get("first"), last_seen=row.get("last"),
                impact=rdf.impact_of(row), deviations=deviations, run=row["run"]))
        signatures.sort(key=lambda s: (-len(s.members), s.sponsor or "", s.signature_id))
        return signatures

    def signatures(self, scope: ReadScope, *, include_curated: bool = True) -> list[Signature]:
        """The latest version of every discovered signature in scope, then the curated ones."""
        found = self._read(scope, sorted(self._latest_runs(scope).values()))
        return found + (rdf.curated_signatures() if include_curated else [])

    def signature(self, scope: ReadScope, signature_id: str) -> tuple[Signature, list[str]]:
        """One signature (latest version) by id, with the IRIs of its earlier versions."""
        for signature in self.signatures(scope):
            if signature.signature_id == signature_id:
                return signature, self._earlier_versions(scope, signature)
        raise NotFoundError(f"no failure signature '{signature_id}' among the signatures you "
                            "may see; GET /signatures lists them")

    def _earlier_versions(self, scope: ReadScope, signature: Signature) -> list[str]:
        if signature.kind == "curated":
            return []
        rows = select_rows(self.store, scope, f"""SELECT ?earlier WHERE {{
            <{signature.iri}> prov:wasRevisionOf+ ?earlier }}""")
        return sorted(row["earlier"] for row in rows)

    # -- matching --------------------------------------------------------------------------

    def resolve_batch(self, scope: ReadScope, batch: str) -> str:
        """A batch IRI from an IRI, ``SITE/BATCH_ID`` or a batch id unique in scope."""
        if not batch:
            raise ValidationError("batch must be a batch id, SITE/BATCH_ID or a batch IRI; "
                                  "got an empty value")
        site = None
        if "://" in batch:
            clause = f"VALUES ?batch {{ <{batch}> }} ?batch a tf:Batch ."
        else:
            if "/" in batch:
                site, batch = batch.split("/", 1)
            literal = batch.replace("\\", "\\\\").replace('"', '\\"')
            clause = f'?batch a tf:Batch ; tf:batchId "{literal}" .'
        rows = select_rows(self.store, scope, f"""SELECT DISTINCT ?batch ?site WHERE {{ {clause}
            ?batch tf:atSite ?siteIri . OPTIONAL {{ ?siteIri tf:siteCode ?site }} }}""")
        if site is not None:
            rows = [r for r in rows if r.get("site") == site]
        candidates = sorted({r["batch"] for r in rows})
        if not candidates:
            raise NotFoundError(f"no batch '{batch}' among the batches you may see")
        if len(candidates) > 1:
            raise ValidationError(f"batch id '{batch}' is ambiguous: it exists at sites "
                                  f"{sorted({r.get('site', '?') for r in rows})}; give it as "
                                  "SITE/BATCH_ID")
        return candidates[0]

    def evidence_profile(self, scope: ReadScope, iri: str, *,
                         outcome: str = DEFAULT_OUTCOME,
                         runs: RunSettings | None = None) -> tuple[BatchProfile, float]:
        """A batch's profile as its sponsor's latest discovery run counts evidence, and the
        run's smallest event magnitude: the feature deviations the run stored for it (the
        evidence the ``batches_matching_signature`` question reads too); a batch the run
        did not read gets them computed now with the run's feature settings. Without a run,
        the defaults. ``runs``: :meth:`run_settings` when the caller has read them."""
        [profile] = read_profiles(self.store, scope, outcome=outcome, batches=[iri])
        runs = self.run_settings(scope) if runs is None else runs
        run, options = runs.get(profile.sponsor, (None, DiscoveryOptions()))
        if run is not None and self._read_by(scope, run, iri):
            [profile] = with_stored_feature_deviations(self.store, scope, [profile], run)
        else:
            [profile] = with_feature_deviations(self.store, scope, [profile], options.features)
        return profile, options.min_magnitude

    def _read_by(self, scope: ReadScope, run: str, batch: str) -> bool:
        return bool(select_rows(self.store, scope,
                                f"SELECT ?run WHERE {{ VALUES ?run {{ <{run}> }} "
                                f"?run prov:used <{batch}> }}"))

    def match(self, scope: ReadScope, batch: str, *, outcome: str = DEFAULT_OUTCOME
              ) -> tuple[BatchProfile, list[Match]]:
        """Every visible signature's match of ``batch``, best first, on the evidence of
        :meth:`evidence_profile`."""
        iri = self.resolve_batch(scope, batch)
        runs = self.run_settings(scope)
        profile, min_magnitude = self.evidence_profile(scope, iri, outcome=outcome, runs=runs)
        signatures = self.signatures(scope)
        return profile, rank(profile, signatures, min_magnitude,
                             self.member_evidence(scope, signatures, runs, outcome=outcome))

    def member_evidence(self, scope: ReadScope, signatures: list[Signature],
                        runs: RunSettings, *,
                        outcome: str = DEFAULT_OUTCOME) -> dict[str, MemberEvidence]:
        """Per discovered signature (IRI) of a run in ``runs`` (:meth:`run_settings`): its
        members' evidence as that run counted it (their events and the feature deviations
        the run stored) and the run's settings: what the match's similarity score compares
        a batch with."""
        settings = dict(runs.values())
        by_run: dict[str, list[Signature]] = defaultdict(list)
        for signature in signatures:
            if signature.kind == "discovered" and signature.run in settings:
                by_run[signature.run].append(signature)
        found = {}
        for run, of_run in by_run.items():
            members = sorted({m for s in of_run for m in s.members})
            profiles = with_stored_feature_deviations(self.store, scope, read_profiles(
                self.store, scope, outcome=outcome, batches=members), run)
            by_iri = {p.batch: p for p in profiles}
            for signature in of_run:
                found[signature.iri] = MemberEvidence(
                    tuple(by_iri[m] for m in signature.members if m in by_iri), settings[run])
        return found


def impact_words(signature: Signature) -> str:
    impact = signature.impact
    if impact is None or impact.relative_change is None:
        return "impact unknown (no comparable batches with an outcome)"
    direction = "below" if impact.relative_change < 0 else "above"
    return (f"{parameter_label(impact.parameter)} {abs(impact.relative_change):.0%} {direction} "
            f"comparable batches ({impact.members_mean:.2f} vs {impact.comparable_mean:.2f}, "
            f"{impact.comparable_batches} comparable batches)")


__all__ = ["RunSummary", "SignatureService", "impact", "impact_words"]
