"""Benchmark: measured quality of the cross-site analytics on campaigns with ground truth.

What is measured (``main()`` returns the printed figures as a dict):

1. **Signature discovery vs injected faults**: on 3-site x 40-batch campaigns
   (``generate_campaign``, ``fault_rate`` 0.3, several seeds), the adjusted Rand index of
   the recurring signatures found against the injected fault types, faulty batches only
   (a batch with several faults is labelled by their combination). Two figures per seed:
   over *all* faulty batches (a batch in no signature counts as its own singleton group —
   faults that leave no aligned deviation event cannot be found from events), and over the
   faulty batches that have at least one aligned deviation event, using the grouping before
   the recurrence filter (how well the clustering separates what it can see).
2. **False signatures on a fault-free campaign** (``fault_rate=0``): signatures found and the
   share of batches placed in one.
3. **OUR/titre question** (``federation/questions/our_titre.rq``, default parameters) vs
   ground truth: precision and recall. Ground truth, fixed before looking at answers and
   using the question's own 10 % reduction: a faulty batch whose true final titre is more than
   10 % below the mean true titre of its site's fault-free batches and whose true OUR departs
   from its fault-free counterfactual by 10 % (of the counterfactual's peak) or more at some
   time. Set points are never changed by the simulator, so every batch's control profile is
   nominal in truth.
4. **Held-out matching**: each faulty batch with aligned events is held out in turn,
   discovery runs on the rest, and the batch is matched against the discovered signatures;
   it is right when its best-scoring signature's majority fault type is its own. Reported
   over batches whose fault type still has a signature without them, and over all.

**The cheaper path (say so in every report)**: the full pipeline — bundles, Neo4j ingest,
site analysis, RDF export with SHACL, HTTP sync, alignment, store — is not timed here at
120 batches. Estimates from runs of it: the demo takes ~2.5 min for 26 batches on an idle
2-core machine (so roughly 10 min per 120-batch seed, an extrapolation), and
``tests/test_signatures_pipeline.py`` (18 batches, three Neo4j sites, HTTP sync) took 14.7 min
on a machine loaded ~7x over its cores. For the seeds here, each site's data go **in
process** through the same code the site
node runs after ingest (``bioprocess.analysis.analyse_site`` with the site service's good-batch
rule and ``site_node.analysis.service._batch_payload``), the same RDF builder
(``site_node.export.builder.build_dataset``), the same alignment (``federation.align``) and the
same sponsor split, into an in-memory Oxigraph store with the metadata sync writes; then the
same discovery code (``federation.signatures.service.SignatureService``) and the same SPARQL
question. Skipped: Neo4j, bundle parsing, SHACL validation and HTTP. The in-process path
itself is not fast: for one 120-batch seed, 3 min to simulate and 11.5 min of site analysis,
RDF building, alignment and loading, measured with a load average of ~14 on 2 cores.

No threshold here was tuned to a seed: the discovery settings are the defaults documented in
``federation/signatures/discovery.py``. Run: ``python -m benchmarks.analytics [--seeds 1 2 3]
[--batches-per-site 40]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from rdflib import Graph
from sklearn.metrics import adjusted_rand_score

from bioprocess.analysis import AnalysisOptions, BatchTrajectories, PhaseSpan, analyse_site
from bioprocess.campaign import BatchRecord, Campaign, CampaignConfig, generate_campaign
from federation.align import load_alignment
from federation.align.apply import align_batch_graph, align_meta_graph
from federation.questions.catalogue import question
from federation.signatures.discovery import DiscoveryOptions, cluster_labels, discover
from federation.signatures.matching import rank
from federation.signatures.model import BatchProfile, Signature
from federation.signatures.profiles import ReadScope, read_profiles
from federation.signatures.service import SignatureService
from federation.store import GraphMetadata, open_store
from federation.store.base import Store
from federation.sync.service import batch_graph_iri, meta_graph_iri
from federation.sync.split import split_meta
from site_node.analysis.service import _batch_payload, envelope_key
from site_node.export.builder import ExportContext, SiteIris, build_dataset
from site_node.export.records import SiteRecords

DEFAULT_SEEDS = (1, 2, 3)
FAULT_RATE = 0.3
#: Ground truth of the OUR/titre question (the question's own default reduction).
REDUCTION = 0.10
OUR_DEPARTURE = 0.10


# -- in-process site node + federation ----------------------------------------------------

def _trajectories(batch: BatchRecord) -> BatchTrajectories:
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    units: dict[str, str] = {}
    t = batch.process_data["t_h"].to_numpy(dtype=float)
    tag_units = {tag.name: tag.unit for tag in batch.site.tags}
    for column in batch.process_data.columns:
        if column == "t_h":
            continue
        v = batch.process_data[column].to_numpy(dtype=float)
        keep = ~np.isnan(v)
        series[column] = (t[keep], v[keep])
        units[column] = tag_units.get(column, "1")
    for analyte, rows in batch.lab_data.groupby("analyte"):
        rows = rows.sort_values("t_h")
        series[str(analyte)] = (rows["t_h"].to_numpy(float), rows["value"].to_numpy(float))
        units[str(analyte)] = str(rows["unit"].iloc[0])
    phases = tuple(PhaseSpan(p.name, p.start_h, p.end_h) for p in batch.phases)
    return BatchTrajectories(batch_id=batch.batch_id, series=series, phases=phases,
                             duration_h=batch.duration_h, units=units)


def _good(batch: BatchRecord) -> bool:
    in_spec = all((q.spec_low is None or q.value >= q.spec_low)
                  and (q.spec_high is None or q.value <= q.spec_high) for q in batch.quality)
    return batch.status == "complete" and not batch.deviations and in_spec


def site_records(site: str, batches: list[BatchRecord]) -> SiteRecords:
    """What the site node would export for ``batches`` (one site), after its analysis."""
    profile = batches[0].site
    processes, envelopes, records = {}, [], []
    by_process: dict[tuple[str, str], list[BatchRecord]] = {}
    for b in batches:
        by_process.setdefault((b.process.process_code, b.process.process_version), []).append(b)
        p = b.process
        processes[(p.process_code, p.process_version)] = {
            "sponsor": p.sponsor_code, "product": p.product_code, "process": p.process_code,
            "version": p.process_version, "name": p.process_name}
    rev = 0
    for (code, version), members in sorted(by_process.items()):
        result = analyse_site([_trajectories(b) for b in members],
                              {b.batch_id for b in members if _good(b)},
                              options=AnalysisOptions(),
                              fallback_batch_ids={b.batch_id for b in members
                                                  if b.status == "complete"})
        for summary in result.envelopes.values():
            envelopes.append({"key": envelope_key(code, version, summary.tag),
                              "process": code, "version": version, "tag": summary.tag,
                              "k": float(summary.k),
                              "n_batches": len(summary.reference_batch_ids),
                              "built_from": list(summary.reference_batch_ids)})
        for b in members:
            rev += 1
            payload = _batch_payload(result, b.batch_id, code, version)
            records.append({
                "batch": {"batch_id": b.batch_id, "process": code, "process_version": version,
                          "sponsor": b.process.sponsor_code, "start": b.start, "end": b.end,
                          "status": b.status, "scale_l": profile.scale_l, "rev": rev,
                          "content_hash": f"bench-{b.batch_id}", "source": None},
                "unit_operations": [{"kind": "production_bioreactor",
                                     "equipment": [b.bioreactor],
                                     "phases": [{"name": p.name, "start_h": p.start_h,
                                                 "end_h": p.end_h} for p in b.phases]}],
                "analysis_phases": payload["phases"], "features": payload["features"],
                "events": payload["events"], "evolution": payload["evolution"],
                "deviations": [{
                    "deviation_id": d.deviation_id,
                    "opened_at": b.start + timedelta(hours=d.record.opened_h),
                    "category": d.record.category, "description": d.record.description,
                    "root_cause": d.record.root_cause, "status": d.record.status,
                    "failure_mode": d.record.failure_mode,
                    "capa": [{"capa_id": cid, "action": c.action, "effective": c.effective}
                             for cid, c in zip(d.capa_ids, d.record.capa, strict=True)]}
                    for d in b.deviations],
                "quality": [{"attribute": q.attribute, "value": q.value, "unit": q.unit,
                             "spec_low": q.spec_low, "spec_high": q.spec_high}
                            for q in b.quality]})
    tags = [{"name": t.name, "unit": t.unit, "kind": t.kind, "description": t.description}
            for t in profile.tags]
    tags += [{"name": a.code, "unit": a.unit, "kind": "offline",
              "description": a.description} for a in profile.analytes]
    equipment = [{"equipment_id": r, "kind": "bioreactor", "working_volume_l": profile.scale_l}
                 for r in sorted({b.bioreactor for b in batches})]
    return SiteRecords(site={"code": site, "name": profile.name},
                       processes=list(processes.values()), equipment=equipment, tags=tags,
                       envelopes=envelopes, batches=records)


def load_campaign(store: Store, campaign: Campaign) -> None:
    """Every site's export, aligned and split as sync stores it, into ``store``."""
    received = datetime.now(UTC)
    for site in sorted({b.site.code for b in campaign.batches}):
        records = site_records(site, campaign.batches_at(site))
        dataset = build_dataset(records, ExportContext(site, "http://bench.invalid", "bench",
                                                       received))
        iris = SiteIris(site)
        meta = Graph()
        for triple in dataset.graph(iris.meta_graph):
            meta.add(triple)
        alignment = load_alignment(site)
        graphs: dict[str, bytes] = {}
        metadata: dict[str, GraphMetadata] = {}
        for record in records.batches:
            batch_id = record["batch"]["batch_id"]
            graph = Graph()
            for triple in dataset.graph(iris.batch_graph(batch_id)):
                graph.add(triple)
            iri = batch_graph_iri(site, batch_id)
            graphs[iri] = _nquads(align_batch_graph(graph, meta, alignment).graph, iri)
            metadata[iri] = GraphMetadata(site=site, sponsor=record["batch"]["sponsor"],
                                          received_at=received, kind="batch",
                                          alignment_version=alignment.version)
        neutral, by_sponsor = split_meta(align_meta_graph(meta, alignment))
        graphs[meta_graph_iri(site)] = _nquads(neutral, meta_graph_iri(site))
        metadata[meta_graph_iri(site)] = GraphMetadata(site=site, kind="site-meta",
                                                       received_at=received)
        for sponsor, graph in by_sponsor.items():
            iri = meta_graph_iri(site, sponsor)
            graphs[iri] = _nquads(graph, iri)
            metadata[iri] = GraphMetadata(site=site, sponsor=sponsor, kind="sponsor-meta",
                                          received_at=received)
        store.replace_graphs(graphs, metadata)


def _nquads(graph: Graph, iri: str) -> bytes:
    body = graph.serialize(format="nt", encoding="utf-8")
    suffix = f" <{iri}> .\n".encode()
    return b"".join(line[:-2] + suffix for line in body.splitlines(keepends=True)
                    if line.strip())


# -- ground truth and scores ----------------------------------------------------------------

def fault_label(batch: BatchRecord) -> str:
    return "+".join(sorted({f.type.value for f in batch.faults}))


def our_titre_truth(campaign: Campaign) -> set[str]:
    expected = set()
    for site in {b.site.code for b in campaign.batches}:
        batches = campaign.batches_at(site)
        clean = [b.final_titre_g_l for b in batches if not b.faults]
        if not clean:
            continue
        reference = statistics.fmean(clean)
        for b in batches:
            if not b.faults or b.final_titre_g_l >= (1 - REDUCTION) * reference:
                continue
            our, cf = b.truth["our"].to_numpy(float), b.counterfactual["our"].to_numpy(float)
            n = min(len(our), len(cf))
            if np.max(np.abs(our[:n] - cf[:n])) >= OUR_DEPARTURE * np.max(np.abs(cf[:n])):
                expected.add(b.batch_id)
    return expected


def _signatures_from(groups: list, sponsor: str) -> list[Signature]:
    return [Signature(iri=f"urn:bench:{i}", signature_id=f"g{i}", kind="discovered",
                      label="", definition="", events=g.events, sponsor=sponsor,
                      members=tuple(m.batch for m in g.members),
                      member_ids=tuple(m.batch_id for m in g.members))
            for i, g in enumerate(groups)]


def held_out(profiles: list[BatchProfile], truth: dict[str, str],
             options: DiscoveryOptions) -> tuple[int, int, int]:
    """(right, with a signature of its type, tried) over faulty batches with events."""
    right = fair = tried = 0
    for held in profiles:
        if held.batch_id not in truth or not held.events:
            continue
        rest = [p for p in profiles if p.batch != held.batch]
        signatures = _signatures_from(discover(rest, options), held.sponsor)
        majority = {s.iri: Counter(truth.get(i, "none") for i in s.member_ids).most_common(1)[0][0]
                    for s in signatures}
        tried += 1
        if truth[held.batch_id] not in majority.values():
            continue
        fair += 1
        best = rank(held, signatures)[0]
        right += majority[best.signature.iri] == truth[held.batch_id]
    return right, fair, tried


def evaluate_seed(seed: int, batches_per_site: int, fault_rate: float,
                  options: DiscoveryOptions) -> dict[str, Any]:
    started = time.perf_counter()
    campaign = generate_campaign(CampaignConfig(n_sites=3, batches_per_site=batches_per_site,
                                                seed=seed, fault_rate=fault_rate,
                                                second_sponsor_batches=0))
    generated = time.perf_counter()
    with open_store(None) as store:
        load_campaign(store, campaign)
        loaded = time.perf_counter()
        meta = store.graph_metadata()
        neutral = tuple(sorted(i for i, m in meta.items() if m.sponsor is None))
        sponsors = {m.sponsor for m in meta.values() if m.sponsor}
        runs = SignatureService(store, "bench").discover(sponsors, neutral,
                                                         requested_by="bench", options=options)
        scope = ReadScope(frozenset(sponsors), neutral)
        profiles = read_profiles(store, scope)
        answer = store.query(question("our_titre").bind(), sponsors=sponsors,
                             graphs=neutral).bindings()
    finished = time.perf_counter()
    truth = {b.batch_id: fault_label(b) for b in campaign.batches if b.faults}
    signatures = [s for run in runs for s in run.signatures]
    member_of = {i: s.signature_id for s in signatures for i in s.member_ids}
    faulty = sorted(truth)
    ari_all = (adjusted_rand_score([truth[i] for i in faulty],
                                   [member_of.get(i, f"alone:{i}") for i in faulty])
               if faulty else float("nan"))
    visible = [p for p in profiles if p.batch_id in truth and p.events]
    labels = cluster_labels(visible, options)
    ari_visible = (adjusted_rand_score([truth[p.batch_id] for p in visible], labels.tolist())
                   if len(visible) > 1 else float("nan"))
    returned = {r["batchId"].value for r in answer}
    expected = our_titre_truth(campaign)
    right, fair, tried = held_out(profiles, truth, options)
    in_signatures = sum(len(s.members) for s in signatures)
    return {
        "seed": seed, "batches": len(campaign.batches), "faulty": len(faulty),
        "faulty_with_events": len(visible),
        "fault_types": dict(Counter(truth.values())),
        "signatures": len(signatures),
        "signature_purity": [Counter(truth.get(i, "fault-free") for i in s.member_ids)
                             .most_common(1)[0][1] / len(s.member_ids) for s in signatures],
        "batches_in_signatures": in_signatures,
        "fault_free_in_signatures": sum(1 for s in signatures for i in s.member_ids
                                        if i not in truth),
        "ari_all_faulty": ari_all, "ari_faulty_with_events": ari_visible,
        "our_titre_returned": len(returned), "our_titre_expected": len(expected),
        "our_titre_precision": (len(returned & expected) / len(returned)
                                if returned else float("nan")),
        "our_titre_recall": (len(returned & expected) / len(expected)
                             if expected else float("nan")),
        "held_out_right": right, "held_out_fair": fair, "held_out_tried": tried,
        "seconds_generate": generated - started, "seconds_site_and_load": loaded - generated,
        "seconds_discover_and_ask": finished - loaded,
    }


def _fmt(value: float) -> str:
    return "n/a" if value != value else f"{value:.3f}"


def _mean(values: list[float]) -> float:
    finite = [v for v in values if v == v]
    return statistics.fmean(finite) if finite else float("nan")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS))
    parser.add_argument("--batches-per-site", type=int, default=40)
    parser.add_argument("--fault-free-seed", type=int, default=101)
    args = parser.parse_args(argv)
    options = DiscoveryOptions()
    print(f"analytics quality: 3 sites x {args.batches_per_site} batches, fault rate "
          f"{FAULT_RATE}, seeds {args.seeds}; discovery settings {options.as_dict()}")
    print("path: in-process site analysis + the same export builder, alignment, store, "
          "discovery and SPARQL (no Neo4j, SHACL or HTTP; see the module docstring)")
    seeds = []
    for seed in args.seeds:
        r = evaluate_seed(seed, args.batches_per_site, FAULT_RATE, options)
        seeds.append(r)
        print(f"seed {seed}: {r['faulty']} faulty ({r['faulty_with_events']} with aligned "
              f"events) of {r['batches']}; {r['signatures']} signatures "
              f"(purity {[round(p, 2) for p in r['signature_purity']]}); "
              f"ARI all faulty {_fmt(r['ari_all_faulty'])}, faulty with events "
              f"{_fmt(r['ari_faulty_with_events'])}; OUR/titre P "
              f"{_fmt(r['our_titre_precision'])} R {_fmt(r['our_titre_recall'])} "
              f"({r['our_titre_returned']} returned, {r['our_titre_expected']} expected); "
              f"held-out {r['held_out_right']}/{r['held_out_fair']} "
              f"(of {r['held_out_tried']} tried); "
              f"{r['seconds_generate']:.0f} s simulate, {r['seconds_site_and_load']:.0f} s "
              f"site analysis + load, {r['seconds_discover_and_ask']:.1f} s discover + ask",
              flush=True)
    clean = evaluate_seed(args.fault_free_seed, args.batches_per_site, 0.0, options)
    right = sum(r["held_out_right"] for r in seeds)
    fair = sum(r["held_out_fair"] for r in seeds)
    tried = sum(r["held_out_tried"] for r in seeds)
    returned = sum(r["our_titre_returned"] for r in seeds)
    expected = sum(r["our_titre_expected"] for r in seeds)
    hits_p = sum(r["our_titre_precision"] * r["our_titre_returned"] for r in seeds
                 if r["our_titre_returned"])
    hits_r = sum(r["our_titre_recall"] * r["our_titre_expected"] for r in seeds
                 if r["our_titre_expected"])
    figures = {
        "seeds": seeds,
        "ari_all_faulty_mean": _mean([r["ari_all_faulty"] for r in seeds]),
        "ari_all_faulty_min": min(r["ari_all_faulty"] for r in seeds),
        "ari_faulty_with_events_mean": _mean([r["ari_faulty_with_events"] for r in seeds]),
        "fault_free_signatures": clean["signatures"],
        "fault_free_batches_in_signatures": clean["batches_in_signatures"],
        "fault_free_batches": clean["batches"],
        "our_titre_precision": hits_p / returned if returned else float("nan"),
        "our_titre_recall": hits_r / expected if expected else float("nan"),
        "held_out_accuracy_fair": right / fair if fair else float("nan"),
        "held_out_accuracy_all": right / tried if tried else float("nan"),
    }
    print(f"fault-free campaign (seed {args.fault_free_seed}): {clean['signatures']} "
          f"signatures, {clean['batches_in_signatures']} of {clean['batches']} batches in one")
    print(f"ARI (target >= 0.9): all faulty batches mean {_fmt(figures['ari_all_faulty_mean'])}"
          f" (min {_fmt(figures['ari_all_faulty_min'])}); faulty batches with aligned events "
          f"mean {_fmt(figures['ari_faulty_with_events_mean'])}")
    print(f"OUR/titre question (target >= 0.95): precision "
          f"{_fmt(figures['our_titre_precision'])}, recall {_fmt(figures['our_titre_recall'])}"
          f" ({returned} returned, {expected} expected over all seeds)")
    print(f"held-out matching (target >= 0.9): {_fmt(figures['held_out_accuracy_fair'])} "
          f"({right}/{fair} whose fault type has a signature); "
          f"{_fmt(figures['held_out_accuracy_all'])} over all {tried} tried")
    return figures


if __name__ == "__main__":
    main()
