"""Benchmark: the federation at scale — store load, scoped SPARQL latency, rdflib ratio, sync.

What is measured, in one run (temp directories only; nothing else is written):

1. **Load and SPARQL latency at 10 sites x 1,000 batches** (``--sites``,
   ``--batches-per-site``). Aligned batch graphs are generated directly as N-Quads in the
   shape the federation stores after alignment (``docs/rdf-export.md`` plus
   ``tf:parameter``/``tf:alignedValue``/``tf:alignedUnit``): a ``tf:Batch`` (site, process,
   sponsor, start/end, status, revision, ...), a unit operation, 3 phases, 15 parameters x 3
   phases x {mean, min, max} features, ~15 deviation events (some on
   ``tfp:oxygen-uptake-rate``, some on controller set points, half of those beyond the
   question's set-point tolerance), a deviation record with a CAPA and a ``tffm:`` failure
   mode, and 2 quality results (titre, viability): ~1,630 triples per batch. Each site also
   has a sponsor-neutral meta graph (site, tags, equipment) and one meta graph per sponsor
   (sponsor, product, process, 15 envelopes each ``prov:wasDerivedFrom`` 10 reference
   batches), split as ``federation.sync`` splits them. Two sponsors: SP-ACME (60 % of each
   site's batches) and SP-BETA (40 %). ~2 % of batches are injected "hyper-metabolic" (OUR
   events, titre 20-30 % low, no set-point event); the answer set the OUR/titre question
   must return is computed from the generator and compared with the store's answer.

   Loading: ``replace_graphs`` writes ~10k triples/s into the on-disk store, so filling
   10,000 batches with it would take ~30 min. The store is therefore filled in two steps:
   all but the last :data:`TAIL_PER_SITE` batches of each site with pyoxigraph's
   ``bulk_load``, writing exactly the quads ``replace_graphs`` writes (graph, metadata in
   ``META_GRAPH``, copy in the sponsor's union view), then the last ones with
   ``replace_graphs`` onto the full store, in chunks of :data:`LOAD_CHUNK` graphs with
   ``GraphMetadata`` — both timed, reported in triples/s. ``--fill-only DIR`` does only the
   bulk step (into ``DIR/store``, with the generator's facts in ``DIR/fill.json``) and
   ``--prefilled DIR`` makes section 1 start from it: ``make bench`` fills the 10 x 1,000
   store that way on its idle side track, so that run's bulk time is not a speed figure.
   A bulk-loaded store answers these queries ~2x slower than the same quads written with
   ``replace_graphs`` (our_titre at 10 x 20: 564 vs 290 ms, measured 2026-11-27; Oxigraph's
   ``optimize`` did not close the gap), so the latencies here are on the pessimistic side.

   Queries: scoped to a SP-ACME ``Principal`` through ``federation.scope.caller_scope``
   (the sponsor's union view + the sponsor-neutral graphs, as ``/sparql`` does), via
   ``OxigraphStore.query`` with the JSON body serialised. Each query's first run happens
   in a child process on a read-only opening of the store with the exact dataset
   ``prepare_query`` builds, killed after :data:`PROBE_LIMIT_S` (Oxigraph cannot cancel a
   running query; a query that does not finish is reported as such). Then up to
   :data:`REPEAT` timed runs (after a warm-up unless the first run took over 1 s; fewer
   runs once :data:`QUERY_BUDGET_S` is spent), p50/p95 in ms against the issue's 300 ms
   target. Questions: (a) ``our_titre`` from the catalogue with its default parameters,
   (a') the same with its set-point ``FILTER NOT EXISTS`` rewritten as ``MINUS`` (not in
   the catalogue; shows what the clause costs), (b) deviation records by category per site,
   (c) mean aligned OUR per site and phase (site comparison).
2. **rdflib ratio** on a subset: :data:`RDFLIB_SITES` sites x :data:`RDFLIB_BATCHES`
   batches of the same generator (same seeds): all graphs into a second on-disk
   ``OxigraphStore`` with ``replace_graphs`` (timed; a bulk-loaded store of the same quads
   answers ~2x slower, which would flatter rdflib), SP-ACME's visible graphs into an
   rdflib ``Dataset(default_union=True)``; the same queries on both (Oxigraph scoped as
   above), medians, ratio rdflib/Oxigraph, answers compared.
3. **End-to-end sync throughput** over real HTTP: ``create_app`` served by uvicorn
   (``twinfed.serving.serve``), a site registered with ``POST /sites``, ``SyncPush``
   payloads posted with ``FederationClient.push``; the federation parses, checks hashes,
   SHACL-validates, aligns (``ontology/alignments/SITE-A.ttl``) and replaces the graphs in
   one step. The pushes re-send the real SITE-A export held in the demo federation store
   (``.twinfed/demo/federation/store``, made by ``make demo``): its meta graphs re-joined
   into one site meta graph, its batch graphs (~7,200 triples each, 4.4x the generated
   ones) copied under new batch ids to make :data:`SYNC_BATCHES` batches (``--sync-batches``)
   in pushes of :data:`SYNC_PUSH`; meta + one batch are checked with ``shapes.validate``
   first; a replayed push checks idempotency. Skipped when the demo store is missing.

Run: ``python -m benchmarks.federation [--batches-per-site N] [--sections scale,rdflib,sync]
[--sync-batches N] [--fill-only DIR | --prefilled DIR] ...``. The defaults are the issue's
scale: ~10 min on 2 cores, ~7 of them the bulk load (~80k quads/s of CPU); peak memory
~2 GiB. ``main()`` returns the printed numbers as a dict.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import json
import math
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from federation.registry.service import Principal
from federation.scope import caller_scope
from federation.store import META_GRAPH, GraphMetadata, OxigraphStore, Store
from federation.store.metadata import metadata_triples, sponsor_view
from federation.store.scope import PreparedQuery, prepare_query
from protocol.sync import SyncPush

# --- scale and repetitions -----------------------------------------------------------------

SITES = 10
BATCHES_PER_SITE = 1_000
#: Batches per site written with ``replace_graphs`` onto the otherwise bulk-loaded store.
TAIL_PER_SITE = 5
#: Graphs per ``replace_graphs`` call (the sync client pushes 50 batches at a time).
LOAD_CHUNK = 50
REPEAT = 20
#: Seconds of timed runs after which a slow query stops repeating (fewer runs, reported).
QUERY_BUDGET_S = 15.0
#: A query's first run happens in a child process killed after this many seconds.
PROBE_LIMIT_S = 30.0
QUERY_TIMEOUT_S = 300.0
RDFLIB_SITES = 10
RDFLIB_BATCHES = 20
RDFLIB_REPEAT = 5
SYNC_SITE = "SITE-A"
SYNC_BATCHES = 25
SYNC_PUSH = 25
#: The demo federation store (``make demo``) whose SITE-A export the sync section re-sends.
DEMO_STORE = Path(__file__).resolve().parents[1] / ".twinfed" / "demo" / "federation" / "store"
HYPER_RATE = 0.02
SPONSORS = ("SP-ACME", "SP-BETA")
SCOPED_SPONSOR = "SP-ACME"
TARGET_P95_MS = 300.0

# --- vocabulary ----------------------------------------------------------------------------

TF = "https://w3id.org/twinfed/ontology#"
TFP = "https://w3id.org/twinfed/parameter/"
TFFM = "https://w3id.org/twinfed/failure-mode/"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
PROV = "http://www.w3.org/ns/prov#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
XSD = "http://www.w3.org/2001/XMLSchema#"
DCT = "http://purl.org/dc/terms/"
OUR = "oxygen-uptake-rate"
SET_POINTS = ("temperature-set-point", "ph-set-point")

#: parameter -> (tag name suffix, aligned unit, nominal level, spread)
PARAMETERS: dict[str, tuple[str, str, float, float]] = {
    "dissolved-oxygen": ("DO", "%", 40.0, 5.0),
    OUR: ("OUR", "mmol/(L·h)", 6.0, 0.6),
    "carbon-dioxide-evolution-rate": ("CER", "mmol/(L·h)", 5.5, 0.6),
    "pco2": ("PCO2", "mmHg", 60.0, 8.0),
    "ph": ("PH", "pH", 7.0, 0.05),
    "temperature": ("TEMP", "°C", 36.5, 0.2),
    "osmolality": ("OSM", "mOsm/kg", 330.0, 15.0),
    "viable-cell-density": ("VCD", "1e6 cells/mL", 12.0, 2.0),
    "viability": ("VIA", "%", 92.0, 3.0),
    "glucose": ("GLC", "g/L", 4.0, 0.8),
    "lactate": ("LAC", "g/L", 1.5, 0.4),
    "ammonia": ("NH4", "mmol/L", 4.0, 0.8),
    "agitation": ("AG", "rpm", 120.0, 5.0),
    "temperature-set-point": ("TEMP.SP", "°C", 36.5, 0.0),
    "ph-set-point": ("PH.SP", "pH", 7.0, 0.0),
}
ORDINARY = tuple(p for p in PARAMETERS if p != OUR and p not in SET_POINTS)
PHASES = ("growth", "production", "decline")
PHASE_HOURS = ((0.0, 96.0), (96.0, 240.0), (240.0, 336.0))
STATISTICS = ("mean", "min", "max")
CATEGORIES = ("EQP", "INS", "RAW", "PROC", "BIO", "DOC")
FAILURE_MODES = ("do-probe-drift", "ph-probe-offset", "sparger-fouling",
                 "feed-pump-under-delivery", "temperature-excursion", "agitation-failure",
                 "poor-media-lot")
PROCESS_OF = {"SP-ACME": ("P-mAb-101-FB", "3", "mAb-101"),
              "SP-BETA": ("P-mAb-202-FB", "1", "mAb-202")}
REFERENCE_BATCHES = 10
NOMINAL_TITRE = 5.0

# --- the three questions ---------------------------------------------------------------------

DEVIATIONS_BY_CATEGORY = f"""
PREFIX tf: <{TF}>
SELECT ?site ?category (COUNT(DISTINCT ?record) AS ?deviations)
WHERE {{
  ?record a tf:DeviationRecord ; tf:ofBatch ?batch ; tf:category ?category .
  ?batch tf:atSite ?siteIri .
  ?siteIri tf:siteCode ?site .
}}
GROUP BY ?site ?category
ORDER BY ?site ?category
"""

MEAN_BY_SITE_AND_PHASE = f"""
PREFIX tf: <{TF}>
PREFIX tfp: <{TFP}>
SELECT ?site ?phaseName (AVG(?value) AS ?mean) (COUNT(?value) AS ?n)
WHERE {{
  ?feature a tf:Feature ; tf:parameter tfp:{OUR} ; tf:statistic "mean" ;
           tf:inPhase ?phase ; tf:alignedValue ?value ; tf:ofBatch ?batch .
  ?phase tf:phaseName ?phaseName .
  ?batch tf:atSite ?siteIri .
  ?siteIri tf:siteCode ?site .
}}
GROUP BY ?site ?phaseName
ORDER BY ?site ?phaseName
"""


#: The opening of the set-point clause of the catalogue's ``our_titre`` query. Oxigraph
#: evaluates that ``FILTER NOT EXISTS { ... VALUES ?setPoint ... }`` once per candidate batch
#: as a Cartesian product of the VALUES with the deviation events; the rewrite timed next to
#: it turns it into ``MINUS { ... }`` (same answers: the clause shares only ?batch).
_SET_POINT_CLAUSE = "FILTER NOT EXISTS {\n    ?control a tf:DeviationEvent"


def our_titre_parameters() -> dict[str, float]:
    """The catalogue defaults the benchmark binds (``reduction``, ``setpoint_tolerance``)."""
    from federation.questions.catalogue import question

    defaults = {p.name: float(p.default) for p in question("our_titre").parameters}
    # without a tolerance parameter any set-point event made the profile non-nominal
    return {"reduction": defaults.get("reduction", 0.10),
            "setpoint_tolerance": defaults.get("setpoint_tolerance", -1.0)}


def question_queries(*, with_rewrite: bool = True) -> dict[str, str]:
    """The questions timed: the catalogue's ``our_titre`` as it is (default parameters), the
    same question with its set-point clause as ``MINUS`` (only while the catalogue text has
    that clause), deviation records by category per site, mean OUR per site and phase."""
    from federation.questions.catalogue import question

    our_titre = question("our_titre").bind()
    queries = {"our_titre": our_titre}
    if with_rewrite and our_titre.count(_SET_POINT_CLAUSE) == 1:
        queries["our_titre_minus_rewrite"] = our_titre.replace(
            _SET_POINT_CLAUSE, _SET_POINT_CLAUSE.replace("FILTER NOT EXISTS", "MINUS"))
    queries["deviations_by_category"] = DEVIATIONS_BY_CATEGORY
    queries["mean_our_by_site_phase"] = MEAN_BY_SITE_AND_PHASE
    return queries


# --- generated content -----------------------------------------------------------------------


def site_code(site: int) -> str:
    return f"SITE-{site:02d}"


def site_base(site: int) -> str:
    return f"https://w3id.org/twinfed/site/{site_code(site)}/"


def batch_id(site: int, index: int) -> str:
    return f"B{site:02d}-{index:05d}"


def batch_sponsor(index: int) -> str:
    return SPONSORS[0] if index % 5 < 3 else SPONSORS[1]


def tag_name(site: int, parameter: str) -> str:
    return f"BR{site:02d}_{PARAMETERS[parameter][0]}"


def batch_rng(site: int, index: int) -> random.Random:
    return random.Random(site * 1_000_003 + index)


def is_hyper(site: int, index: int) -> bool:
    """Injected hyper-metabolic batch: deterministic, about :data:`HYPER_RATE` of batches."""
    return random.Random(~(site * 1_000_003 + index)).random() < HYPER_RATE


@dataclass
class BatchFacts:
    """What the generator decided about a batch (to compute the expected answers)."""

    site: int
    index: int
    sponsor: str
    titre: float
    our_events: int
    #: Magnitudes (envelope SDs) of the batch's set-point deviation events.
    set_point_magnitudes: tuple[float, ...]
    hyper: bool


def _num(value: float) -> str:
    return f'"{value:.6g}"^^<{XSD}double>'


def batch_graph(site: int, index: int) -> tuple[str, bytes, BatchFacts]:
    """``(graph IRI, N-Quads, facts)`` of one aligned batch graph (~1,630 triples)."""
    rng = batch_rng(site, index)
    hyper = is_hyper(site, index)
    base = site_base(site)
    bid = batch_id(site, index)
    sponsor = batch_sponsor(index)
    process, version, _ = PROCESS_OF[sponsor]
    graph = f"{base}batch/{bid}"
    g = f" <{graph}> .\n"
    b = f"<{graph}>"
    lines: list[str] = []
    add = lines.append
    started = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=7 * index)
    add(f"{b} {RDF_TYPE} <{TF}Batch>{g}")
    add(f'{b} <{TF}batchId> "{bid}"{g}')
    add(f"{b} <{TF}atSite> <{base}>{g}")
    add(f"{b} <{TF}ofProcess> <{base}process/{process}/{version}>{g}")
    add(f"{b} <{TF}sponsor> <{base}sponsor/{sponsor}>{g}")
    add(f'{b} <{TF}startTime> "{started.isoformat()}"^^<{XSD}dateTime>{g}')
    add(f'{b} <{TF}endTime> "{(started + timedelta(hours=336)).isoformat()}"'
        f"^^<{XSD}dateTime>{g}")
    add(f'{b} <{TF}batchStatus> "complete"{g}')
    add(f'{b} <{TF}scaleLitre> "2000"^^<{XSD}double>{g}')
    add(f'{b} <{TF}siteRevision> "{index + 1}"^^<{XSD}integer>{g}')
    add(f'{b} <{TF}contentHash> "{rng.getrandbits(256):064x}"{g}')
    add(f"{b} <{TF}rawData> <http://site-{site:02d}.example:8701/batches/{bid}>{g}")
    add(f"{b} <{PROV}wasGeneratedBy> <{base}export/bench>{g}")
    add(f"{b} <{PROV}wasDerivedFrom> <urn:twinfed:bundle:{bid}>{g}")
    add(f'{b} <{TF}alignmentVersion> "1.0.0"{g}')
    uo = f"<{graph}/uo/0>"
    add(f"{uo} {RDF_TYPE} <{TF}UnitOperation>{g}")
    add(f"{uo} <{TF}ofBatch> {b}{g}")
    add(f'{uo} <{TF}unitOperationKind> "production_bioreactor"{g}')
    add(f"{uo} <{TF}usesEquipment> <{base}equipment/BR-{site:02d}-2000>{g}")
    add(f"{uo} <{TF}usesEquipment> <{base}equipment/RAMAN-{site:02d}>{g}")
    for p, (name, (start, end)) in enumerate(zip(PHASES, PHASE_HOURS, strict=True)):
        ph = f"<{graph}/phase/{p}>"
        add(f"{ph} {RDF_TYPE} <{TF}Phase>{g}")
        add(f'{ph} <{TF}phaseName> "{name}"{g}')
        add(f"{ph} <{TF}startHour> {_num(start)}{g}")
        add(f"{ph} <{TF}endHour> {_num(end)}{g}")
        add(f"{ph} <{TF}ofBatch> {b}{g}")
        add(f"{ph} <{TF}inUnitOperation> {uo}{g}")
    # features: 15 parameters x 3 phases x {mean, min, max}
    for parameter, (_, unit, level, spread) in PARAMETERS.items():
        tag = tag_name(site, parameter)
        kelvin = parameter == "temperature" and site % 3 == 0  # some sites log Kelvin
        site_unit = "K" if kelvin else unit
        for p, phase in enumerate(PHASES):
            mean = rng.gauss(level, spread)
            if hyper and parameter == OUR and p > 0:
                mean *= 1.35
            values = {"mean": mean, "min": mean - abs(rng.gauss(spread, spread / 3)),
                      "max": mean + abs(rng.gauss(spread, spread / 3))}
            for stat in STATISTICS:
                f = f"<{graph}/feature/{tag}/{phase}/{stat}>"
                aligned = values[stat]
                raw = aligned + 273.15 if kelvin else aligned
                add(f"{f} {RDF_TYPE} <{TF}Feature>{g}")
                add(f"{f} <{TF}ofBatch> {b}{g}")
                add(f"{f} <{TF}ofTag> <{base}tag/{tag}>{g}")
                add(f"{f} <{TF}inPhase> <{graph}/phase/{p}>{g}")
                add(f'{f} <{TF}statistic> "{stat}"{g}')
                add(f"{f} <{TF}value> {_num(raw)}{g}")
                add(f'{f} <{TF}unitLabel> "{site_unit}"{g}')
                add(f"{f} <{TF}parameter> <{TFP}{parameter}>{g}")
                add(f"{f} <{TF}alignedValue> {_num(aligned)}{g}")
                add(f'{f} <{TF}alignedUnit> "{unit}"{g}')
    # deviation events (~15): hyper batches have OUR events and no set-point event;
    # ordinary batches sometimes have an OUR event and sometimes a set-point event
    event_parameters = [rng.choice(ORDINARY) for _ in range(rng.randint(11, 17))]
    if hyper:
        event_parameters += [OUR] * rng.randint(2, 4)
    else:
        if rng.random() < 0.20:
            event_parameters.append(OUR)
        if rng.random() < 0.30:
            event_parameters.append(rng.choice(SET_POINTS))
    set_point_magnitudes: list[float] = []
    for e, parameter in enumerate(event_parameters):
        ev = f"<{graph}/event/{e}>"
        p = rng.randrange(3)
        tag = tag_name(site, parameter)
        unit = PARAMETERS[parameter][1]
        if hyper and parameter == OUR:
            magnitude = rng.uniform(3, 8)
        elif parameter in SET_POINTS and rng.random() < 0.5:
            magnitude = rng.uniform(6, 12)  # a real set-point excursion (non-nominal)
        else:
            magnitude = rng.uniform(0.05, 3)
        if parameter in SET_POINTS:
            set_point_magnitudes.append(magnitude)
        excess = magnitude * max(PARAMETERS[parameter][3], 0.1)
        direction = "high" if hyper and parameter == OUR else rng.choice(("high", "low"))
        start, end = PHASE_HOURS[p]
        add(f"{ev} {RDF_TYPE} <{TF}DeviationEvent>{g}")
        add(f"{ev} <{TF}ofBatch> {b}{g}")
        add(f"{ev} <{TF}ofTag> <{base}tag/{tag}>{g}")
        add(f"{ev} <{TF}inPhase> <{graph}/phase/{p}>{g}")
        add(f'{ev} <{TF}direction> "{direction}"{g}')
        add(f"{ev} <{TF}magnitude> {_num(magnitude)}{g}")
        add(f"{ev} <{TF}peakExcess> {_num(excess)}{g}")
        add(f"{ev} <{TF}startHour> {_num(rng.uniform(start, end - 1))}{g}")
        add(f"{ev} <{TF}durationHours> {_num(rng.uniform(0.5, 24))}{g}")
        add(f"{ev} <{TF}againstEnvelope> <{base}envelope/{process}/{version}/{tag}>{g}")
        add(f"{ev} <{TF}parameter> <{TFP}{parameter}>{g}")
        add(f'{ev} <{TF}alignedUnit> "{unit}"{g}')
        add(f"{ev} <{TF}alignedPeakExcess> {_num(excess)}{g}")
        add(f'{ev} <{TF}alignedDirection> "{direction}"{g}')
    # one deviation record with a CAPA
    category = "BIO" if hyper else rng.choice(CATEGORIES)
    mode = "hyper-metabolic-profile" if hyper else rng.choice(FAILURE_MODES)
    dev_id = f"QE-{site:02d}-{index:05d}"
    rec = f"<{graph}/deviation/{dev_id}>"
    capa = f"<{graph}/capa/CA{site:02d}{index:05d}>"
    add(f"{rec} {RDF_TYPE} <{TF}DeviationRecord>{g}")
    add(f"{rec} <{TF}ofBatch> {b}{g}")
    add(f'{rec} <{TF}deviationId> "{dev_id}"{g}')
    add(f'{rec} <{TF}openedAt> "{(started + timedelta(hours=200)).isoformat()}"'
        f"^^<{XSD}dateTime>{g}")
    add(f'{rec} <{TF}category> "{category}"{g}')
    add(f'{rec} <{DCT}description> "Deviation {dev_id}: {mode.replace("-", " ")}"{g}')
    add(f'{rec} <{TF}rootCause> "{mode.replace("-", " ")} (investigated)"{g}')
    add(f'{rec} <{TF}recordStatus> "closed"{g}')
    add(f'{rec} <{TF}failureModeCode> "{mode.upper().replace("-", "_")}"{g}')
    add(f"{rec} <{TF}failureMode> <{TFFM}{mode}>{g}")
    add(f"{rec} <{TF}hasCAPA> {capa}{g}")
    add(f"{capa} {RDF_TYPE} <{TF}CAPA>{g}")
    add(f'{capa} <{TF}capaId> "CA{site:02d}{index:05d}"{g}')
    add(f'{capa} <{TF}action> "Corrective action for {dev_id}"{g}')
    add(f'{capa} <{TF}effective> "{str(rng.random() < 0.7).lower()}"^^<{XSD}boolean>{g}')
    # quality results: titre (g/L; the site reports mg/L) and viability at harvest
    titre = round(rng.gauss(NOMINAL_TITRE, 0.2) * (rng.uniform(0.7, 0.8) if hyper else 1.0), 4)
    viability = round(rng.gauss(85, 4), 2)
    for attribute, parameter, raw, raw_unit, aligned, unit, low in (
            ("final_titre", "titre", titre * 1000, "mg/L", titre, "g/L", 2000),
            ("viability_at_harvest", "viability", viability, "%", viability, "%", 60)):
        q = f"<{graph}/quality/{attribute}>"
        add(f"{q} {RDF_TYPE} <{TF}QualityResult>{g}")
        add(f"{q} <{TF}ofBatch> {b}{g}")
        add(f'{q} <{TF}attribute> "{attribute}"{g}')
        add(f"{q} <{TF}value> {_num(raw)}{g}")
        add(f'{q} <{TF}unitLabel> "{raw_unit}"{g}')
        add(f"{q} <{TF}specLow> {_num(low)}{g}")
        add(f"{q} <{TF}parameter> <{TFP}{parameter}>{g}")
        add(f"{q} <{TF}alignedValue> {_num(aligned)}{g}")
        add(f'{q} <{TF}alignedUnit> "{unit}"{g}')
    facts = BatchFacts(site, index, sponsor, titre, event_parameters.count(OUR),
                       tuple(set_point_magnitudes), hyper)
    return graph, "".join(lines).encode(), facts


def reference_indices(site: int, sponsor: str, batches: int) -> list[int]:
    """The good batches a site's envelopes for ``sponsor``'s process were built from."""
    chosen = [i for i in range(batches)
              if batch_sponsor(i) == sponsor and not is_hyper(site, i)]
    return chosen[:REFERENCE_BATCHES]


def meta_graphs(site: int, batches: int) -> dict[str, tuple[bytes, GraphMetadata]]:
    """The site's sponsor-neutral meta graph and one meta graph per sponsor."""
    base = site_base(site)
    code = site_code(site)
    neutral = f"{base}meta"
    g = f" <{neutral}> .\n"
    lines = [f"<{base}> {RDF_TYPE} <{TF}Site>{g}", f'<{base}> <{TF}siteCode> "{code}"{g}',
             f'<{base}> <http://www.w3.org/2000/01/rdf-schema#label> "Site {code}"{g}',
             f"<{base}tags> {RDF_TYPE} <{SKOS}ConceptScheme>{g}"]
    for parameter, (_, unit, _, _) in PARAMETERS.items():
        t = f"<{base}tag/{tag_name(site, parameter)}>"
        kind = "setpoint" if parameter in SET_POINTS else "online"
        lines += [f"{t} {RDF_TYPE} <{TF}Tag>{g}", f"{t} {RDF_TYPE} <{SKOS}Concept>{g}",
                  f'{t} <{SKOS}prefLabel> "{tag_name(site, parameter)}"{g}',
                  f"{t} <{SKOS}inScheme> <{base}tags>{g}", f'{t} <{TF}unitLabel> "{unit}"{g}',
                  f'{t} <{TF}tagKind> "{kind}"{g}', f"{t} <{SKOS}exactMatch> <{TFP}{parameter}>{g}"]
    for equipment, kind in ((f"BR-{site:02d}-2000", "bioreactor"),
                            (f"RAMAN-{site:02d}", "raman_analyser")):
        e = f"<{base}equipment/{equipment}>"
        lines += [f"{e} {RDF_TYPE} <{TF}Equipment>{g}", f'{e} <{TF}equipmentId> "{equipment}"{g}',
                  f'{e} <{TF}equipmentKind> "{kind}"{g}']
    lines += [f"<{base}export/bench> {RDF_TYPE} <{PROV}Activity>{g}",
              f"<{base}export/bench> <{PROV}wasAssociatedWith> <{base}>{g}"]
    now = datetime.now(UTC)
    out = {neutral: ("".join(lines).encode(),
                     GraphMetadata(site=code, export_hash="sha256:bench", received_at=now,
                                   alignment_version="1.0.0", kind="site-meta"))}
    for sponsor in SPONSORS:
        graph = f"{base}meta/sponsor/{sponsor}"
        g = f" <{graph}> .\n"
        process, version, product = PROCESS_OF[sponsor]
        sp, pr = f"<{base}sponsor/{sponsor}>", f"<{base}product/{product}>"
        pc = f"<{base}process/{process}/{version}>"
        lines = [f"{sp} {RDF_TYPE} <{TF}Sponsor>{g}", f'{sp} <{TF}sponsorCode> "{sponsor}"{g}',
                 f"{pr} {RDF_TYPE} <{TF}Product>{g}", f'{pr} <{TF}productCode> "{product}"{g}',
                 f"{pr} <{TF}ownedBy> {sp}{g}", f"{pc} {RDF_TYPE} <{TF}Process>{g}",
                 f'{pc} <{TF}processCode> "{process}"{g}',
                 f'{pc} <{TF}processVersion> "{version}"{g}', f"{pc} <{TF}forProduct> {pr}{g}"]
        references = reference_indices(site, sponsor, batches)
        for parameter in PARAMETERS:
            tag = tag_name(site, parameter)
            env = f"<{base}envelope/{process}/{version}/{tag}>"
            lines += [f"{env} {RDF_TYPE} <{TF}Envelope>{g}", f"{env} <{TF}ofProcess> {pc}{g}",
                      f"{env} <{TF}ofTag> <{base}tag/{tag}>{g}",
                      f'{env} <{TF}sdMultiplier> "3"^^<{XSD}double>{g}',
                      f'{env} <{TF}referenceBatchCount> "{len(references)}"^^<{XSD}integer>{g}']
            lines += [f"{env} <{PROV}wasDerivedFrom> <{base}batch/{batch_id(site, i)}>{g}"
                      for i in references]
        out[graph] = ("".join(lines).encode(),
                      GraphMetadata(site=code, sponsor=sponsor, export_hash="sha256:bench",
                                    received_at=now, alignment_version="1.0.0",
                                    kind="sponsor-meta"))
    return out


def expected_our_titre(facts: list[BatchFacts], sponsor: str, batches: int) -> set[str]:
    """Batch ids the ``our_titre`` question (catalogue defaults) must return for ``sponsor``:
    an OUR event, no set-point event beyond the tolerance, titre below (1 - reduction) x the
    mean titre of the site's reference batches for the process."""
    params = our_titre_parameters()
    titres = {(f.site, f.index): f.titre for f in facts}
    reference = {}
    for site in {f.site for f in facts}:
        good = [titres[(site, i)] for i in reference_indices(site, sponsor, batches)]
        reference[site] = sum(good) / len(good)
    return {batch_id(f.site, f.index) for f in facts
            if f.sponsor == sponsor and f.our_events > 0
            and all(m <= params["setpoint_tolerance"] for m in f.set_point_magnitudes)
            and f.titre < (1 - params["reduction"]) * reference[f.site]}


def generate(sites: int, indices: range) -> Iterator[tuple[str, bytes, BatchFacts]]:
    for site in range(sites):
        for index in indices:
            yield batch_graph(site, index)


def batch_metadata(facts: BatchFacts, data: bytes, received: datetime) -> GraphMetadata:
    return GraphMetadata(site=site_code(facts.site), sponsor=facts.sponsor,
                         export_hash="sha256:" + hashlib.sha256(data).hexdigest(),
                         received_at=received, alignment_version="1.0.0", kind="batch")


# --- loading ---------------------------------------------------------------------------------


@dataclass
class Loaded:
    graphs: int = 0
    #: Triples of the graphs themselves.
    triples: int = 0
    #: Quads written by ``bulk_load``: the graphs, their sponsor-view copies, metadata.
    quads: int = 0
    #: Seconds spent writing (for ``bulk_load``: generating and writing, interleaved).
    seconds: float = 0.0
    generate_seconds: float = 0.0
    facts: list[BatchFacts] = field(default_factory=list)


def replace_load(store: Store, sites: int, batches: int, indices: range, *,
                 with_meta: bool, keep: Callable[[str | None], bool] = lambda _: True) -> Loaded:
    """Load batch graphs ``indices`` of every site (and the meta graphs) with
    ``replace_graphs`` in chunks of :data:`LOAD_CHUNK`; only the writes are timed."""
    loaded = Loaded()
    received = datetime.now(UTC)
    chunk: dict[str, tuple[bytes, GraphMetadata]] = {}

    def flush() -> None:
        started = time.perf_counter()
        store.replace_graphs({iri: data for iri, (data, _) in chunk.items()},
                             {iri: meta for iri, (_, meta) in chunk.items()})
        loaded.seconds += time.perf_counter() - started
        loaded.graphs += len(chunk)
        loaded.triples += sum(data.count(b"\n") for data, _ in chunk.values())
        chunk.clear()

    if with_meta:
        for site in range(sites):
            chunk.update({iri: item for iri, item in meta_graphs(site, batches).items()
                          if keep(item[1].sponsor)})
        flush()
    started = time.perf_counter()
    for graph, data, facts in generate(sites, indices):
        loaded.facts.append(facts)
        if keep(facts.sponsor):
            chunk[graph] = (data, batch_metadata(facts, data, received))
        if len(chunk) >= LOAD_CHUNK:
            loaded.generate_seconds += time.perf_counter() - started
            flush()
            started = time.perf_counter()
    loaded.generate_seconds += time.perf_counter() - started
    if chunk:
        flush()
    return loaded


class _ChunkReader(io.RawIOBase):
    """A readable binary stream over an iterator of byte chunks (feeds ``bulk_load``)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def bulk_load(path: Path, sites: int, batches: int, first: int) -> Loaded:
    """Fill a fresh store directory with exactly what ``replace_graphs`` would have written.

    For every site's meta graphs and the batches with index < ``first``: the graph's quads,
    its metadata (``metadata_triples`` in ``META_GRAPH``) and, for graphs with a sponsor,
    the same triples in the sponsor's union view (``sponsor_view``) — the layout of
    ``federation.store.graph_updates`` — streamed into pyoxigraph's ``bulk_load`` (not
    transactional; used because ``replace_graphs`` is far too slow to fill 10,000 batches
    within this benchmark's time). ``seconds`` covers generation and loading together.
    """
    loaded = Loaded()
    received = datetime.now(UTC)
    meta_suffix = f" <{META_GRAPH}> .\n"

    def quads(iri: str, data: bytes, meta: GraphMetadata) -> bytes:
        loaded.graphs += 1
        loaded.triples += data.count(b"\n")
        extra = "".join(f"{t.subject} {t.predicate} {t.object}{meta_suffix}"
                        for t in metadata_triples(iri, meta)).encode()
        view = b"" if meta.sponsor is None else data.replace(
            f" <{iri}> .\n".encode(), f" <{sponsor_view(meta.sponsor)}> .\n".encode())
        out = data + view + extra
        loaded.quads += out.count(b"\n")
        return out

    def chunks() -> Iterator[bytes]:
        for site in range(sites):
            for iri, (data, meta) in meta_graphs(site, batches).items():
                yield quads(iri, data, meta)
        for graph, data, facts in generate(sites, range(first)):
            loaded.facts.append(facts)
            yield quads(graph, data, batch_metadata(facts, data, received))

    started = time.perf_counter()
    raw = ox.Store(str(path))
    raw.bulk_load(io.BufferedReader(_ChunkReader(chunks()), 1 << 20),
                  format=ox.RdfFormat.N_QUADS, lenient=True)
    raw.flush()
    del raw
    gc.collect()
    loaded.seconds = time.perf_counter() - started
    return loaded


# --- timing ----------------------------------------------------------------------------------


def timings(run: Callable[[], object], repeat: int, budget_s: float,
            warm_up: bool = True) -> list[float]:
    """Milliseconds of up to ``repeat`` runs (after one untimed warm-up run); stops early once
    the runs have used ``budget_s``, after at least 2 (slow queries get fewer runs, and the
    number of runs is reported)."""
    if warm_up:
        run()
    times: list[float] = []
    spent = 0.0
    while len(times) < repeat and (spent < budget_s or len(times) < 2):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
        spent += times[-1] / 1000
    return times


def p50_p95(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


#: Run in a child process: one evaluation of a query on a read-only opening of the store
#: with an explicit dataset; prints the seconds. The parent kills it past the limit, so a
#: query that never finishes cannot hold a core for the rest of the run.
_PROBE = """
import json, sys, time
import pyoxigraph as ox
path, sparql, default, named = json.loads(sys.stdin.read())
store = ox.Store.read_only(path)
started = time.perf_counter()
rows = sum(1 for _ in store.query(sparql, default_graph=[ox.NamedNode(g) for g in default],
                                  named_graphs=[ox.NamedNode(g) for g in named]))
print(json.dumps([time.perf_counter() - started, rows]))
"""


def probe(path: Path, prepared: PreparedQuery, limit_s: float) -> tuple[float, int] | None:
    """``(seconds, rows)`` of one evaluation of ``prepared`` (the exact dataset the store
    would use), in a child process killed after ``limit_s``; None if it was killed."""
    child = subprocess.Popen([sys.executable, "-c", _PROBE], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    payload = json.dumps([str(path), prepared.sparql, list(prepared.default_graphs),
                          list(prepared.named_graphs)])
    try:
        out, _ = child.communicate(payload, timeout=limit_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return None
    if child.returncode != 0:
        raise RuntimeError(f"the probe of a query failed (exit {child.returncode})")
    seconds, rows = json.loads(out)
    return float(seconds), int(rows)


def analyst(sponsor: str) -> Principal:
    return Principal(name="bench-analyst", roles=frozenset({"quality"}),
                     sponsors=frozenset({sponsor}))


def _ms(value: float) -> str:
    return f"{value:,.1f}"


# --- 1. load and latency at scale ------------------------------------------------------------


def fill(folder: Path, sites: int, batches: int) -> None:
    """``--fill-only``: the bulk part of section 1 into ``folder/store``; its counts and the
    generator's facts into ``folder/fill.json``, written last (present = store complete)."""
    bulk = bulk_load(folder / "store", sites, batches, batches - TAIL_PER_SITE)
    record = {"sites": sites, "batches": batches, "graphs": bulk.graphs,
              "triples": bulk.triples, "quads": bulk.quads, "seconds": bulk.seconds,
              "facts": [asdict(f) for f in bulk.facts]}
    partial = folder / "fill.json.tmp"
    partial.write_text(json.dumps(record))
    partial.replace(folder / "fill.json")
    print(f"filled {folder / 'store'}: {bulk.graphs:,} graphs, {bulk.quads:,} quads in "
          f"{bulk.seconds:.0f} s")


def prefilled(folder: Path, sites: int, batches: int) -> Loaded | None:
    """What :func:`fill` left in ``folder`` for this scale, or None (then load here)."""
    path = folder / "fill.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    if (record["sites"], record["batches"]) != (sites, batches):
        return None
    facts = [BatchFacts(**{**f, "set_point_magnitudes": tuple(f["set_point_magnitudes"])})
             for f in record["facts"]]
    return Loaded(graphs=record["graphs"], triples=record["triples"], quads=record["quads"],
                  seconds=record["seconds"], facts=facts)


def section_scale(folder: Path, sites: int, batches: int,
                  filled: Path | None = None) -> dict[str, Any]:
    print(f"\n== 1. Store load and scoped SPARQL latency: {sites} sites x {batches:,} batches ==")
    first = batches - TAIL_PER_SITE
    bulk = prefilled(filled, sites, batches) if filled is not None else None
    if bulk is not None and filled is not None:
        path = filled / "store"
        print(f"bulk part filled beforehand by a background process at idle CPU priority "
              f"(make bench's side track), in the layout replace_graphs writes: "
              f"{bulk.graphs:,} graphs, {bulk.triples:,} triples ({bulk.quads:,} quads with "
              f"sponsor views and metadata) in {bulk.seconds:.0f} s of wall time — not a speed "
              f"figure (it ran on spare CPU); the bulk_load rate is the 10 x 100 run's")
    else:
        path = folder / "store"
        bulk = bulk_load(path, sites, batches, first)
        print(f"bulk_load of the same layout replace_graphs writes (generation included): "
              f"{bulk.graphs:,} graphs, {bulk.triples:,} triples ({bulk.quads:,} quads with "
              f"sponsor views and metadata) in {bulk.seconds:.1f} s = "
              f"{bulk.triples / bulk.seconds:,.0f} triples/s "
              f"({bulk.quads / bulk.seconds:,.0f} quads/s)")
    store = OxigraphStore(path)
    try:
        tail = replace_load(store, sites, batches, range(first, batches),
                            with_meta=False)
        rate = tail.triples / tail.seconds
        full_estimate_min = (bulk.triples + tail.triples) / rate / 60
        print(f"replace_graphs onto the full store (the sync write path; chunks of "
              f"{LOAD_CHUNK}): {tail.graphs:,} graphs, {tail.triples:,} triples in "
              f"{tail.seconds:.1f} s = {rate:,.0f} triples/s, {tail.graphs / tail.seconds:.1f} "
              f"graphs/s (generation {tail.generate_seconds:.1f} s, not counted); at that rate "
              f"the whole load would take ~{full_estimate_min:.1f} min")
        facts = bulk.facts + tail.facts
        graphs = store.graph_names()
        expected_graphs = sites * (batches + 1 + len(SPONSORS))
        if len(graphs) != expected_graphs:
            raise RuntimeError(f"the store holds {len(graphs)} graphs, not {expected_graphs}")
        hyper = sum(f.hyper for f in facts)
        scope = caller_scope(store, analyst(SCOPED_SPONSOR))
        visible = len(store.graphs_where(sponsor_in=scope.sponsors)) + len(scope.graphs)
        expected = expected_our_titre(facts, SCOPED_SPONSOR, batches)
        print(f"store: {len(graphs):,} data graphs (+ {len(SPONSORS)} sponsor views, metadata); "
              f"{hyper} injected hyper-metabolic batches; scope of a {SCOPED_SPONSOR} analyst "
              f"(federation.scope.caller_scope): sponsors {sorted(scope.sponsors)} + "
              f"{len(scope.graphs)} sponsor-neutral graphs = {visible:,} visible graphs; "
              f"expected our_titre answers: {len(expected)}")
        latency = {}
        for name, sparql in question_queries().items():
            prepared = prepare_query(sparql, catalog=store, sponsors=scope.sponsors,
                                     graphs=scope.graphs, timeout_s=QUERY_TIMEOUT_S,
                                     max_results=100_000)
            first_run = probe(path, prepared, PROBE_LIMIT_S)
            if first_run is None:
                print(f"  {name:26} did NOT finish within {PROBE_LIMIT_S:.0f} s (one run, child "
                      f"process killed): no latency")
                latency[name] = {"finished": False, "limit_s": PROBE_LIMIT_S}
                continue
            rows: list[Any] = []

            def run(sparql: str = sparql, rows: list[Any] = rows, name: str = name) -> None:
                result = store.query(sparql, sponsors=scope.sponsors, graphs=scope.graphs,
                                     timeout_s=QUERY_TIMEOUT_S)
                rows[:] = result.rows
                if not result.body:  # serialised (JSON), as the /sparql endpoint would
                    raise RuntimeError(f"{name}: empty result body")

            # the probe already ran it once (cold); a slow query gets no extra warm-up run
            times = timings(run, REPEAT, QUERY_BUDGET_S, warm_up=first_run[0] < 1.0)
            p50, p95 = p50_p95(times)
            entry: dict[str, Any] = {"finished": True, "p50_ms": p50, "p95_ms": p95,
                                     "runs": len(times), "rows": len(rows),
                                     "meets_target": p95 < TARGET_P95_MS}
            note = ""
            if name.startswith("our_titre"):
                got = {str(row[1].value) for row in rows}
                entry["answers_match_expected"] = got == expected
                note = (f"  answers {len(got)}/{len(expected)} expected"
                        f"{'' if got == expected else ' — MISMATCH'}")
            latency[name] = entry
            print(f"  {name:26} p50 {_ms(p50):>9} ms  p95 {_ms(p95):>9} ms  "
                  f"({len(times)} runs, {len(rows)} rows; p95 < {TARGET_P95_MS:.0f} ms: "
                  f"{'yes' if p95 < TARGET_P95_MS else 'NO'}){note}")
        return {"bulk_graphs": bulk.graphs, "bulk_triples": bulk.triples,
                "bulk_quads": bulk.quads, "bulk_prefilled_at_idle_priority": path != (
                    folder / "store"),
                "bulk_seconds": bulk.seconds,
                "bulk_triples_per_s": (bulk.triples / bulk.seconds
                                       if path == folder / "store" else None),
                "replace_graphs": tail.graphs, "replace_triples": tail.triples,
                "replace_seconds": tail.seconds, "replace_triples_per_s": rate,
                "replace_full_load_estimate_min": full_estimate_min,
                "graphs": len(graphs), "visible_graphs": visible,
                "hyper_metabolic_batches": hyper, "expected_our_titre": len(expected),
                "latency": latency}
    finally:
        store.close()


# --- 2. rdflib baseline ------------------------------------------------------------------------


def section_rdflib(folder: Path, sites: int, batches: int) -> dict[str, Any]:
    from rdflib import Dataset

    print(f"\n== 2. rdflib baseline: {sites} sites x {batches} batches, "
          f"{SCOPED_SPONSOR}'s visible graphs ==")
    visible = {None, SCOPED_SPONSOR}
    # written with replace_graphs as sync writes it: a bulk-loaded store of the same quads
    # answers these queries ~2x slower (measured 2026-11-27), which would flatter rdflib
    store = OxigraphStore(folder / "subset-store")
    try:
        loaded = replace_load(store, sites, batches, range(batches), with_meta=True)
        print(f"Oxigraph (on disk, like the federation) via replace_graphs: "
              f"{loaded.graphs:,} graphs (both sponsors), {loaded.triples:,} triples in "
              f"{loaded.seconds:.1f} s = {loaded.triples / loaded.seconds:,.0f} triples/s")
        scope = caller_scope(store, analyst(SCOPED_SPONSOR))
        data = [item[0] for site in range(sites)
                for item in meta_graphs(site, batches).values()
                if item[1].sponsor in visible]
        data += [graph for _, graph, facts in generate(sites, range(batches))
                 if facts.sponsor in visible]
        blob = b"".join(data)
        triples = blob.count(b"\n")
        del data
        dataset = Dataset(default_union=True)
        started = time.perf_counter()
        dataset.parse(data=blob, format="nquads")
        parse_s = time.perf_counter() - started
        print(f"rdflib Dataset(default_union=True): {triples:,} triples of "
              f"{SCOPED_SPONSOR}'s visible graphs parsed in {parse_s:.1f} s")
        del blob
        expected = expected_our_titre(loaded.facts, SCOPED_SPONSOR, batches)
        out: dict[str, Any] = {"triples_visible": len(dataset), "rdflib_parse_s": parse_s,
                               "oxigraph_replace_triples_per_s":
                                   loaded.triples / loaded.seconds, "queries": {}}
        for name, sparql in question_queries().items():
            ox_rows: list[Any] = []
            rdf_rows: list[Any] = []

            def on_oxigraph(sparql: str = sparql, rows: list[Any] = ox_rows) -> None:
                rows[:] = store.query(sparql, sponsors=scope.sponsors, graphs=scope.graphs,
                                      timeout_s=QUERY_TIMEOUT_S).rows

            def on_rdflib(sparql: str = sparql, rows: list[Any] = rdf_rows) -> None:
                rows[:] = list(dataset.query(sparql))

            ox_ms = statistics.median(timings(on_oxigraph, REPEAT, QUERY_BUDGET_S))
            rdf_ms = statistics.median(timings(on_rdflib, RDFLIB_REPEAT, QUERY_BUDGET_S))
            same = len(ox_rows) == len(rdf_rows)
            if name.startswith("our_titre"):
                same = same and {str(r[1].value) for r in ox_rows} == expected == \
                    {str(r[1]) for r in rdf_rows}
            out["queries"][name] = {"oxigraph_median_ms": ox_ms, "rdflib_median_ms": rdf_ms,
                                    "ratio": rdf_ms / ox_ms, "rows": len(ox_rows),
                                    "same_answers": same}
            print(f"  {name:26} Oxigraph {_ms(ox_ms):>9} ms  rdflib {_ms(rdf_ms):>10} ms  "
                  f"ratio rdflib/Oxigraph {rdf_ms / ox_ms:6.1f}x  ({len(ox_rows)} rows"
                  f"{'' if same else ', ANSWERS DIFFER'})")
        return out
    finally:
        store.close()


# --- 3. end-to-end sync ------------------------------------------------------------------------


def demo_pushes(source: Path, site: str, batches: int, per_push: int) -> list[SyncPush]:
    """Pushes of ``site``'s real export as held in the demo federation store: the stored
    meta graphs re-joined into the site's meta graph, and the batch graphs copied under new
    batch ids (``<id>-Rnnn``) until there are ``batches`` of them."""
    from protocol.sync import BatchGraph, sha256_hex
    from site_node.sync.client import meta_content_hash

    demo = ox.Store.read_only(str(source))
    base = f"https://w3id.org/twinfed/site/{site}/"
    meta_iri = ox.NamedNode(base + "meta")
    names = [g.value for g in demo.named_graphs() if isinstance(g, ox.NamedNode)]
    meta_parts = [g for g in names if g == meta_iri.value or g.startswith(base + "meta/")]
    originals = sorted(g for g in names if g.startswith(base + "batch/"))
    if not originals or not meta_parts:
        raise FileNotFoundError(f"{source} holds no batch or meta graph of {site}")
    meta_quads = [ox.Quad(q.subject, q.predicate, q.object, meta_iri) for g in meta_parts
                  for q in demo.quads_for_pattern(None, None, None, ox.NamedNode(g))]
    meta = (ox.serialize(meta_quads, format=ox.RdfFormat.N_QUADS) or b"").decode()
    from rdflib import Dataset

    meta_dataset = Dataset()
    meta_dataset.parse(data=meta, format="nquads")
    content_hash = meta_content_hash(meta_dataset, meta_iri.value)
    texts = {g: (ox.serialize(demo.quads_for_pattern(None, None, None, ox.NamedNode(g)),
                              format=ox.RdfFormat.N_QUADS) or b"").decode() for g in originals}
    del demo
    items = []
    for n in range(batches):
        graph = originals[n % len(originals)]
        old = graph.rsplit("/", 1)[1]
        new = f"{old}-R{n:03d}"
        text = texts[graph].replace(old, new)  # every IRI of the batch and its tf:batchId
        items.append(BatchGraph(batch_id=new, rev=n + 1, graph=f"{base}batch/{new}",
                                sha256=sha256_hex(text), nquads=text))
    pushes = []
    for start in range(0, batches, per_push):
        chunk = items[start:start + per_push]
        pushes.append(SyncPush(
            push_id=f"bench-{site}-{start:05d}-{chunk[-1].rev:05d}", site=site,
            since_rev=start, to_rev=chunk[-1].rev, created_at=datetime.now(UTC),
            software_version="benchmark", meta_graph=meta_iri.value,
            meta_sha256=sha256_hex(meta), meta_content_sha256=content_hash, meta_nquads=meta,
            batches=chunk))
    return pushes


def section_sync(folder: Path, batches: int) -> dict[str, Any]:
    import httpx
    from rdflib import Dataset

    from federation.api.app import create_app
    from federation.config import FederationSettings
    from shapes import validate
    from site_node.sync.client import FederationClient
    from twinfed.serving import serve

    print(f"\n== 3. End-to-end sync over HTTP: {batches} batches in pushes of "
          f"{SYNC_PUSH} ==")
    if not DEMO_STORE.is_dir():
        print(f"skipped: {DEMO_STORE} (the demo federation store, made by `make demo`) is "
              "missing; its SITE-A export is what the pushes re-send")
        return {"skipped": True}
    pushes = demo_pushes(DEMO_STORE, SYNC_SITE, batches, SYNC_PUSH)
    first = pushes[0]
    check = Dataset()
    check.parse(data=first.meta_nquads + first.batches[0].nquads, format="nquads")
    report = validate(check)
    if not report.conforms:
        raise RuntimeError(f"the synthetic push does not conform: {report.text[:2000]}")
    triples = sum(b.nquads.count("\n") for p in pushes for b in p.batches)
    print(f"method: re-push {SYNC_SITE}'s real export from {DEMO_STORE} (meta graph re-joined, "
          f"{len({b.graph.rsplit('-R', 1)[0] for p in pushes for b in p.batches})} batch graphs "
          f"copied under new ids; ~{triples // batches:,} triples/batch; the federation "
          f"re-validates and re-aligns them); local SHACL check of meta + 1 batch: conforms")
    token = "bench-admin-" + hashlib.sha256(str(folder).encode()).hexdigest()[:24]
    settings = FederationSettings(data=folder / "federation", admin_token=token)
    with serve(create_app(settings)) as url:
        response = httpx.post(f"{url}/sites", json={"code": SYNC_SITE, "name": "benchmark"},
                              headers={"Authorization": f"Bearer {token}"}, timeout=30)
        response.raise_for_status()
        client = FederationClient(url, response.json()["token"], timeout=900)
        try:
            per_push = []
            started = time.perf_counter()
            for push in pushes:
                push_started = time.perf_counter()
                ack = client.push(push)
                per_push.append(time.perf_counter() - push_started)
                if ack.outcome != "stored" or ack.batches_stored != len(push.batches):
                    raise RuntimeError(f"push {push.push_id} was not fully stored: {ack}")
            seconds = time.perf_counter() - started
            state = client.state(SYNC_SITE)
            replay_started = time.perf_counter()
            replay = client.push(pushes[0])
            replay_s = time.perf_counter() - replay_started
        finally:
            client.close()
    if state.batches != batches or replay.outcome != "duplicate":
        raise RuntimeError(f"unexpected sync state {state} / replay {replay}")
    rate = batches / seconds
    print(f"{batches} batches ({triples:,} triples) in {seconds:.1f} s = {rate:.2f} "
          f"batches/s, {triples / seconds:,.0f} triples/s; per push of {SYNC_PUSH}: "
          + ", ".join(f"{s:.1f} s" for s in per_push)
          + f"; a replayed push (duplicate, no-op): {replay_s * 1000:.0f} ms")
    return {"method": f"re-push of {SYNC_SITE} demo export", "batches": batches,
            "triples": triples, "seconds": seconds, "batches_per_s": rate,
            "triples_per_s": triples / seconds, "push_seconds": per_push,
            "replay_ms": replay_s * 1000}


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=SITES)
    parser.add_argument("--batches-per-site", type=int, default=BATCHES_PER_SITE)
    parser.add_argument("--rdflib-sites", type=int, default=RDFLIB_SITES)
    parser.add_argument("--rdflib-batches", type=int, default=RDFLIB_BATCHES)
    parser.add_argument("--sync-batches", type=int, default=SYNC_BATCHES)
    parser.add_argument("--sections", default="scale,rdflib,sync",
                        help="comma-separated subset of: scale, rdflib, sync")
    parser.add_argument("--fill-only", type=Path, metavar="DIR",
                        help="only bulk-load section 1's store into DIR (for --prefilled)")
    parser.add_argument("--prefilled", type=Path, metavar="DIR",
                        help="section 1 uses the store --fill-only left in DIR, if complete")
    args = parser.parse_args([] if argv is None and __name__ != "__main__" else argv)
    if args.fill_only is not None:
        fill(args.fill_only, args.sites, args.batches_per_site)
        return {}
    started = time.perf_counter()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="twinfed-bench-federation-") as tmp:
        folder = Path(tmp)
        sections = {name.strip() for name in args.sections.split(",")}
        if "scale" in sections:
            results["scale"] = section_scale(folder, args.sites, args.batches_per_site,
                                             args.prefilled)
            gc.collect()
        if "rdflib" in sections:
            results["rdflib"] = section_rdflib(folder, args.rdflib_sites, args.rdflib_batches)
            gc.collect()
        if "sync" in sections:
            results["sync"] = section_sync(folder, args.sync_batches)
    results["wall_s"] = time.perf_counter() - started
    results["max_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"\nwhole run: {results['wall_s']:.0f} s; peak memory {results['max_rss_gib']:.2f} GiB "
          "(this process; query probes run in short-lived child processes)")
    return results


if __name__ == "__main__":
    main()
