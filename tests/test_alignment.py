"""A site's tags, units, quality attributes and failure-mode codes are aligned to the shared
vocabulary with its reviewed alignment file; nothing unmapped is dropped, all of it is reported,
and align-check suggests what an unmapped tag probably is."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest
from rdflib import RDF, Dataset, Graph, Literal, URIRef
from rdflib.namespace import OWL, SKOS

from bioprocess.errors import ValidationError
from federation.align import (
    Alignment,
    AlignmentError,
    TagMapping,
    UnitConversion,
    align_batch_graph,
    align_check,
    align_meta_graph,
    load_alignment,
    render,
)
from federation.align.loader import parse_alignment
from federation.align.units import conversion_between
from ontology import TF, TFFM, TFP, site_base

#: rdflib's XSD namespace object trips pytest's collection (a DefinedNamespace warning).
DOUBLE = URIRef("http://www.w3.org/2001/XMLSchema#double")
#: rdflib 7 warns about its own internal use of deprecated Dataset/ConjunctiveGraph API.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Dataset.default_context is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning"),
]
ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "bioprocess" / "profiles"
EXAMPLE_EXPORT = Path("/tmp/ex.trig")
DEMO_SITES = {"SITE-A": "site_a_basel.toml", "SITE-B": "site_b_singapore.toml",
              "SITE-C": "site_c_durham.toml"}
#: Tags each demo site's reviewer deliberately left site-local (a change here is a review).
DELIBERATELY_SITE_LOCAL = {
    "SITE-A": ["AI202.PV", "FIC701.SP", "PH_BGA", "SIC301.SP", "WI100.PV", "WI702.PV"],
    "SITE-B": ["BR5_DO102", "BR5_P301_FLOW", "BR5_P401_SP", "BR5_WT100", "BR5_WT401", "PH_OFF"],
    "SITE-C": ["DUR.SUB200.AGIT.SP", "DUR.SUB200.FEED.SP", "DUR.SUB200.FEED.TOT",
               "DUR.SUB200.WT.PV", "PH_OFFLINE"],
}


# ---------------------------------------------------------------------------------------------
# Small hand-made site graphs
# ---------------------------------------------------------------------------------------------


class Site:
    """Builds a site's meta graph and batch graphs the way the export does (docs/rdf-export.md)."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.base = site_base(code)
        self.meta = Graph()

    def iri(self, *parts: str) -> URIRef:
        return URIRef(self.base + "/".join(parts))

    def tag(self, name: str, unit: str, kind: str = "online", description: str = "") -> URIRef:
        tag = self.iri("tag", name)
        for p, o in ((RDF.type, TF.Tag), (RDF.type, SKOS.Concept), (SKOS.prefLabel, Literal(name)),
                     (TF.unitLabel, Literal(unit)), (TF.tagKind, Literal(kind))):
            self.meta.add((tag, p, o))
        if description:
            self.meta.add((tag, SKOS.definition, Literal(description)))
        return tag

    def batch(self, batch_id: str, phases: dict[str, tuple[float, float | None]]) -> Graph:
        g = Graph()
        batch = self.iri("batch", batch_id)
        g.add((batch, RDF.type, TF.Batch))
        g.add((batch, TF.batchId, Literal(batch_id)))
        g.add((batch, TF.atSite, URIRef(self.base)))
        for n, (name, (start, end)) in enumerate(phases.items()):
            phase = self.iri("batch", batch_id, "phase", str(n))
            g.add((phase, RDF.type, TF.Phase))
            g.add((phase, TF.phaseName, Literal(name)))
            g.add((phase, TF.ofBatch, batch))
            g.add((phase, TF.startHour, Literal(start, datatype=DOUBLE)))
            if end is not None:
                g.add((phase, TF.endHour, Literal(end, datatype=DOUBLE)))
        return g

    def _phase(self, g: Graph, name: str) -> URIRef:
        found = next(g.subjects(TF.phaseName, Literal(name)))
        assert isinstance(found, URIRef)
        return found

    def feature(self, g: Graph, tag: str, phase: str, stat: str, value: float,
                unit: str) -> URIRef:
        batch = next(g.subjects(RDF.type, TF.Batch))
        feature = URIRef(f"{batch}/feature/{tag}/{phase}/{stat}")
        for p, o in ((RDF.type, TF.Feature), (TF.ofBatch, batch), (TF.ofTag, self.iri("tag", tag)),
                     (TF.inPhase, self._phase(g, phase)), (TF.statistic, Literal(stat)),
                     (TF.value, Literal(value, datatype=DOUBLE)),
                     (TF.unitLabel, Literal(unit))):
            g.add((feature, p, o))
        return feature

    def event(self, g: Graph, n: int, tag: str, phase: str, direction: str,
              peak_excess: float) -> URIRef:
        batch = next(g.subjects(RDF.type, TF.Batch))
        event = URIRef(f"{batch}/event/{n}")
        for p, o in ((RDF.type, TF.DeviationEvent), (TF.ofBatch, batch),
                     (TF.ofTag, self.iri("tag", tag)), (TF.inPhase, self._phase(g, phase)),
                     (TF.direction, Literal(direction)),
                     (TF.magnitude, Literal(4.2, datatype=DOUBLE)),
                     (TF.peakExcess, Literal(peak_excess, datatype=DOUBLE))):
            g.add((event, p, o))
        return event

    def quality(self, g: Graph, attribute: str, value: float, unit: str) -> URIRef:
        batch = next(g.subjects(RDF.type, TF.Batch))
        result = URIRef(f"{batch}/quality/{attribute}")
        for p, o in ((RDF.type, TF.QualityResult), (TF.ofBatch, batch),
                     (TF.attribute, Literal(attribute)),
                     (TF.value, Literal(value, datatype=DOUBLE)),
                     (TF.unitLabel, Literal(unit))):
            g.add((result, p, o))
        return result

    def deviation(self, g: Graph, deviation_id: str, code: str, description: str = "") -> URIRef:
        batch = next(g.subjects(RDF.type, TF.Batch))
        record = URIRef(f"{batch}/deviation/{deviation_id}")
        for p, o in ((RDF.type, TF.DeviationRecord), (TF.ofBatch, batch),
                     (TF.deviationId, Literal(deviation_id)), (TF.failureModeCode, Literal(code)),
                     (URIRef("http://purl.org/dc/terms/description"), Literal(description))):
            g.add((record, p, o))
        return record


def _aligned(graph: Graph, node: URIRef) -> float:
    value = graph.value(node, TF.alignedValue)
    assert value is not None, f"{node} has no tf:alignedValue"
    assert value.datatype == DOUBLE
    return float(value)


@pytest.fixture(scope="module")
def site_b() -> Alignment:
    return load_alignment("SITE-B")


# ---------------------------------------------------------------------------------------------
# Unit conversions, checked against hand-computed values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "tag", "site_value", "expected"),
    [
        ("SITE-B", "BR5_TT101", 310.15, 37.00),  # K -> degC
        ("SITE-B", "GLUC", 20.0, 20.0 * 180.156 / 1000),  # mM -> g/L: 3.603 g/L
        ("SITE-B", "LACT", 10.0, 10.0 * 90.08 / 1000),  # mM -> g/L with lactic acid
        ("SITE-B", "BR5_DO101", 6.7, 6.7 / 6.73 * 100),  # mg/L -> % with 6.73 mg/L = 100 %
        ("SITE-B", "BR5_OUR", 36.0, 1.5),  # mmol/L/d -> mmol/L/h
        ("SITE-B", "VCD", 123.0, 12.3e6),  # 1e5 cells/mL -> cells/mL
        ("SITE-B", "IGG", 4458.0, 4.458),  # mg/L -> g/L
        ("SITE-A", "XV", 12.3, 12.3e6),  # 1e6 cells/mL -> cells/mL
        ("SITE-A", "GLN", 4.0, 4.0),  # mM -> mmol/L
        ("SITE-C", "TITRE_PROA", 3.9, 3.9),  # mg/mL -> g/L
        ("SITE-C", "PCO2_OFFLINE", 6.0, 6000 / 133.322387415),  # kPa -> mmHg: 45.0 mmHg
        ("SITE-C", "DUR.SUB200.BASE.TOT", 1250.0, 1.25),  # mL -> L
        ("SITE-C", "DUR.SUB200.AIR.PV", 2.5, 2.5),  # slpm read as L/min
    ],
)
def test_demo_alignments_convert_to_the_canonical_unit(
    site: str, tag: str, site_value: float, expected: float
) -> None:
    conversion = load_alignment(site).tags[tag].conversion
    assert conversion.level(site_value) == pytest.approx(expected, rel=1e-9)


def test_hand_computed_conversions_of_the_issue() -> None:
    assert conversion_between("K", "degC").level(310.15) == pytest.approx(37.00, abs=1e-9)
    glucose = conversion_between("mM", "g/L", molar_mass_g_per_mol=180.156)
    assert round(glucose.level(20.0), 3) == 3.603
    assert conversion_between("mL/min", "L/h").level(10.0) == pytest.approx(0.6)
    assert conversion_between("mmol/L/d", "mmol/L/h").level(24.0) == pytest.approx(1.0)
    assert conversion_between("1e5 cells/mL", "1e6 cells/mL").level(25.0) == pytest.approx(2.5)


# ---------------------------------------------------------------------------------------------
# Aligning a batch graph
# ---------------------------------------------------------------------------------------------


@pytest.fixture()
def site_b_batch() -> tuple[Site, Graph]:
    site = Site("SITE-B")
    for name, unit in (("BR5_TT101", "K"), ("GLUC", "mM"), ("BR5_DO101", "mg/L"),
                       ("BR5_WT100", "kg")):
        site.tag(name, unit)
    g = site.batch("SG1", {"growth": (0.0, 100.0), "production": (100.0, None)})
    return site, g


def test_features_are_converted_per_statistic(site_b: Alignment, site_b_batch) -> None:
    site, g = site_b_batch
    f = {stat: site.feature(g, "BR5_TT101", "growth", stat, value, unit) for stat, value, unit in (
        ("mean", 310.15, "K"), ("min", 309.15, "K"), ("max", 311.15, "K"),
        ("slope", 0.01, "K/h"), ("area", 31015.0, "K·h"), ("t_min", 5.0, "h"),
        ("t_max", 7.5, "h"), ("n", 100.0, "count"))}
    glucose_area = site.feature(g, "GLUC", "growth", "area", 200.0, "mM·h")
    glucose_slope = site.feature(g, "GLUC", "growth", "slope", -0.5, "mM/h")
    result = align_batch_graph(g, site.meta, site_b).graph

    assert _aligned(result, f["mean"]) == pytest.approx(37.0)
    assert _aligned(result, f["min"]) == pytest.approx(36.0)
    assert _aligned(result, f["max"]) == pytest.approx(38.0)
    assert _aligned(result, f["slope"]) == pytest.approx(0.01)  # a rate: no offset
    # area: m * area + c * phase duration = 31015 - 273.15 * 100 K·h = 3700 degC·h
    assert _aligned(result, f["area"]) == pytest.approx(3700.0)
    assert _aligned(result, f["t_min"]) == 5.0
    assert _aligned(result, f["n"]) == 100.0
    assert _aligned(result, glucose_area) == pytest.approx(200.0 * 0.180156)
    assert _aligned(result, glucose_slope) == pytest.approx(-0.5 * 0.180156)
    units = {stat: str(result.value(node, TF.alignedUnit)) for stat, node in f.items()}
    assert units == {"mean": "degC", "min": "degC", "max": "degC", "slope": "degC/h",
                     "area": "degC·h", "t_min": "h", "t_max": "h", "n": "count"}
    assert str(result.value(glucose_area, TF.alignedUnit)) == "(g/L)·h"
    assert all(result.value(node, TF.parameter) == TFP.temperature for node in f.values())
    # the site's own value is kept as it was sent
    assert float(result.value(f["mean"], TF.value)) == 310.15
    assert str(result.value(f["mean"], TF.unitLabel)) == "K"


def test_an_area_with_an_offset_and_an_open_phase_is_not_aligned_and_says_why(
    site_b: Alignment, site_b_batch
) -> None:
    site, g = site_b_batch
    area = site.feature(g, "BR5_TT101", "production", "area", 3000.0, "K·h")
    glucose_area = site.feature(g, "GLUC", "production", "area", 50.0, "mM·h")
    result = align_batch_graph(g, site.meta, site_b)
    assert result.graph.value(area, TF.alignedValue) is None
    assert result.graph.value(area, TF.parameter) == TFP.temperature
    assert "duration" in str(result.graph.value(area, TF.alignmentNote))
    assert any("duration" in note for note in result.notes)
    # no offset, no duration needed
    assert _aligned(result.graph, glucose_area) == pytest.approx(50.0 * 0.180156)


def test_peak_excess_of_a_deviation_event_has_no_offset(site_b: Alignment, site_b_batch) -> None:
    site, g = site_b_batch
    temperature = site.event(g, 0, "BR5_TT101", "growth", "high", 0.5)
    oxygen = site.event(g, 1, "BR5_DO101", "growth", "low", 0.673)
    result = align_batch_graph(g, site.meta, site_b).graph
    assert float(result.value(temperature, TF.alignedPeakExcess)) == pytest.approx(0.5)
    assert float(result.value(oxygen, TF.alignedPeakExcess)) == pytest.approx(10.0)
    assert str(result.value(oxygen, TF.alignedUnit)) == "%"
    assert str(result.value(oxygen, TF.alignedDirection)) == "low"
    assert result.value(oxygen, TF.parameter) == TFP["dissolved-oxygen"]


def test_a_reversing_conversion_flips_direction_and_swaps_min_and_max() -> None:
    site = Site("SITE-R")
    site.tag("VALVE", "%", kind="controller_output")
    g = site.batch("R1", {"growth": (0.0, 10.0)})
    low = site.feature(g, "VALVE", "growth", "min", 20.0, "%")
    high = site.feature(g, "VALVE", "growth", "max", 70.0, "%")
    event = site.event(g, 0, "VALVE", "growth", "high", 5.0)
    reverse_acting = TagMapping(
        "VALVE", site.iri("tag", "VALVE"), SKOS.closeMatch,
        TFP["dissolved-oxygen-controller-output"], "DO controller output",
        UnitConversion("%", "%", -1.0, 100.0, "declared in the alignment"))
    alignment = Alignment(site="SITE-R", version="7", tags={"VALVE": reverse_acting})
    result = align_batch_graph(g, site.meta, alignment).graph
    assert _aligned(result, low) == pytest.approx(30.0)  # 100 - max
    assert _aligned(result, high) == pytest.approx(80.0)  # 100 - min
    assert str(result.value(event, TF.direction)) == "high"
    assert str(result.value(event, TF.alignedDirection)) == "low"
    assert float(result.value(event, TF.alignedPeakExcess)) == pytest.approx(5.0)


def test_quality_results_failure_modes_and_version_are_aligned(
    site_b: Alignment, site_b_batch
) -> None:
    site, g = site_b_batch
    titre = site.quality(g, "final_titre", 4458.0, "mg/L")
    viability = site.quality(g, "viability_at_harvest", 73.4, "%")
    local = site.quality(g, "aggregate_pct", 2.1, "%")
    mapped = site.deviation(g, "QE-1", "FEED_PUMP_DELIVERY")
    unknown = site.deviation(g, "QE-2", "GASKET_LEAK")
    result = align_batch_graph(g, site.meta, site_b)
    graph = result.graph
    assert _aligned(graph, titre) == pytest.approx(4.458)
    assert str(graph.value(titre, TF.alignedUnit)) == "g/L"
    assert graph.value(titre, TF.parameter) == TFP.titre
    assert _aligned(graph, viability) == pytest.approx(73.4)
    assert graph.value(mapped, TF.failureMode) == TFFM["feed-pump-under-delivery"]
    assert graph.value(unknown, TF.failureMode) is None
    assert str(graph.value(unknown, TF.failureModeCode)) == "GASKET_LEAK"
    assert graph.value(local, TF.siteLocal) == Literal(True)
    assert result.unmapped_failure_modes == {"GASKET_LEAK"}
    assert result.unmapped_attributes == {"aggregate_pct"}
    batch = site.iri("batch", "SG1")
    assert str(graph.value(batch, TF.alignmentVersion)) == "1.0.0" == result.alignment_version


def test_an_unmapped_tag_is_reported_and_its_feature_kept_as_site_local(
    site_b: Alignment, site_b_batch
) -> None:
    site, g = site_b_batch
    weight = site.feature(g, "BR5_WT100", "growth", "mean", 412.0, "kg")
    before = len(g)
    result = align_batch_graph(g, site.meta, site_b)
    assert result.unmapped_tags == {"BR5_WT100"}
    assert result.graph.value(weight, TF.siteLocal) == Literal(True)
    assert float(result.graph.value(weight, TF.value)) == 412.0  # kept, not dropped
    assert result.graph.value(weight, TF.alignedValue) is None
    assert all(triple in result.graph for triple in g)  # nothing removed
    assert len(g) == before  # and the input graph is left as it was


def test_a_tag_whose_site_unit_changed_is_not_converted_with_the_old_factor(
    site_b: Alignment,
) -> None:
    site = Site("SITE-B")
    site.tag("BR5_TT101", "degC")  # the site switched to degC; the alignment says K
    g = site.batch("SG2", {"growth": (0.0, 10.0)})
    mean = site.feature(g, "BR5_TT101", "growth", "mean", 37.0, "degC")
    result = align_batch_graph(g, site.meta, site_b)
    assert result.graph.value(mean, TF.alignedValue) is None
    assert result.graph.value(mean, TF.siteLocal) == Literal(True)
    assert result.unmapped_tags == {"BR5_TT101"}
    assert "reviewed for K" in " ".join(result.notes)


def test_realigning_replaces_the_previous_aligned_statements(site_b: Alignment,
                                                             site_b_batch) -> None:
    site, g = site_b_batch
    mean = site.feature(g, "BR5_TT101", "growth", "mean", 310.15, "K")
    once = align_batch_graph(g, site.meta, site_b).graph
    twice = align_batch_graph(once, site.meta, site_b).graph
    assert len(twice) == len(once)
    assert list(twice.objects(mean, TF.alignedValue)) == list(once.objects(mean, TF.alignedValue))


def test_a_site_without_alignment_file_gets_an_empty_alignment(tmp_path: Path) -> None:
    alignment = load_alignment("SITE-NEW", tmp_path)
    assert alignment.version == "none" and alignment.is_empty
    site = Site("SITE-NEW")
    site.tag("T1", "degC")
    g = site.batch("N1", {"growth": (0.0, 5.0)})
    feature = site.feature(g, "T1", "growth", "mean", 37.0, "degC")
    result = align_batch_graph(g, site.meta, alignment)
    assert result.unmapped_tags == {"T1"}
    assert result.graph.value(feature, TF.siteLocal) == Literal(True)
    assert str(result.graph.value(site.iri("batch", "N1"), TF.alignmentVersion)) == "none"


def test_a_batch_of_another_site_is_refused(site_b: Alignment) -> None:
    site = Site("SITE-A")
    with pytest.raises(ValidationError, match="must be at .*SITE-B"):
        align_batch_graph(site.batch("X", {}), site.meta, site_b)


# ---------------------------------------------------------------------------------------------
# The meta graph
# ---------------------------------------------------------------------------------------------


def test_the_meta_graph_gains_tag_to_parameter_mappings(site_b: Alignment) -> None:
    site = Site("SITE-B")
    temperature = site.tag("BR5_TT101", "K")
    weight = site.tag("BR5_WT100", "kg")
    meta = align_meta_graph(site.meta, site_b)
    assert (temperature, SKOS.exactMatch, TFP.temperature) in meta
    assert (site.iri("tag", "BR5_DO101"), SKOS.closeMatch, TFP["dissolved-oxygen"]) not in meta
    conversion = meta.value(temperature, TF.unitConversion)
    assert float(meta.value(conversion, TF.offset)) == pytest.approx(-273.15)
    assert meta.value(weight, TF.siteLocal) == Literal(True)
    assert "broth mass" in str(meta.value(weight, TF.siteLocalReason))
    alignment = URIRef("https://w3id.org/twinfed/alignment/SITE-B")
    assert str(meta.value(alignment, OWL.versionInfo)) == "1.0.0"
    code = site.iri("failure-mode", "HIGH_LACTATE")
    assert (code, SKOS.closeMatch, TFFM["hyper-metabolic-profile"]) in meta
    query = """PREFIX tfp: <https://w3id.org/twinfed/parameter/>
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        SELECT ?tag WHERE { ?tag skos:exactMatch tfp:temperature }"""
    assert [row[0] for row in meta.query(query)] == [temperature]


# ---------------------------------------------------------------------------------------------
# The demo sites' alignment files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("site", sorted(DEMO_SITES))
def test_each_demo_site_has_every_tag_mapped_or_deliberately_site_local(site: str) -> None:
    profile = tomllib.loads((PROFILES / DEMO_SITES[site]).read_text())
    units = {t["name"]: t["unit"] for t in profile["tags"]}
    units |= {lab["code"]: lab["unit"] for lab in profile["lab"]}
    alignment = load_alignment(site)
    assert alignment.version == "1.0.0" and alignment.reviewed_by and alignment.modified
    assert sorted(alignment.local_tags) == DELIBERATELY_SITE_LOCAL[site]
    assert set(alignment.tags) | set(alignment.local_tags) == set(units)
    # every mapping was reviewed for the unit the site really reports
    assert {n: m.conversion.from_unit for n, m in alignment.tags.items()} == {
        n: u for n, u in units.items() if n in alignment.tags}
    codes = {q["failure_mode"] for q in profile["qms"].values()}
    assert set(alignment.failure_modes) == codes
    assert set(alignment.attributes) == {"final_titre", "viability_at_harvest"}
    assert alignment.attributes["final_titre"].parameter == TFP.titre


def test_the_same_failure_mode_is_reached_from_every_site() -> None:
    drift = {site: [c for c, m in load_alignment(site).failure_modes.items()
                    if m.failure_mode == TFFM["do-probe-drift"]] for site in DEMO_SITES}
    assert drift == {"SITE-A": ["IN-DO-DRIFT"], "SITE-B": ["DO_SENSOR_DRIFT"],
                     "SITE-C": ["FM-0112"]}


# ---------------------------------------------------------------------------------------------
# Malformed alignment files
# ---------------------------------------------------------------------------------------------

HEADER = """@prefix tf: <https://w3id.org/twinfed/ontology#> .
@prefix tfp: <https://w3id.org/twinfed/parameter/> .
@prefix tffm: <https://w3id.org/twinfed/failure-mode/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix tag: <https://w3id.org/twinfed/site/SITE-T/tag/> .
"""
RESOURCE = """<https://w3id.org/twinfed/alignment/SITE-T> a tf:Alignment ;
    tf:forSiteCode "SITE-T" ; owl:versionInfo "2.1" ; dcterms:modified "2026-01-01"^^xsd:date ;
    tf:reviewedBy "QA" .
"""


def test_a_well_formed_small_alignment_loads() -> None:
    text = HEADER + RESOURCE + """
tag:T skos:exactMatch tfp:temperature ;
    tf:unitConversion [ tf:fromUnit "degF" ] .
"""
    alignment = parse_alignment(text, "SITE-T")
    assert alignment.version == "2.1"
    assert alignment.tags["T"].conversion.level(98.6) == pytest.approx(37.0)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("tag:T skos:exactMatch tfp:temperature ;\n  tf:unitConversion [ tf:fromUnit \"K\" ] \n"
         "tag:U skos:exactMatch tfp:ph .\n", r"SITE-T\.ttl:15: the file is not valid Turtle"),
        ("tag:T skos:exactMatch tfp:temprature ;\n  tf:unitConversion [ tf:fromUnit \"K\" ] .\n",
         r"SITE-T\.ttl:13: tag T is mapped to tfp:temprature, which is not a parameter"),
        ("tag:T skos:exactMatch tffm:sparger-fouling ;\n"
         "  tf:unitConversion [ tf:fromUnit \"K\" ] .\n", r":13: tag T is mapped to tffm:"),
        ("tag:T skos:exactMatch tfp:temperature ;\n  tf:unitConvertion [ tf:fromUnit \"K\" ] .\n",
         r":14: tf:unitConvertion is not a term of the shared ontology"),
        ("tag:T skos:exactMatch tfp:temperature .\n", r":13: tag T .* has no tf:unitConversion"),
        ("tag:T skos:exactMatch tfp:temperature ;\n"
         "  tf:unitConversion [ tf:fromUnit \"K\" ; tf:offset 273.15 ] .\n",
         r":13: tag T: declares tf:offset 273.15 but"),
        ("tag:T skos:exactMatch tfp:glucose ;\n  tf:unitConversion [ tf:fromUnit \"kg\" ] .\n",
         r"tag T .*kg.* cannot be converted to g/L"),
        ("tag:D skos:exactMatch tfp:dissolved-oxygen ;\n"
         "  tf:unitConversion [ tf:fromUnit \"mg/L\" ] .\n", r"air-saturation concentration"),
        ("tag:T skos:relatedMatch tfp:temperature .\n", r"relatedMatch, which does not say"),
        ("tag:T skos:exactMatch tfp:temperature , tfp:ph ;\n"
         "  tf:unitConversion [ tf:fromUnit \"degC\" ] .\n", r"mapped twice"),
        ("<https://w3id.org/twinfed/site/SITE-X/tag/T> skos:exactMatch tfp:ph ;\n"
         "  tf:unitConversion [ tf:fromUnit \"pH\" ] .\n", r"not a tag, quality attribute"),
    ],
)
def test_a_malformed_alignment_gives_an_error_naming_file_line_and_term(
    tmp_path: Path, body: str, message: str
) -> None:
    (tmp_path / "SITE-T.ttl").write_text(HEADER + RESOURCE + "\n" + body)
    with pytest.raises(AlignmentError, match=message):
        load_alignment("SITE-T", tmp_path)


def test_an_alignment_without_version_or_for_another_site_is_refused() -> None:
    without_version = RESOURCE.replace('owl:versionInfo "2.1" ;', "")
    with pytest.raises(AlignmentError, match=r"must state its version \(owl:versionInfo\)"):
        parse_alignment(HEADER + without_version, "SITE-T")
    with pytest.raises(AlignmentError, match="must align SITE-Z; its tf:forSiteCode is 'SITE-T'"):
        parse_alignment(HEADER + RESOURCE, "SITE-Z")


# ---------------------------------------------------------------------------------------------
# align-check
# ---------------------------------------------------------------------------------------------


def _site_a_with_a_new_probe(batches: int) -> tuple[Site, list[Graph]]:
    site = Site("SITE-A")
    site.tag("AIC201.PV", "%", description="Dissolved oxygen, control probe")
    site.tag("AIC201.SP", "%", kind="setpoint", description="Dissolved oxygen set point")
    site.tag("VIAB", "%", kind="offline", description="Viability (Vi-CELL)")
    site.tag("DO_PROBE_3", "%")  # new, renamed copy of the DO probe: no description
    graphs = []
    for n in range(batches):
        g = site.batch(f"B{n}", {"growth": (0.0, 120.0), "production": (120.0, 300.0)})
        for phase, level in (("growth", 41.0), ("production", 38.0)):
            site.feature(g, "AIC201.PV", phase, "mean", level + 0.3 * n, "%")
            site.feature(g, "DO_PROBE_3", phase, "mean", level + 0.3 * n - 0.2, "%")
            site.feature(g, "AIC201.SP", phase, "mean", 40.0, "%")
            site.feature(g, "VIAB", phase, "mean", 95.0 - 10 * (phase == "production"), "%")
        graphs.append(g)
    return site, graphs


def test_align_check_ranks_the_right_parameter_first_for_a_renamed_tag() -> None:
    site, graphs = _site_a_with_a_new_probe(batches=4)
    report = align_check("SITE-A", site.meta, load_alignment("SITE-A"), graphs)
    assert [i.name for i in report.items("tag")] == ["DO_PROBE_3"]
    item = report.items("tag")[0]
    assert not item.reviewed
    best = item.suggestions[0]
    assert best.target == TFP["dissolved-oxygen"]
    assert best.score > 0.8 and best.score > item.suggestions[1].score + 0.2
    assert "name matches 'DO'" in best.reason and "similarity" in best.reason
    assert "distribution compared on 8 feature means" in item.distribution_note
    text = render(report)
    assert "DO_PROBE_3" in text and "tfp:dissolved-oxygen" in text


def test_align_check_explains_when_no_data_are_available() -> None:
    site, _ = _site_a_with_a_new_probe(batches=0)
    report = align_check("SITE-A", site.meta, load_alignment("SITE-A"))
    item = report.items("tag")[0]
    assert item.suggestions[0].target == TFP["dissolved-oxygen"]
    assert item.distribution_note == "no distribution check: no batch graphs were given"
    assert "similarity" not in item.suggestions[0].reason


def test_align_check_lists_reviewed_site_local_tags_codes_and_attributes() -> None:
    site = Site("SITE-A")
    site.tag("WI100.PV", "kg", description="Bioreactor weight (broth)")
    site.tag("TIC101.PV", "K", description="Broth temperature")  # unit changed at the site
    g = site.batch("B1", {"growth": (0.0, 100.0)})
    site.deviation(g, "DEV-1", "IN-DO-DRIFT2", "DO probe drifted against the redundant probe")
    site.quality(g, "final_titre", 5.1, "g/L")
    site.quality(g, "host_cell_protein", 80.0, "ng/mg")
    report = align_check("SITE-A", site.meta, load_alignment("SITE-A"), [g])
    weight = report.items("tag")[0]
    assert weight.name == "WI100.PV" and weight.reviewed and "broth mass" in (
        weight.site_local_reason or "")
    code = report.items("failure mode")[0]
    assert code.name == "IN-DO-DRIFT2"
    assert code.suggestions[0].target == TFFM["do-probe-drift"]
    assert [i.name for i in report.items("quality attribute")] == ["host_cell_protein"]
    assert report.unit_mismatches and "TIC101.PV" in report.unit_mismatches[0]
    assert "AIC201.PV" in report.stale_mappings
    text = render(report)
    assert "Reviewed and kept site-local" in text and "IN-DO-DRIFT2" in text


# ---------------------------------------------------------------------------------------------
# A real SITE-B export, when one is at hand
# ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(not EXAMPLE_EXPORT.exists(), reason="no example export at /tmp/ex.trig")
def test_a_real_site_b_export_aligns_with_plausible_values(site_b: Alignment) -> None:
    dataset = Dataset()
    dataset.parse(EXAMPLE_EXPORT, format="trig")
    base = site_base("SITE-B")
    meta = Graph()
    meta += dataset.graph(URIRef(base + "meta"))
    batch_iri = next(g.identifier for g in dataset.graphs() if "/batch/" in str(g.identifier))
    batch = Graph()
    batch += dataset.graph(batch_iri)
    result = align_batch_graph(batch, meta, site_b)
    assert result.unmapped_tags <= set(DELIBERATELY_SITE_LOCAL["SITE-B"])
    assert not result.unmapped_attributes and not result.unmapped_failure_modes
    ranges = {TFP.temperature: (30.0, 40.0), TFP["dissolved-oxygen"]: (0.0, 150.0),
              TFP.ph: (6.5, 7.5), TFP.glucose: (0.0, 10.0), TFP["oxygen-uptake-rate"]: (0.0, 10.0)}
    checked = 0
    for feature in result.graph.subjects(TF.statistic, Literal("mean")):
        parameter = result.graph.value(feature, TF.parameter)
        if parameter in ranges:
            low, high = ranges[parameter]
            value = _aligned(result.graph, feature)
            assert low <= value <= high and math.isfinite(value), (feature, value)
            checked += 1
    assert checked >= 10
