"""What a package is built from: the federation's aligned knowledge of process P at S and R.

:func:`load_transfer_data` reads, within the caller's sponsor scope only, everything the
package sections need: S's and R's batches of P (status, scale, times), their phases, the
aligned per-phase features (mean, min, max, time of max), aligned quality results, deviation
records with root causes and CAPA, S's envelope reference batches, both sites' equipment and
tags with the alignment's parameter mappings and unit conversions, and a digest of the
federation state those facts came from. All values are in the shared vocabulary
(``tfp:`` parameters, canonical units), so nothing here knows a site's tag names.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import pyoxigraph as ox

from bioprocess.errors import NotFoundError
from federation.store.base import Store

TF = "https://w3id.org/twinfed/ontology#"
TFP = "https://w3id.org/twinfed/parameter/"
PREFIXES = (f"PREFIX tf: <{TF}>\nPREFIX prov: <http://www.w3.org/ns/prov#>\n"
            "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
            "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n")
#: Statistics of per-phase features a package uses.
STATISTICS = ("mean", "min", "max", "t_max")
#: Parameters whose extremes (min, max, time of max) a section uses: demonstrated oxygen
#: transfer (peak OUR), mixing (peak agitation and gas flow), seeding and peak cell density.
EXTREME_PARAMETERS = ("oxygen-uptake-rate", "agitation", "air-flow", "oxygen-flow",
                      "viable-cell-density")


@dataclass(frozen=True)
class ProcessRef:
    iri: str
    code: str
    version: str
    sponsor: str
    label: str | None
    product: str | None


@dataclass(frozen=True)
class BatchInfo:
    iri: str
    site: str
    batch_id: str
    status: str
    scale_l: float
    start: datetime | None
    end: datetime | None
    graph: str


@dataclass(frozen=True)
class Deviation:
    batch: str
    iri: str
    deviation_id: str
    category: str | None
    description: str | None
    root_cause: str | None
    failure_mode: str | None
    capas: tuple[tuple[str, str | None, bool | None], ...]  # (iri, action, effective)


@dataclass(frozen=True)
class Equipment:
    iri: str
    site: str
    equipment_id: str
    kind: str
    working_volume_l: float | None


@dataclass(frozen=True)
class TagInfo:
    iri: str
    site: str
    name: str
    kind: str
    unit: str
    parameter: str | None
    multiplier: float | None
    offset: float | None


@dataclass
class TransferData:
    """Everything read from the store for one transfer (all values aligned)."""

    process: ProcessRef
    from_site: str
    to_site: str
    site_iris: dict[str, str]
    batches: dict[str, BatchInfo] = field(default_factory=dict)
    #: batch IRI -> phase name -> (start h, end h)
    phases: dict[str, dict[str, tuple[float, float | None]]] = field(default_factory=dict)
    #: (batch IRI, parameter IRI, phase name, statistic) -> value (canonical unit)
    features: dict[tuple[str, str, str, str], float] = field(default_factory=dict)
    #: parameter IRI -> canonical unit label
    units: dict[str, str] = field(default_factory=dict)
    #: (batch IRI, parameter IRI) -> value of a quality result (canonical unit)
    quality: dict[tuple[str, str], float] = field(default_factory=dict)
    #: quality parameter IRI -> (spec low, spec high) in the site's unit where given
    quality_specs: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    deviations: list[Deviation] = field(default_factory=list)
    #: S's envelope reference batches (its own rule for good batches)
    reference_batches: tuple[str, ...] = ()
    equipment: list[Equipment] = field(default_factory=list)
    tags: list[TagInfo] = field(default_factory=list)
    #: graphs read (IRI -> export hash), for the federation-state digest
    graphs_used: dict[str, str | None] = field(default_factory=dict)
    received_latest: datetime | None = None

    def site_batches(self, site: str) -> list[BatchInfo]:
        return sorted((b for b in self.batches.values() if b.site == site),
                      key=lambda b: b.batch_id)

    def federation_state(self) -> dict[str, object]:
        digest = hashlib.sha256()
        for iri in sorted(self.graphs_used):
            digest.update(f"{iri}\t{self.graphs_used[iri] or ''}\n".encode())
        return {
            "graphs": len(self.graphs_used),
            "graphs_sha256": digest.hexdigest(),
            "latest_received_at": (self.received_latest.isoformat()
                                   if self.received_latest else None),
        }


def _value(term: object) -> str | None:
    if term is None:
        return None
    return term.value  # type: ignore[attr-defined]


def _float(term: object) -> float | None:
    text = _value(term)
    return None if text is None else float(text)


def _literal(text: str) -> str:
    return str(ox.Literal(text))


def find_process(store: Store, process: str, site: str) -> ProcessRef:
    """Process ``process`` (code, or ``code@version``) as site ``site`` publishes it.

    Read over the site's sponsor-meta graphs without a caller scope: only the sponsor is
    returned, so the caller's entitlement can be checked before anything else is read.
    """
    code, _, version = process.partition("@")
    metadata = store.graph_metadata()
    graphs = sorted(iri for iri, meta in metadata.items()
                    if meta.site == site and meta.kind == "sponsor-meta")
    if not graphs:
        raise NotFoundError(f"the federation holds no process of site '{site}': the site "
                            "must be registered and synced first")
    version_filter = f"FILTER(?version = {_literal(version)})" if version else ""
    rows = store.query(PREFIXES + f"""
        SELECT ?proc ?version ?sponsor ?label ?product WHERE {{
          ?proc a tf:Process ; tf:processCode {_literal(code)} ; tf:processVersion ?version ;
                tf:forProduct ?productIri .
          ?productIri tf:ownedBy ?sponsorIri ; tf:productCode ?product .
          ?sponsorIri tf:sponsorCode ?sponsor .
          OPTIONAL {{ ?proc rdfs:label ?label }}
          {version_filter}
        }}""", graphs=graphs).rows
    if not rows:
        raise NotFoundError(f"site '{site}' publishes no process '{process}'; sync the site or "
                            "check the process code (CODE or CODE@VERSION)")
    # the newest version when none is given (numeric where possible)
    def order(row: tuple) -> tuple:
        text = _value(row[1]) or ""
        return (0, int(text), text) if text.isdigit() else (1, 0, text)
    row = max(rows, key=order)
    return ProcessRef(iri=_value(row[0]) or "", code=code, version=_value(row[1]) or "",
                      sponsor=_value(row[2]) or "", label=_value(row[3]),
                      product=_value(row[4]))


def load_transfer_data(store: Store, process: ProcessRef, from_site: str,
                       to_site: str) -> TransferData:
    """Read the facts of the transfer, scoped to the process's sponsor and both sites."""
    metadata = store.graph_metadata()
    neutral = sorted(iri for iri, meta in metadata.items()
                     if meta.sponsor is None and meta.site in (from_site, to_site))
    sponsor = [process.sponsor]

    def select(body: str, *, site_level: bool = False) -> list[tuple]:
        # Batch facts live in the sponsor's graphs, site facts in the neutral meta graphs:
        # scoping each query to one of them is several times faster than to their union.
        scope = {"graphs": neutral} if site_level else {"sponsors": sponsor}
        return list(store.query(PREFIXES + body, **scope, timeout_s=120,
                                max_results=2_000_000).rows)

    sites = " ".join(_literal(s) for s in (from_site, to_site))
    code = _literal(process.code)
    data = TransferData(process=process, from_site=from_site, to_site=to_site, site_iris={})
    for row in select(f"""SELECT ?site ?code WHERE {{ ?site a tf:Site ; tf:siteCode ?code .
                          VALUES ?code {{ {sites} }} }}""", site_level=True):
        data.site_iris[_value(row[1]) or ""] = _value(row[0]) or ""
    if to_site not in data.site_iris:
        raise NotFoundError(f"receiving site '{to_site}' has published nothing to the "
                            "federation yet: register and sync it first (its equipment is "
                            "needed for the comparison)")
    site_values = " ".join(f"(<{iri}> {_literal(c)})" for c, iri in data.site_iris.items())
    batch_pattern = (f"VALUES (?siteIri ?site) {{ {site_values} }} ?batch tf:atSite ?siteIri ; "
                     f"a tf:Batch ; tf:ofProcess ?proc . ?proc tf:processCode {code} .")
    graph_of = {}
    for iri, meta in metadata.items():
        if meta.kind == "batch" and meta.sponsor == process.sponsor:
            graph_of[iri] = meta
    for row in select(f"""SELECT ?batch ?site ?id ?status ?scale ?start ?end WHERE {{
            {batch_pattern} ?batch tf:batchId ?id ; tf:batchStatus ?status ;
            tf:scaleLitre ?scale . OPTIONAL {{ ?batch tf:startTime ?start }}
            OPTIONAL {{ ?batch tf:endTime ?end }} }}"""):
        iri = _value(row[0]) or ""
        site = _value(row[1]) or ""
        graph = iri.replace("/batch/", "/batch/", 1)
        start, end = _value(row[5]), _value(row[6])
        data.batches[iri] = BatchInfo(
            iri=iri, site=site, batch_id=_value(row[2]) or "", status=_value(row[3]) or "",
            scale_l=_float(row[4]) or 0.0,
            start=datetime.fromisoformat(start) if start else None,
            end=datetime.fromisoformat(end) if end else None, graph=graph)
    # The batches are known now. The queries below read the sponsor's whole union view and
    # keep the rows of these batches in Python: a VALUES list of 200 batch IRIs made Oxigraph
    # ~20x slower than the plain scan (benchmarks/packages.py).
    wanted = set(data.batches)
    phase_names: dict[str, str] = {}
    for row in select("""SELECT ?batch ?phase ?name ?start ?end WHERE {
            ?phase tf:phaseName ?name ; tf:ofBatch ?batch ; tf:startHour ?start .
            OPTIONAL { ?phase tf:endHour ?end } }"""):
        batch = _value(row[0]) or ""
        if batch in wanted:
            phase_names[_value(row[1]) or ""] = _value(row[2]) or ""
            data.phases.setdefault(batch, {})[_value(row[2]) or ""] = (
                _float(row[3]) or 0.0, _float(row[4]))

    def add_features(rows: list[tuple], statistic: str | None = None) -> None:
        for batch, phase, param, *rest in rows:
            stat = statistic or _value(rest[0]) or ""
            if stat not in STATISTICS:
                continue
            if (b := _value(batch)) in wanted and (name := phase_names.get(_value(phase) or "")):
                data.features[(b or "", _value(param) or "", name, stat)] = (
                    _float(rest[-1]) or 0.0)

    # every parameter's per-phase mean (ranges, classification, set points) ...
    add_features(select("""SELECT ?batch ?phase ?param ?value WHERE {
            ?f tf:statistic "mean" ; tf:ofBatch ?batch ; tf:inPhase ?phase ;
               tf:parameter ?param ; tf:alignedValue ?value }"""), "mean")
    # ... and the extremes only where a section uses them (oxygen transfer, mixing, seeding)
    extremes = " ".join(f"<{TFP}{p}>" for p in EXTREME_PARAMETERS)
    add_features(select(f"""SELECT ?batch ?phase ?param ?stat ?value WHERE {{
            VALUES ?param {{ {extremes} }}
            ?f tf:parameter ?param ; tf:statistic ?stat ; tf:ofBatch ?batch ;
               tf:inPhase ?phase ; tf:alignedValue ?value }}"""))
    for row in select("""SELECT ?batch ?param ?value ?unit ?low ?high WHERE {
            ?q a tf:QualityResult ; tf:ofBatch ?batch ; tf:parameter ?param ;
               tf:alignedValue ?value ; tf:alignedUnit ?unit .
            OPTIONAL { ?q tf:specLow ?low } OPTIONAL { ?q tf:specHigh ?high } }"""):
        if _value(row[0]) not in wanted:
            continue
        param = _value(row[1]) or ""
        data.quality[(_value(row[0]) or "", param)] = _float(row[2]) or 0.0
        data.units.setdefault(param, _value(row[3]) or "")
        data.quality_specs.setdefault(param, (_float(row[4]), _float(row[5])))
    deviations: dict[str, dict] = {}
    capas: dict[str, list] = defaultdict(list)
    for row in select("""SELECT ?batch ?dev ?id ?category ?description ?cause ?mode ?capa
            ?action ?effective WHERE {
            ?dev a tf:DeviationRecord ; tf:ofBatch ?batch ; tf:deviationId ?id .
            OPTIONAL { ?dev tf:category ?category }
            OPTIONAL { ?dev <http://purl.org/dc/terms/description> ?description }
            OPTIONAL { ?dev tf:rootCause ?cause } OPTIONAL { ?dev tf:failureMode ?mode }
            OPTIONAL { ?dev tf:hasCAPA ?capa . OPTIONAL { ?capa tf:action ?action }
                        OPTIONAL { ?capa tf:effective ?effective } } }"""):
        if _value(row[0]) not in wanted:
            continue
        dev = _value(row[1]) or ""
        deviations[dev] = {"batch": _value(row[0]) or "", "iri": dev,
                           "deviation_id": _value(row[2]) or "", "category": _value(row[3]),
                           "description": _value(row[4]), "root_cause": _value(row[5]),
                           "failure_mode": _value(row[6])}
        if row[7] is not None:
            effective = _value(row[9])
            capa = (_value(row[7]) or "", _value(row[8]),
                    None if effective is None else effective == "true")
            if capa not in capas[dev]:
                capas[dev].append(capa)
    data.deviations = [Deviation(**d, capas=tuple(capas[iri]))
                       for iri, d in sorted(deviations.items())]
    references = select(f"""SELECT DISTINCT ?good WHERE {{
            ?env a tf:Envelope ; tf:ofProcess <{process.iri}> ; prov:wasDerivedFrom ?good }}""")
    data.reference_batches = tuple(sorted(_value(r[0]) or "" for r in references))
    for row in select(f"""SELECT ?e ?site ?id ?kind ?volume WHERE {{
            ?e a tf:Equipment ; tf:equipmentId ?id ; tf:equipmentKind ?kind .
            OPTIONAL {{ ?e tf:workingVolumeLitre ?volume }}
            ?siteIri a tf:Site ; tf:siteCode ?site . VALUES ?site {{ {sites} }}
            FILTER(STRSTARTS(STR(?e), STR(?siteIri))) }}""", site_level=True):
        data.equipment.append(Equipment(
            iri=_value(row[0]) or "", site=_value(row[1]) or "", equipment_id=_value(row[2]) or "",
            kind=_value(row[3]) or "", working_volume_l=_float(row[4])))
    for row in select(f"""SELECT ?tag ?site ?name ?kind ?unit ?param ?m ?c ?to WHERE {{
            ?tag a tf:Tag ; skos:prefLabel ?name ; tf:tagKind ?kind ; tf:unitLabel ?unit .
            ?siteIri a tf:Site ; tf:siteCode ?site . VALUES ?site {{ {sites} }}
            FILTER(STRSTARTS(STR(?tag), STR(?siteIri)))
            OPTIONAL {{ ?tag ?relation ?param .
                        VALUES ?relation {{ skos:exactMatch skos:closeMatch }}
                        FILTER(STRSTARTS(STR(?param), "{TFP}"))
                        OPTIONAL {{ ?tag tf:unitConversion ?conv .
                                   ?conv tf:multiplier ?m ; tf:offset ?c ;
                                         tf:toUnit ?to }} }} }}""",
                      site_level=True):
        data.tags.append(TagInfo(
            iri=_value(row[0]) or "", site=_value(row[1]) or "", name=_value(row[2]) or "",
            kind=_value(row[3]) or "", unit=_value(row[4]) or "", parameter=_value(row[5]),
            multiplier=_float(row[6]), offset=_float(row[7])))
        if row[5] is not None and row[8] is not None:  # canonical unit of the parameter
            data.units.setdefault(_value(row[5]) or "", _value(row[8]) or "")
    used = [iri for iri in neutral]
    used += [iri for iri, meta in metadata.items()
             if meta.sponsor == process.sponsor and meta.site in (from_site, to_site)
             and (meta.kind != "batch" or iri in data.batches)]
    for iri in used:
        meta = metadata.get(iri)
        data.graphs_used[iri] = meta.export_hash if meta else None
        if meta and meta.received_at and (data.received_latest is None
                                          or meta.received_at > data.received_latest):
            data.received_latest = meta.received_at
    return data
