"""Read batch deviation profiles, outcomes and deviation records from the aligned store.

Every read is a scoped SPARQL query (``GraphReader.query`` with the caller's sponsors and
graphs), so a profile can only contain what the caller may see. Terms used: aligned
``tf:DeviationEvent`` (``tf:parameter``, ``tf:inPhase``/``tf:phaseName``,
``tf:alignedDirection`` else ``tf:direction``, ``tf:magnitude``), ``tf:QualityResult`` with
``tf:parameter``/``tf:alignedValue``, ``tf:DeviationRecord`` with ``tf:hasCAPA``, the
envelopes' ``prov:wasDerivedFrom`` (the site's reference batches), and, for feature
deviations (``features.py``), aligned ``tf:Feature``s (``tf:parameter``, ``tf:statistic``,
``tf:alignedValue``, ``tf:inPhase``) of every batch of the same processes, and the aligned
features of redundant measurements (``tf:redundantMeasurementOf`` instead of
``tf:parameter``), compared with the record's when the feature options ask for it
(``disagreement.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace

from federation.signatures.disagreement import disagreement_rows
from federation.signatures.features import FeatureOptions, FeatureRow, feature_deviations
from federation.signatures.model import BatchProfile, EventKey, LinkedDeviation
from federation.store.base import GraphReader

PREFIXES = """PREFIX tf: <https://w3id.org/twinfed/ontology#>
PREFIX tfp: <https://w3id.org/twinfed/parameter/>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""
#: The outcome a signature's impact is measured on, by default.
DEFAULT_OUTCOME = "https://w3id.org/twinfed/parameter/titre"
_MAX_ROWS = 2_000_000
_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class ReadScope:
    """What a read may see: whole sponsors plus individual graphs (as ``/sparql``)."""

    sponsors: frozenset[str]
    graphs: tuple[str, ...] = ()


def select_rows(store: GraphReader, scope: ReadScope, sparql: str) -> list[dict[str, str]]:
    result = store.query(PREFIXES + sparql, sponsors=scope.sponsors, graphs=scope.graphs,
                         timeout_s=_TIMEOUT_S, max_results=_MAX_ROWS)
    return [{k: v.value for k, v in row.items()} for row in result.bindings()]


def _values(iris: Iterable[str]) -> str:
    return " ".join(f"<{iri}>" for iri in iris)


def _site_code(row: dict[str, str]) -> str:
    if "site" in row:
        return row["site"]
    return row["siteIri"].rstrip("/").rsplit("/", 1)[-1]


_BATCHES = """SELECT ?batch ?batchId ?siteIri ?site ?sponsor ?process ?start WHERE {
  ?batch a tf:Batch ; tf:batchId ?batchId ; tf:atSite ?siteIri ; tf:ofProcess ?process ;
         tf:sponsor ?sponsorIri ; tf:startTime ?start .
  OPTIONAL { ?siteIri tf:siteCode ?site }
  OPTIONAL { ?sponsorIri tf:sponsorCode ?sponsor }
  %s
}"""
_EVENTS = """SELECT ?batch ?parameter ?phase ?direction ?magnitude WHERE {
  ?event a tf:DeviationEvent ; tf:ofBatch ?batch ; tf:parameter ?parameter ;
         tf:magnitude ?magnitude ; tf:inPhase ?phaseIri .
  ?phaseIri tf:phaseName ?phase .
  OPTIONAL { ?event tf:alignedDirection ?aligned }
  OPTIONAL { ?event tf:direction ?siteDirection }
  BIND (COALESCE(?aligned, ?siteDirection) AS ?direction)
  %s
}"""
_OUTCOMES = """SELECT ?batch ?value WHERE {
  ?result a tf:QualityResult ; tf:ofBatch ?batch ; tf:parameter <%s> ;
          tf:alignedValue ?value .
  %s
}"""


#: Aligned phase statistics of the processes' batches, linked to their parameter by the
#: predicate filled in: ``tf:parameter`` (the measurement of record) or
#: ``tf:redundantMeasurementOf`` (a second measurement, ``disagreement.py``).
_FEATURES = """SELECT ?batch ?feature ?parameter ?phase ?phaseIri ?statistic ?value WHERE {
  VALUES ?process { %s }
  ?batch a tf:Batch ; tf:ofProcess ?process .
  ?feature a tf:Feature ; tf:ofBatch ?batch ; %s ?parameter ;
           tf:statistic ?statistic ; tf:alignedValue ?value ; tf:inPhase ?phaseIri .
  ?phaseIri tf:phaseName ?phase .
  VALUES ?statistic { %s }
}"""

_PROCESS_BATCHES = """SELECT ?batch ?process WHERE {
  VALUES ?process { %s }
  ?batch a tf:Batch ; tf:ofProcess ?process .
}"""


def with_feature_deviations(store: GraphReader, scope: ReadScope,
                            profiles: list[BatchProfile],
                            options: FeatureOptions | None = None) -> list[BatchProfile]:
    """``profiles`` with their feature deviations (``features.py``): each batch's aligned
    phase statistics against the reference batches of its own site and process, all read
    within ``scope`` (batches of the same processes that are not in ``profiles`` serve as
    reference batches too)."""
    options = options or FeatureOptions()
    if not profiles:
        return profiles
    processes = sorted({p.process for p in profiles})
    statistics = " ".join(f'"{s}"' for s in options.statistics)

    def feature_rows(link: str) -> tuple[list[FeatureRow], dict[str, str]]:
        found = select_rows(store, scope, _FEATURES % (_values(processes), link, statistics))
        return ([FeatureRow(r["batch"], r["parameter"], r["phase"], r["statistic"],
                            float(r["value"]), r["feature"]) for r in found],
                {r["feature"]: r["phaseIri"] for r in found})

    rows, _ = feature_rows("tf:parameter")
    if options.disagreement:
        redundant, phase_iris = feature_rows("tf:redundantMeasurementOf")
        rows += disagreement_rows(rows, redundant, phase_iris)
    references = reference_batches(store, scope)
    # Process IRIs are per site (``site/<code>/process/...``): one comparison group each.
    groups = {r["batch"]: r["process"] for r in select_rows(
        store, scope, _PROCESS_BATCHES % _values(processes))}
    groups.update({p.batch: p.process for p in profiles})
    reference = set().union(*(references.get(p, set()) for p in processes))
    found = feature_deviations(rows, groups, reference, options)
    out = []
    for p in profiles:
        result = found.get(p.batch)
        if result is None:
            out.append(p)
            continue
        out.append(replace(p, feature_z=result.z, largest_z=result.largest_z,
                           gate=result.gate, feature_sources=result.sources,
                           feature_origin="computed"))
    return out


def read_profiles(store: GraphReader, scope: ReadScope, *,
                  outcome: str = DEFAULT_OUTCOME,
                  batches: Collection[str] | None = None,
                  features: FeatureOptions | None = None) -> list[BatchProfile]:
    """Every visible batch (or only ``batches``, IRIs) with its aligned events and outcome,
    and with its feature deviations when ``features`` is given."""
    restrict = f"VALUES ?batch {{ {_values(batches)} }}" if batches is not None else ""
    if batches is not None and not batches:
        return []
    info: dict[str, dict[str, str]] = {}
    for row in select_rows(store, scope, _BATCHES % restrict):
        info.setdefault(row["batch"], row)
    events: dict[str, dict[EventKey, float]] = {iri: {} for iri in info}
    for row in select_rows(store, scope, _EVENTS % restrict):
        if row["batch"] not in events or row.get("direction") not in ("high", "low"):
            continue
        key = EventKey(row["parameter"], row["phase"], row["direction"])
        magnitude = float(row["magnitude"])
        known = events[row["batch"]]
        known[key] = max(known.get(key, 0.0), magnitude)
    outcomes = {row["batch"]: float(row["value"])
                for row in select_rows(store, scope, _OUTCOMES % (outcome, restrict))}
    profiles = []
    for iri, row in sorted(info.items()):
        sponsor = row.get("sponsor") or row.get("sponsorIri", "").rsplit("/", 1)[-1]
        profiles.append(BatchProfile(
            batch=iri, batch_id=row["batchId"], site=_site_code(row), sponsor=sponsor,
            process=row["process"], start=row["start"], events=events[iri],
            outcome=outcomes.get(iri)))
    if features is not None:
        profiles = with_feature_deviations(store, scope, profiles, features)
    return profiles


_STORED_FEATURE_DEVIATIONS = """SELECT ?batch ?parameter ?phase ?statistic ?z ?feature
       ?median ?scale WHERE {
  VALUES ?batch { %s }
  ?deviation a tf:FeatureDeviation ; prov:wasGeneratedBy <%s> ; tf:ofBatch ?batch ;
             tf:robustZ ?z ; prov:wasDerivedFrom ?feature .
  OPTIONAL { ?deviation tf:referenceMedian ?median ; tf:referenceScale ?scale }
  ?feature tf:parameter ?parameter ; tf:statistic ?statistic ; tf:inPhase ?phaseIri .
  ?phaseIri tf:phaseName ?phase .
}"""


def with_stored_feature_deviations(store: GraphReader, scope: ReadScope,
                                   profiles: list[BatchProfile], run: str
                                   ) -> list[BatchProfile]:
    """``profiles`` with the feature deviations discovery run ``run`` (an activity IRI)
    stored for them (``tf:FeatureDeviation``, each derived from an aligned ``tf:Feature``):
    the evidence the run's signatures were found on, not a recomputation."""
    if not profiles:
        return profiles
    found: dict[str, dict[tuple[str, str, str], float]] = {}
    sources: dict[str, dict[tuple[str, str, str], tuple[str, float, float]]] = {}
    rows = select_rows(store, scope, _STORED_FEATURE_DEVIATIONS % (
        _values(p.batch for p in profiles), run))
    for row in rows:
        key = (row["parameter"], row["phase"], row["statistic"])
        found.setdefault(row["batch"], {})[key] = float(row["z"])
        sources.setdefault(row["batch"], {})[key] = (
            row["feature"], float(row.get("median", "nan")), float(row.get("scale", "nan")))
    return [replace(p, feature_z=found.get(p.batch, {}),
                    feature_sources=sources.get(p.batch, {}), feature_origin=run)
            for p in profiles]


_REFERENCE = """SELECT DISTINCT ?process ?good WHERE {
  ?envelope a tf:Envelope ; tf:ofProcess ?process ; prov:wasDerivedFrom ?good .
}"""


def reference_batches(store: GraphReader, scope: ReadScope) -> dict[str, set[str]]:
    """Per process IRI: the good batches the site's envelopes were built from."""
    found: dict[str, set[str]] = {}
    for row in select_rows(store, scope, _REFERENCE):
        found.setdefault(row["process"], set()).add(row["good"])
    return found


_DEVIATIONS = """SELECT ?record ?batchId ?deviationId ?category ?description ?rootCause
       ?failureMode ?capaId ?action ?effective WHERE {
  VALUES ?batch { %s }
  ?record a tf:DeviationRecord ; tf:ofBatch ?batch ; tf:deviationId ?deviationId ;
          tf:category ?category ; dcterms:description ?description .
  ?batch tf:batchId ?batchId .
  OPTIONAL { ?record tf:rootCause ?rootCause }
  OPTIONAL { ?record tf:failureMode ?mode }
  OPTIONAL { ?record tf:failureModeCode ?code }
  BIND (COALESCE(STR(?mode), ?code) AS ?failureMode)
  OPTIONAL { ?record tf:hasCAPA ?capa . ?capa tf:capaId ?capaId ; tf:action ?action .
             OPTIONAL { ?capa tf:effective ?effective } }
}"""


def read_deviations(store: GraphReader, scope: ReadScope,
                    batches: Collection[str]) -> list[LinkedDeviation]:
    """Deviation records of ``batches`` with root cause, failure mode and CAPA."""
    if not batches:
        return []
    records: dict[str, dict] = {}
    for row in select_rows(store, scope, _DEVIATIONS % _values(sorted(batches))):
        record = records.setdefault(row["record"], {"row": row, "capa": {}})
        if "capaId" in row:
            effective = row.get("effective")
            record["capa"][row["capaId"]] = (
                row["capaId"], row["action"],
                None if effective is None else effective in ("true", "1"))
    deviations = []
    for iri, record in sorted(records.items()):
        row = record["row"]
        deviations.append(LinkedDeviation(
            iri=iri, batch_id=row["batchId"], deviation_id=row["deviationId"],
            category=row["category"], description=row["description"],
            root_cause=row.get("rootCause"), failure_mode=row.get("failureMode"),
            capa=tuple(sorted(record["capa"].values()))))
    return deviations
