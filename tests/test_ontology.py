"""The shared ontology parses, declares and explains every term that exports, shapes and the export
contract use, and an RDFS closure of an export puts no resource in two disjoint classes."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import owlrl
import pytest
from rdflib import Dataset, Graph, Literal, Namespace, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from ontology import (
    ONTOLOGY_FILES,
    ONTOLOGY_VERSION,
    QUDT,
    TF,
    TFFM,
    TFP,
    UNIT,
    load_ontology,
    ontology_text,
    site_base,
)
from shapes import SHAPES_NAMES, load_shapes

#: rdflib 7 warns about its own internal use of deprecated Dataset/ConjunctiveGraph API.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Dataset.default_context is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning"),
]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "tests" / "shape_examples"
SHARED_NAMESPACES = (str(TF), str(TFP), str(TFFM))
QUANTITY_KINDS = "http://qudt.org/vocab/quantitykind/"
SITE = "https://w3id.org/twinfed/site/SITE-A/"
SOSA = Namespace("http://www.w3.org/ns/sosa/")


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return load_ontology()


@pytest.fixture(scope="module")
def declared(ontology: Graph) -> set[URIRef]:
    return {s for s in ontology.subjects(RDF.type, None) if isinstance(s, URIRef)}


def _shared_terms(triples: Iterable[tuple]) -> set[URIRef]:
    found = set()
    for triple in triples:
        for term in triple[:3]:
            for candidate in (term, getattr(term, "datatype", None)):
                if isinstance(candidate, URIRef) and str(candidate).startswith(SHARED_NAMESPACES):
                    found.add(candidate)
    return found


def _example_export() -> Dataset:
    dataset = Dataset()
    dataset.parse(EXAMPLES / "valid-export.trig", format="trig")
    dataset.parse(EXAMPLES / "valid-package.trig", format="trig")
    return dataset


# ---------------------------------------------------------------------------------------------
# Parsing and declarations
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("filename", ONTOLOGY_FILES)
def test_each_ontology_file_parses_and_states_its_version(filename: str) -> None:
    graph = Graph().parse(data=ontology_text(filename), format="turtle")
    ontologies = list(graph.subjects(RDF.type, OWL.Ontology))
    assert len(ontologies) == 1
    assert graph.value(ontologies[0], OWL.versionInfo) == Literal(ONTOLOGY_VERSION)
    assert graph.value(ontologies[0], OWL.versionIRI) is not None


def test_load_ontology_holds_all_three_files(ontology: Graph) -> None:
    assert (TF.Batch, RDF.type, OWL.Class) in ontology
    assert (TFP.glucose, RDF.type, TF.Parameter) in ontology
    assert (TFFM["sparger-fouling"], RDF.type, TF.FailureMode) in ontology


def test_every_shared_term_used_by_the_shapes_is_declared(declared: set[URIRef]) -> None:
    used = set().union(*(_shared_terms(load_shapes(name)) for name in SHAPES_NAMES))
    assert used, "the shapes use no tf: term at all?"
    assert sorted(used - declared) == []


def test_every_shared_term_used_by_the_example_exports_is_declared(declared: set[URIRef]) -> None:
    used = _shared_terms(_example_export().quads((None, None, None, None)))
    for patch in sorted(EXAMPLES.glob("broken*/*.ru")):
        text = patch.read_text()
        used |= {TF[name] for name in re.findall(r"\btf:([A-Za-z][A-Za-z0-9]*)", text)}
    assert sorted(used - declared) == []


def test_every_tf_term_of_the_export_contract_is_declared(declared: set[URIRef]) -> None:
    contract = (ROOT / "docs" / "rdf-export.md").read_text()
    used = {TF[name] for name in re.findall(r"`tf:([A-Za-z][A-Za-z0-9]*)", contract)}
    assert len(used) > 40
    assert sorted(used - declared) == []


def test_every_declared_term_has_a_label_and_a_definition(ontology: Graph) -> None:
    terms = {
        s
        for s in ontology.subjects(RDF.type, None)
        if isinstance(s, URIRef) and str(s).startswith(SHARED_NAMESPACES)
    }
    assert len(terms) > 100
    unlabelled = [t for t in terms if not any(ontology.objects(t, RDFS.label)) and not any(
        ontology.objects(t, SKOS.prefLabel))]
    undefined = [t for t in terms if not any(ontology.objects(t, SKOS.definition)) and not any(
        ontology.objects(t, RDFS.comment))]
    assert sorted(unlabelled) == []
    assert sorted(undefined) == []


def test_classes_and_properties_are_aligned_to_public_ontologies(ontology: Graph) -> None:
    assert (TF.Export, RDFS.subClassOf, URIRef("http://www.w3.org/ns/prov#Activity")) in ontology
    assert (TF.SoftSensorModel, RDFS.subClassOf, SOSA.Sensor) in ontology
    assert (TF.Observation, RDFS.subClassOf, SOSA.Observation) in ontology
    assert (TF.KnowledgePackage, RDFS.subClassOf, URIRef("http://www.w3.org/ns/dcat#Dataset")) in (
        ontology
    )
    iof = "https://spec.industrialontologies.org/ontology/"
    aligned_to_iof = {
        s for s, o in ontology.subject_objects(SKOS.closeMatch) if str(o).startswith(iof)
    }
    expected = {TF.Batch, TF.DeviationEvent, TF.DeviationRecord, TF.CAPA, TF.Equipment}
    assert expected <= aligned_to_iof


# ---------------------------------------------------------------------------------------------
# Parameters and failure modes
# ---------------------------------------------------------------------------------------------


def test_every_parameter_has_a_quantity_kind_a_canonical_unit_and_a_unit_label(
    ontology: Graph,
) -> None:
    parameters = set(ontology.subjects(RDF.type, TF.Parameter))
    declared_units = set(ontology.subjects(RDF.type, QUDT.Unit))
    problems = []
    for parameter in sorted(parameters):
        kind = ontology.value(parameter, QUDT.hasQuantityKind)
        unit = ontology.value(parameter, TF.canonicalUnit)
        if not str(kind).startswith(QUANTITY_KINDS):
            problems.append(f"{parameter}: quantity kind {kind}")
        if not (str(unit).startswith(str(UNIT)) or unit in declared_units):
            problems.append(f"{parameter}: canonical unit {unit}")
        if not isinstance(ontology.value(parameter, TF.unitLabel), Literal):
            problems.append(f"{parameter}: no unit label")
        if (parameter, SKOS.inScheme, TFP.scheme) not in ontology:
            problems.append(f"{parameter}: not in tfp:scheme")
        if (parameter, RDF.type, SKOS.Concept) not in ontology:
            problems.append(f"{parameter}: not a skos:Concept")
    assert problems == []


def test_the_parameter_vocabulary_covers_common_cell_culture_variables(ontology: Graph) -> None:
    required = [
        "dissolved-oxygen", "oxygen-uptake-rate", "carbon-dioxide-evolution-rate", "ph",
        "temperature", "temperature-set-point", "viable-cell-density", "total-cell-density",
        "viability", "glucose", "glutamine", "glutamate", "lactate", "ammonia", "titre",
        "osmolality", "pco2", "volume", "feed-volume", "feed-rate", "base-addition", "agitation",
        "air-flow", "oxygen-flow", "co2-flow", "dissolved-oxygen-controller-output",
        "ph-controller-output", "temperature-controller-output",
    ]
    parameters = set(ontology.subjects(RDF.type, TF.Parameter))
    assert sorted(TFP[name] for name in required if TFP[name] not in parameters) == []


def test_metabolites_carry_the_molar_mass_for_mmol_to_gram_conversion(ontology: Graph) -> None:
    expected = {"glucose": 180.156, "lactate": 90.08, "glutamine": 146.14, "glutamate": 147.13,
                "ammonia": 17.031}
    found = {name: ontology.value(TFP[name], TF.molarMass) for name in expected}
    assert {name: value.toPython() for name, value in found.items()} == expected
    # 1 g/L glucose is 5.55 mmol/L
    assert 1000 / found["glucose"].toPython() == pytest.approx(5.5507, abs=1e-4)


def test_every_failure_mode_sits_under_one_of_four_categories(ontology: Graph) -> None:
    categories = set(ontology.objects(TFFM.scheme, SKOS.hasTopConcept))
    assert categories == {TFFM[c] for c in ("equipment", "sensor", "raw-material",
                                            "process-biological")}
    modes = set(ontology.subjects(RDF.type, TF.FailureMode)) - categories
    orphans = [m for m in modes if not set(ontology.objects(m, SKOS.broader)) & categories]
    assert sorted(orphans) == []
    expected = [
        "do-probe-drift", "do-probe-lag", "ph-probe-offset", "sparger-fouling",
        "feed-pump-under-delivery", "temperature-excursion", "poor-media-lot", "agitation-failure",
        "base-pump-failure", "hyper-metabolic-profile", "contamination",
    ]
    assert sorted(TFFM[m] for m in expected if TFFM[m] not in modes) == []
    assert ontology.value(TFFM["sparger-fouling"], SKOS.broader) == TFFM.equipment
    assert ontology.value(TFFM["do-probe-drift"], SKOS.broader) == TFFM.sensor


def test_site_base_escapes_the_site_code() -> None:
    assert site_base("SITE-A") == SITE
    assert site_base("Site A/β") == "https://w3id.org/twinfed/site/Site%20A%2F%CE%B2/"
    assert site_base("a.b_c~d") == "https://w3id.org/twinfed/site/a.b_c~d/"
    with pytest.raises(ValueError, match="non-empty"):
        site_base("")


# ---------------------------------------------------------------------------------------------
# RDFS reasoning: no resource ends up in two disjoint classes
# ---------------------------------------------------------------------------------------------


def _disjoint_pairs(ontology: Graph) -> set[frozenset[URIRef]]:
    pairs = {frozenset(pair) for pair in ontology.subject_objects(OWL.disjointWith)}
    for group in ontology.subjects(RDF.type, OWL.AllDisjointClasses):
        members = list(ontology.items(ontology.value(group, OWL.members)))
        pairs |= {frozenset(pair) for pair in itertools.combinations(members, 2)}
    return pairs


def _rdfs_closure(ontology: Graph, data: Iterable[tuple]) -> Graph:
    graph = Graph()
    graph += ontology
    for s, p, o, *_ in data:
        graph.add((s, p, o))
    owlrl.DeductiveClosure(owlrl.RDFS_Semantics, axiomatic_triples=False).expand(graph)
    return graph


def _clashes(closure: Graph, pairs: set[frozenset[URIRef]]) -> list[tuple[str, list[str]]]:
    clashes = []
    for resource in set(closure.subjects(RDF.type, None)):
        types = set(closure.objects(resource, RDF.type))
        bad = [sorted(map(str, p)) for p in pairs if p <= types]
        if bad:
            clashes.append((str(resource), bad))
    return sorted(clashes)


def test_rdfs_closure_of_an_export_puts_no_resource_in_two_disjoint_classes(
    ontology: Graph,
) -> None:
    pairs = _disjoint_pairs(ontology)
    assert frozenset({TF.Batch, TF.Equipment}) in pairs
    closure = _rdfs_closure(ontology, _example_export().quads((None, None, None, None)))
    assert _clashes(closure, pairs) == []
    # the closure did reason: subclass and domain/range entailments are there
    feature = URIRef(SITE + "batch/B-0003/feature/DO101.PV/growth/mean")
    assert (feature, RDF.type, SOSA.Observation) in closure
    assert (URIRef(SITE + "envelope/P-1/1/DO101.PV"), RDF.type, TF.Envelope) in closure


def test_the_disjointness_check_catches_equipment_described_as_a_batch(ontology: Graph) -> None:
    equipment = URIRef(SITE + "equipment/BR-200-1")
    mistake = [(equipment, TF.batchId, Literal("B-0003"))]  # tf:batchId has domain tf:Batch
    closure = _rdfs_closure(
        ontology, itertools.chain(_example_export().quads((None, None, None, None)), mistake)
    )
    clashes = _clashes(closure, _disjoint_pairs(ontology))
    assert clashes == [(str(equipment), [sorted([str(TF.Batch), str(TF.Equipment)])])]


# ---------------------------------------------------------------------------------------------
# docs/ontology.md is generated from the Turtle and kept current
# ---------------------------------------------------------------------------------------------

GENERATOR = ROOT / "scripts" / "gen_ontology_doc.py"


def test_docs_ontology_md_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr


def test_the_doc_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "ontology.md"
    stale.write_text("# an old version\n")
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check", "--output", str(stale)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert "is out of date with ontology/*.ttl" in result.stderr
    assert stale.read_text() == "# an old version\n"
