"""Small hand-checked federation graphs for the named questions and the site comparison.

Two sponsors: SP-X runs process P1 at SITE-A (batches A1-A3, titre in g/L) and SITE-B
(B1-B3, titre in mg/L: the alignment converts it); SP-Y runs P2 at SITE-C (C1, C2). The
graphs are what the federation stores after alignment (tf:parameter, tf:alignedValue, ...),
one named graph per batch plus site meta (neutral) and sponsor meta graphs, with the same
metadata sync writes. Every expected answer in the tests is worked out from these lines.
"""

from __future__ import annotations

import re

from rdflib import Dataset

from federation.store import GraphMetadata, open_store
from federation.store.base import Store

PREFIXES = """
@prefix tf: <https://w3id.org/twinfed/ontology#> .
@prefix tfp: <https://w3id.org/twinfed/parameter/> .
@prefix tffm: <https://w3id.org/twinfed/failure-mode/> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""

A = "https://w3id.org/twinfed/site/SITE-A/"
B = "https://w3id.org/twinfed/site/SITE-B/"
C = "https://w3id.org/twinfed/site/SITE-C/"


def _batch(p: str, site: str, bid: str, process: str, sponsor: str, start: str,
           scale: float, equipment: str, titre: float, titre_unit: str, spec: float,
           features: dict[tuple[str, str], float], extra: str = "") -> str:
    """One batch graph: batch, unit operation, phases, mean features, titre result."""
    phases = {"growth": 0, "production": 1}
    lines = [f"{p}:batch/{bid} {{",
             f"  {p}:batch/{bid} a tf:Batch ; tf:batchId \"{bid}\" ; tf:atSite {p}: ;",
             f"    tf:ofProcess {p}:process/{process}/1 ; tf:sponsor {p}:sponsor/{sponsor} ;",
             f"    tf:startTime \"{start}T08:00:00Z\"^^xsd:dateTime ; "
             f"tf:scaleLitre \"{scale}\"^^xsd:double .",
             f"  {p}:batch/{bid}/uo/0 a tf:UnitOperation ; tf:ofBatch {p}:batch/{bid} ;",
             f"    tf:unitOperationKind \"production_bioreactor\" ; "
             f"tf:usesEquipment {p}:equipment/{equipment} ."]
    for name, n in phases.items():
        lines.append(f"  {p}:batch/{bid}/phase/{n} a tf:Phase ; tf:phaseName \"{name}\" ; "
                     f"tf:ofBatch {p}:batch/{bid} .")
    for (parameter, phase), value in features.items():
        lines.append(
            f"  {p}:batch/{bid}/feature/{parameter}/{phase}/mean a tf:Feature ; "
            f"tf:ofBatch {p}:batch/{bid} ; tf:inPhase {p}:batch/{bid}/phase/{phases[phase]} ;"
            f" tf:statistic \"mean\" ; tf:parameter tfp:{parameter} ; "
            f"tf:alignedValue \"{value}\"^^xsd:double ; tf:alignedUnit \"u\" .")
    factor = 1000.0 if titre_unit == "mg/L" else 1.0
    lines.append(
        f"  {p}:batch/{bid}/quality/final_titre a tf:QualityResult ; tf:ofBatch {p}:batch/{bid} ;"
        f" tf:attribute \"final_titre\" ; tf:value \"{titre * factor}\"^^xsd:double ; "
        f"tf:unitLabel \"{titre_unit}\" ; tf:specLow \"{spec * factor}\"^^xsd:double ; "
        f"tf:parameter tfp:titre ; tf:alignedValue \"{titre}\"^^xsd:double ; "
        f"tf:alignedUnit \"g/L\" .")
    lines.append(extra)
    lines.append("}")
    return "\n".join(lines)


def _our_event(p: str, bid: str, n: int, parameter: str, magnitude: float, start: float,
               envelope: str, direction: str = "low") -> str:
    return (f"  {p}:batch/{bid}/event/{n} a tf:DeviationEvent ; tf:ofBatch {p}:batch/{bid} ;"
            f" tf:parameter tfp:{parameter} ; tf:magnitude \"{magnitude}\"^^xsd:double ;"
            f" tf:startHour \"{start}\"^^xsd:double ; tf:alignedDirection \"{direction}\" ;"
            f" tf:againstEnvelope {envelope} .")


def _record(p: str, bid: str, dev: str, opened: str, category: str, mode: str | None,
            capa: tuple[str, bool | None] | None) -> str:
    text = (f"  {p}:batch/{bid}/deviation/{dev} a tf:DeviationRecord ; tf:ofBatch "
            f"{p}:batch/{bid} ; tf:deviationId \"{dev}\" ; tf:openedAt "
            f"\"{opened}T10:00:00Z\"^^xsd:dateTime ; tf:category \"{category}\"")
    if mode:
        text += f" ; tf:failureMode tffm:{mode}"
    if capa:
        capa_id, effective = capa
        text += f" ; tf:hasCAPA {p}:batch/{bid}/capa/{capa_id} .\n"
        text += (f"  {p}:batch/{bid}/capa/{capa_id} a tf:CAPA ; tf:capaId \"{capa_id}\" ; "
                 f"tf:action \"action {capa_id}\"")
        if effective is not None:
            text += f" ; tf:effective {'true' if effective else 'false'}"
    return text + " ."


T, PH, OUR = "temperature", "ph", "oxygen-uptake-rate"

BATCHES = {
    # graph IRI: (site, sponsor, TriG)
    A + "batch/A1": ("SITE-A", "SP-X", _batch(
        "a", "SITE-A", "A1", "P1", "SP-X", "2026-01-10", 2000.0, "BR1", 4.0, "g/L", 4.5,
        {(T, "growth"): 36.9, (PH, "growth"): 7.0, (T, "production"): 35.0},
        _our_event("a", "A1", 0, OUR, 4.0, 100.0, "a:envelope/P1/1/OUR")
        + "\n" + _our_event("a", "A1", 1, "temperature-set-point", 1.0, 20.0,
                            "a:envelope/P1/1/TSP", "high")
        + "\n" + _record("a", "A1", "DEV-1", "2026-01-15", "equipment", "do-probe-drift",
                         ("CAPA-1", True)))),
    A + "batch/A2": ("SITE-A", "SP-X", _batch(
        "a", "SITE-A", "A2", "P1", "SP-X", "2026-01-20", 2000.0, "BR1", 5.0, "g/L", 4.5,
        {(T, "growth"): 37.0, (PH, "growth"): 7.1, (T, "production"): 35.5},
        _our_event("a", "A2", 0, OUR, 2.0, 50.0, "a:envelope/P1/1/OUR", "high")
        + "\n" + _record("a", "A2", "DEV-2", "2026-01-20", "Equipment", None, None))),
    A + "batch/A3": ("SITE-A", "SP-X", _batch(
        "a", "SITE-A", "A3", "P1", "SP-X", "2026-02-02", 2000.0, "BR1", 5.0, "g/L", 4.5,
        {(T, "growth"): 37.1, (PH, "growth"): 7.2, (T, "production"): 36.0},
        _record("a", "A3", "DEV-3", "2026-02-03", "process", "media-lot",
                ("CAPA-3", False)))),
    B + "batch/B1": ("SITE-B", "SP-X", _batch(
        "b", "SITE-B", "B1", "P1", "SP-X", "2026-01-03", 500.0, "R-7", 4.0, "mg/L", 4.5,
        {(T, "growth"): 36.4, (PH, "growth"): 7.05, (T, "production"): 34.0},
        _our_event("b", "B1", 0, OUR, 3.0, 90.0, "b:envelope/P1/1/OUR")
        + "\n" + _our_event("b", "B1", 1, "ph-set-point", 6.0, 10.0,
                            "b:envelope/P1/1/PHSP", "high")
        + "\n" + _record("b", "B1", "DEV-4", "2026-01-05", "equipment", "do-probe-drift",
                         ("CAPA-4", None)))),
    B + "batch/B2": ("SITE-B", "SP-X", _batch(
        "b", "SITE-B", "B2", "P1", "SP-X", "2026-01-12", 500.0, "R-7", 5.0, "mg/L", 4.5,
        {(T, "growth"): 36.5, (PH, "growth"): 7.15, (T, "production"): 34.5})),
    B + "batch/B3": ("SITE-B", "SP-X", _batch(
        "b", "SITE-B", "B3", "P1", "SP-X", "2026-01-25", 500.0, "R-7", 6.0, "mg/L", 4.5,
        {(T, "growth"): 36.6, (PH, "growth"): 7.25})),
    C + "batch/C1": ("SITE-C", "SP-Y", _batch(
        "c", "SITE-C", "C1", "P2", "SP-Y", "2026-01-08", 200.0, "V1", 1.0, "g/L", 2.0,
        {(T, "growth"): 30.0},
        _our_event("c", "C1", 0, OUR, 5.0, 70.0, "c:envelope/P2/1/OUR")
        + "\n" + _record("c", "C1", "DEV-5", "2026-01-10", "equipment", "do-probe-drift",
                         None))),
    C + "batch/C2": ("SITE-C", "SP-Y", _batch(
        "c", "SITE-C", "C2", "P2", "SP-Y", "2026-01-28", 200.0, "V1", 3.0, "g/L", 2.0,
        {(T, "growth"): 30.5})),
}


def _site_meta(p: str, code: str, equipment: str, volume: float, kla: float | None,
               unit: str, multiplier: float, tags: dict[str, tuple[str, str]]) -> str:
    lines = [f"{p}:meta {{", f"  {p}: a tf:Site ; tf:siteCode \"{code}\" .",
             f"  {p}:equipment/{equipment} a tf:Equipment ; tf:equipmentId \"{equipment}\" ;"
             f" tf:equipmentKind \"bioreactor\" ; tf:workingVolumeLitre \"{volume}\"^^xsd:double"
             + (f" ; tf:kLaPerHour \"{kla}\"^^xsd:double" if kla is not None else "") + " .",
             f"  {p}:attribute/final_titre a skos:Concept ; skos:notation \"final_titre\" ;"
             f" skos:exactMatch tfp:titre ; tf:unitConversion {p}:conv/titre .",
             f"  {p}:conv/titre tf:fromUnit \"{unit}\" ; tf:toUnit \"g/L\" ; "
             f"tf:multiplier \"{multiplier}\"^^xsd:double ; tf:offset \"0.0\"^^xsd:double ."]
    for tag, (parameter, kind) in tags.items():
        lines.append(f"  {p}:tag/{tag} a tf:Tag ; skos:prefLabel \"{tag}\" ; tf:tagKind "
                     f"\"{kind}\" ; skos:exactMatch tfp:{parameter} .")
    lines.append("}")
    return "\n".join(lines)


def _sponsor_meta(p: str, sponsor: str, process: str, envelopes: dict[str, tuple[str, list]]
                  ) -> str:
    lines = [f"{p}:meta/sponsor/{sponsor} {{",
             f"  {p}:sponsor/{sponsor} a tf:Sponsor ; tf:sponsorCode \"{sponsor}\" .",
             f"  {p}:process/{process}/1 a tf:Process ; tf:processCode \"{process}\" ; "
             f"tf:processVersion \"1\" ."]
    for name, (tag, refs) in envelopes.items():
        derived = " , ".join(f"{p}:batch/{r}" for r in refs)
        lines.append(f"  {p}:envelope/{process}/1/{name} a tf:Envelope ; tf:ofProcess "
                     f"{p}:process/{process}/1 ; tf:ofTag {p}:tag/{tag} ; tf:sdMultiplier "
                     f"\"3.0\"^^xsd:double ; tf:referenceBatchCount {len(refs)} ; "
                     f"prov:wasDerivedFrom {derived} .")
    lines.append("}")
    return "\n".join(lines)


META = {
    A + "meta": ("SITE-A", None, _site_meta(
        "a", "SITE-A", "BR1", 2000.0, 12.0, "g/L", 1.0,
        {"TIC101": (T, "online"), "OUR": (OUR, "online"), "PH": (PH, "online"),
         "TSP": ("temperature-set-point", "setpoint")})),
    B + "meta": ("SITE-B", None, _site_meta(
        "b", "SITE-B", "R-7", 500.0, 8.0, "mg/L", 0.001,
        {"TT-1": (T, "online"), "OUR-1": (OUR, "online"), "PH-LAB": (PH, "offline")})),
    C + "meta": ("SITE-C", None, _site_meta(
        "c", "SITE-C", "V1", 200.0, None, "g/L", 1.0,
        {"T": (T, "online"), "OUR": (OUR, "online")})),
    A + "meta/sponsor/SP-X": ("SITE-A", "SP-X", _sponsor_meta(
        "a", "SP-X", "P1", {"OUR": ("OUR", ["A2", "A3"]), "TIC": ("TIC101", ["A2", "A3"])})),
    B + "meta/sponsor/SP-X": ("SITE-B", "SP-X", _sponsor_meta(
        "b", "SP-X", "P1", {"OUR": ("OUR-1", ["B2", "B3"])})),
    C + "meta/sponsor/SP-Y": ("SITE-C", "SP-Y", _sponsor_meta(
        "c", "SP-Y", "P2", {"OUR": ("OUR", ["C2"])})),
}


_SITE_NAME = re.compile(r"(?<![\w:])([abc]):([\w/.\-]*)")


def _expand(trig: str) -> str:
    """``a:batch/A1`` -> full IRI (Turtle prefixed names cannot hold ``/``)."""
    bases = {"a": A, "b": B, "c": C}
    return _SITE_NAME.sub(lambda m: f"<{bases[m.group(1)]}{m.group(2)}>", trig)


def graphs() -> dict[str, tuple[str | None, str | None, bytes]]:
    """``{graph IRI: (site, sponsor, N-Triples)}`` for every graph above."""
    found = {}
    for iri, (site, sponsor, trig) in {**BATCHES, **META}.items():
        dataset = Dataset()
        dataset.parse(data=PREFIXES + _expand(trig), format="trig")
        graph = dataset.graph(iri)
        assert len(graph) > 0, iri
        found[iri] = (site, sponsor, graph.serialize(format="nt").encode())
    return found


def load(store: Store) -> Store:
    """Write every graph with its metadata into ``store`` (as sync would) and return it."""
    data = graphs()
    store.replace_graphs(
        {iri: body for iri, (_, _, body) in data.items()},
        {iri: GraphMetadata(site=site, sponsor=sponsor,
                            kind="batch" if "/batch/" in iri else "meta")
         for iri, (site, sponsor, _) in data.items()})
    return store


def memory_store() -> Store:
    """A real in-memory Oxigraph store holding the graphs."""
    return load(open_store(None))
