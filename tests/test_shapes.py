"""Exports and knowledge packages are checked against the SHACL shapes, and every failure reads as
one plain sentence: which node, which property, what was found, what was expected.

Each shape has a passing example (tests/shape_examples/valid-*.trig) and at least one failing
variant (a SPARQL update under broken*/ applied to it) whose exact sentence is asserted here.
"""

from __future__ import annotations

from pathlib import Path

import pyshacl
import pytest
from rdflib import Dataset, Graph, URIRef
from rdflib.namespace import RDF, SH

from ontology import TF
from shapes import (
    FAST_SETTINGS,
    SHAPES_NAMES,
    ValidationReport,
    load_shapes,
    validate,
)

#: rdflib 7 warns about its own internal use of deprecated Dataset/ConjunctiveGraph API.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Dataset.default_context is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning"),
]

EXAMPLES = Path(__file__).parent / "shape_examples"
SITE = "https://w3id.org/twinfed/site/SITE-A/"
BATCH = SITE + "batch/B-0003"
PACKAGE = "https://w3id.org/twinfed/federation/package/P-1-SITE-A-to-SITE-B/1"
EXPORT = SITE + "export/6f1c1f0e-4d7a-4c1e-9a53-0d2a3b1e7f10"
FEATURE = BATCH + "/feature/DO101.PV/growth/mean"
RECORD = BATCH + "/deviation/DEV-2026-0142"

#: (variant under broken/, the one sentence its report must read)
BROKEN_EXPORTS = [
    ("event-without-phase",
     f"Deviation event <{BATCH}/event/1> has no phase (tf:inPhase): "
     "expected exactly 1 value, found 0."),
    ("batch-with-two-sites",
     f"Batch <{BATCH}> has more than one site (tf:atSite): expected exactly 1 value, found 2."),
    ("negative-magnitude",
     f"Deviation event <{BATCH}/event/1> has a magnitude out of range (tf:magnitude): "
     "expected a value of at least 0, found -1.5."),
    ("magnitude-as-string",
     f"Deviation event <{BATCH}/event/1> has a magnitude of the wrong datatype (tf:magnitude): "
     'expected a literal of type xsd:double, found "large" (xsd:string).'),
    ("tag-kind-not-allowed",
     f"Tag <{SITE}tag/GLC> has a tag kind outside the allowed values (tf:tagKind): expected "
     'one of "online", "offline", "setpoint", "controller_output", found "calculated".'),
    ("tag-not-a-skos-concept",
     f"Tag <{SITE}tag/GLC> is not typed skos:Concept: "
     "expected a resource also typed skos:Concept, found types tf:Tag."),
    ("tag-scheme-without-label",
     f"Tag scheme <{SITE}tags> has no label (rdfs:label): expected at least 1 value, found 0."),
    ("site-without-code",
     f"Site <{SITE}> has no site code (tf:siteCode): expected exactly 1 value, found 0."),
    ("sponsor-without-code",
     f"Sponsor <{SITE}sponsor/SP-1> has no sponsor code (tf:sponsorCode): "
     "expected exactly 1 value, found 0."),
    ("product-of-unknown-sponsor",
     f"Product <{SITE}product/mAb-1> has an owning sponsor that is not a tf:Sponsor "
     f"(tf:ownedBy): expected a resource typed tf:Sponsor, found <{SITE}sponsor/SP-9>, "
     "which has no type in the data."),
    ("process-without-version",
     f"Process <{SITE}process/P-1/1> has no process version (tf:processVersion): "
     "expected exactly 1 value, found 0."),
    ("equipment-with-zero-volume",
     f"Equipment <{SITE}equipment/BR-200-1> has a working volume out of range "
     "(tf:workingVolumeLitre): expected a value greater than 0, found 0.0."),
    ("batch-revision-zero",
     f"Batch <{BATCH}> has a site revision out of range (tf:siteRevision): "
     "expected a value of at least 1, found 0."),
    ("batch-start-is-a-date",
     f"Batch <{BATCH}> has a start time of the wrong datatype (tf:startTime): "
     "expected a literal of type xsd:dateTime, found 2026-03-01 (xsd:date)."),
    ("batch-raw-data-as-text",
     f"Batch <{BATCH}> has a raw-data link of the wrong kind (tf:rawData): expected an IRI, "
     'found "http://127.0.0.1:8001/batches/B-0003" (xsd:string).'),
    ("unit-operation-uses-unknown-equipment",
     f"Unit operation <{BATCH}/uo/1> has an equipment that is not a tf:Equipment "
     f"(tf:usesEquipment): expected a resource typed tf:Equipment, found "
     f"<{SITE}equipment/BR-999>, which has no type in the data."),
    ("phase-ends-before-it-starts",
     f"Phase <{BATCH}/phase/1> has a start hour greater than its end hour (tf:startHour): "
     "expected a value of at most 96.0 (tf:endHour), found 100.0."),
    ("indicator-value-without-equipment",
     f"Equipment indicator value <{BATCH}/equipment/BR-200-1/kla_reference> has no equipment "
     "(tf:aboutEquipment): expected exactly 1 value, found 0."),
    ("drift-event-on-three-batches",
     f"Equipment drift event <{BATCH}/equipment-drift/BR-200-1/kla_reference> has too few "
     "evidence values (tf:evidence): expected at least 4 values, found 3."),
    ("feature-value-nan",
     f"Feature <{FEATURE}> has a value out of range (tf:value): "
     "expected a finite number (not NaN or infinite), found NaN."),
    ("envelope-without-reference-batches",
     f"Envelope <{SITE}envelope/P-1/1/DO101.PV> has no reference batch (prov:wasDerivedFrom): "
     "expected at least 1 value, found 0."),
    ("summary-negative-spe",
     f"Batch evolution summary <{BATCH}/mvda> has an SPE out of range (tf:spe): "
     "expected a value of at least 0, found -0.2."),
    ("deviation-record-without-opening-time",
     f"Deviation record <{RECORD}> has no opening time (tf:openedAt): "
     "expected exactly 1 value, found 0."),
    ("root-cause-as-number",
     f"Deviation record <{RECORD}> has a root cause of the wrong kind (tf:rootCause): expected "
     "a literal of type xsd:string or a resource typed tf:RootCause, found 42 (xsd:integer)."),
    ("capa-effective-as-text",
     f"CAPA <{BATCH}/capa/CAPA-77> has an effectiveness of the wrong datatype (tf:effective): "
     'expected a literal of type xsd:boolean, found "yes" (xsd:string).'),
    ("quality-result-without-unit",
     f"Quality result <{BATCH}/quality/final_titre> has no unit (tf:unitLabel): "
     "expected exactly 1 value, found 0."),
    ("estimate-without-model",
     f"Estimate <{BATCH}/estimate/GLC/1> has no model (tf:fromModel): "
     "expected exactly 1 value, found 0."),
    ("model-without-training-batches",
     "Soft-sensor model <https://w3id.org/twinfed/site/SITE-A/model/glc-pls/1> has no training "
     "batches (prov:wasDerivedFrom): expected at least 1 value, found 0."),
    ("export-without-software-version",
     f"Export <{EXPORT}> has no software version (tf:softwareVersion): "
     "expected exactly 1 value, found 0."),
    ("recommendation-without-twin-run",
     f"Set-point recommendation <{BATCH}/recommendation/r1> has no twin run "
     "(prov:wasGeneratedBy): expected exactly 1 value, found 0."),
    ("change-proposed-as-text",
     f"Set-point change <{BATCH}/recommendation/r1/change/temp_shift_h> has a proposed value "
     "of the wrong datatype (tf:proposedValue): expected a literal of type xsd:double, "
     'found "144 h" (xsd:string).'),
]

BROKEN_PACKAGES = [
    ("package-to-itself",
     f"Knowledge package <{PACKAGE}> has a sending site that is also its receiving site "
     "(tf:sendingSite): expected a value different from its receiving site (tf:receivingSite), "
     f"found <{SITE}>."),
    ("package-without-parts",
     f"Knowledge package <{PACKAGE}> has no part (dcterms:hasPart): "
     "expected at least 1 value, found 0."),
    ("part-without-title",
     f"Package part <{PACKAGE}/parameters> has no part title (dcterms:title): "
     "expected exactly 1 value, found 0."),
    ("recipe-phase-without-order",
     f"Recipe phase <{PACKAGE}/recipe/growth> has no phase order (tf:phaseOrder): "
     "expected exactly 1 value, found 0."),
    ("set-point-without-batches",
     f"Set point <{PACKAGE}/recipe/growth/set-point/temperature-set-point> has no source batch "
     "(prov:wasDerivedFrom): expected at least 1 value, found 0."),
    ("range-without-batches",
     f"Transferred parameter <{PACKAGE}/parameter/glucose/growth> has no source batch "
     "(prov:wasDerivedFrom): expected at least 3 values, found 0."),
    ("range-lower-above-upper",
     f"Transferred parameter <{PACKAGE}/parameter/glucose/growth> has a lower limit greater "
     "than its upper limit (tf:lowerLimit): expected a value of at most 4.4 (tf:upperLimit), "
     "found 5.0."),
    ("comparison-unknown-aspect",
     f"Equipment comparison <{PACKAGE}/equipment/scale> has an aspect outside the allowed "
     'values (tf:aspect): expected one of "scale", "kLa", "mixing", "sensors", "instruments", '
     'found "colour".'),
    ("whatif-negative-titre",
     f"What-if scenario <{PACKAGE}/whatif/1> has a predicted titre out of range "
     "(tf:predictedTitre): expected a value of at least 0, found -1.0."),
    ("risk-without-evidence",
     f"Transfer risk <{PACKAGE}/risk/1> has no evidence (prov:wasDerivedFrom): "
     "expected at least 1 value, found 0."),
]


def example(name: str, patch: str | None = None) -> Dataset:
    """An example dataset, optionally with one of the broken variants applied."""
    dataset = Dataset()
    dataset.parse(EXAMPLES / name, format="trig")
    if patch is not None:
        dataset.update((EXAMPLES / patch).read_text())
    return dataset


@pytest.fixture(scope="module")
def broken_reports() -> dict[str, ValidationReport]:
    """Every broken variant validated once (the tests below read from here)."""
    reports = {}
    for name, _ in BROKEN_EXPORTS:
        reports[name] = validate(example("valid-export.trig", f"broken/{name}.ru"))
    for name, _ in BROKEN_PACKAGES:
        data = example("valid-package.trig", f"broken-package/{name}.ru")
        reports[name] = validate(data, "knowledge-package")
    return reports


# ---------------------------------------------------------------------------------------------
# Passing examples
# ---------------------------------------------------------------------------------------------


def test_a_valid_export_conforms() -> None:
    report = validate(example("valid-export.trig"))
    assert report.conforms
    assert report.violations == []
    assert report.text == ""
    assert str(report) == "The data conforms to the site-export shapes."


def test_a_valid_knowledge_package_conforms() -> None:
    report = validate(example("valid-package.trig"), "knowledge-package")
    assert report.conforms, report.text


# ---------------------------------------------------------------------------------------------
# Failing examples: one plain sentence each
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "sentence"), BROKEN_EXPORTS, ids=[n for n, _ in BROKEN_EXPORTS])
def test_a_broken_export_is_refused_with_a_plain_sentence(
    broken_reports: dict[str, ValidationReport], name: str, sentence: str
) -> None:
    report = broken_reports[name]
    assert not report.conforms
    assert report.text == sentence


@pytest.mark.parametrize(("name", "sentence"), BROKEN_PACKAGES, ids=[n for n, _ in BROKEN_PACKAGES])
def test_a_broken_knowledge_package_is_refused_with_a_plain_sentence(
    broken_reports: dict[str, ValidationReport], name: str, sentence: str
) -> None:
    report = broken_reports[name]
    assert not report.conforms
    assert report.text == sentence


def test_every_node_shape_has_a_failing_example(
    broken_reports: dict[str, ValidationReport],
) -> None:
    failed = {v.subject for report in broken_reports.values() for v in report.violations}
    named = set()
    for name in SHAPES_NAMES:
        shapes = load_shapes(name)
        named |= {str(shapes.value(s, SH.name)) for s in shapes.subjects(RDF.type, SH.NodeShape)}
    assert len(named) >= 20
    assert sorted(named - failed) == []


def test_a_violation_names_node_property_value_and_shape(
    broken_reports: dict[str, ValidationReport],
) -> None:
    (violation,) = broken_reports["event-without-phase"].violations
    assert violation.focus_node == URIRef(f"{BATCH}/event/1")
    assert violation.path == TF.inPhase
    assert violation.value is None
    assert violation.severity == "Violation"
    assert violation.component == "MinCount"
    assert violation.shape == URIRef("https://w3id.org/twinfed/shapes/site-export#DeviationEvent-inPhase")
    assert violation.message.startswith("Less than 1 values")
    (wrong,) = broken_reports["magnitude-as-string"].violations
    assert (wrong.path, str(wrong.value), wrong.component) == (TF.magnitude, "large", "Datatype")


def test_the_report_summarises_before_its_sentences(
    broken_reports: dict[str, ValidationReport],
) -> None:
    report = broken_reports["event-without-phase"]
    assert str(report) == (
        "The data does not conform to the site-export shapes: 1 violation.\n" + report.text
    )


def test_an_unknown_statistic_is_a_warning_that_does_not_fail_the_export() -> None:
    report = validate(example("valid-export.trig", "broken/feature-unknown-statistic.ru"))
    assert report.conforms
    (warning,) = report.violations
    assert warning.severity == "Warning"
    assert report.text == (
        f"Warning: Feature <{FEATURE}> has a statistic outside the known values (tf:statistic): "
        'expected one of "n", "mean", "min", "max", "slope", "area", "t_min", "t_max", '
        'found "p95".'
    )
    assert str(report).startswith("The data conforms to the site-export shapes: 1 warning.")


def test_several_problems_are_all_reported_in_a_stable_order() -> None:
    data = example("valid-export.trig", "broken/event-without-phase.ru")
    data.update((EXAMPLES / "broken" / "negative-magnitude.ru").read_text())
    data.update((EXAMPLES / "broken" / "site-without-code.ru").read_text())
    report = validate(data)
    assert [(v.focus_node, v.path) for v in report.violations] == [
        (URIRef(SITE), TF.siteCode),
        (URIRef(f"{BATCH}/event/1"), TF.inPhase),
        (URIRef(f"{BATCH}/event/1"), TF.magnitude),
    ]
    assert report.text.count("\n") == 2


# ---------------------------------------------------------------------------------------------
# What gets validated, and how
# ---------------------------------------------------------------------------------------------


def test_named_graphs_are_validated_as_one_union() -> None:
    data = example("valid-export.trig")
    batch_graph = Graph()
    for s, p, o in data.graph(URIRef(BATCH)):
        batch_graph.add((s, p, o))
    # Alone, the batch graph links to tags, envelopes and equipment it does not describe ...
    alone = validate(batch_graph)
    assert not alone.conforms
    assert {v.component for v in alone.violations} == {"Class"}
    # ... and with the meta graph in the same dataset every link resolves.
    assert validate(data).conforms


def test_validate_leaves_the_dataset_as_it_was() -> None:
    data = example("valid-export.trig", "broken/event-without-phase.ru")
    before = set(data.quads((None, None, None, None)))
    assert data.default_union is False
    validate(data)
    validate(data, inference="rdfs")
    assert data.default_union is False
    assert set(data.quads((None, None, None, None))) == before


def test_validate_accepts_a_plain_graph() -> None:
    union = Graph()
    for s, p, o, _ in example("valid-export.trig").quads((None, None, None, None)):
        union.add((s, p, o))
    assert validate(union).conforms


def test_an_unknown_inference_option_or_shapes_name_is_refused() -> None:
    with pytest.raises(ValueError, match="inference must be one of"):
        validate(example("valid-export.trig"), inference="owl2")
    with pytest.raises(ValueError, match="shapes name must be one of"):
        validate(example("valid-export.trig"), "site-exports")
    with pytest.raises(ValueError, match="shapes name must be one of"):
        load_shapes("nope")


def test_fast_settings_give_the_same_verdict_as_pyshacl_defaults() -> None:
    data = example("valid-export.trig", "broken/negative-magnitude.ru")
    fast, _, _ = pyshacl.validate(data, shacl_graph=load_shapes(), **FAST_SETTINGS)
    default, _, _ = pyshacl.validate(data, shacl_graph=load_shapes())
    assert fast is default is False
    assert FAST_SETTINGS["inference"] == "none" and FAST_SETTINGS["allow_warnings"] is True


# ---------------------------------------------------------------------------------------------
# The shapes themselves
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHAPES_NAMES)
def test_the_shapes_are_valid_shacl(name: str) -> None:
    """Meta-validation (SHACL-SHACL), done once here instead of on every export."""
    data = example("valid-export.trig" if name == "site-export" else "valid-package.trig")
    conforms, _, text = pyshacl.validate(data, shacl_graph=load_shapes(name), meta_shacl=True)
    assert conforms, text


@pytest.mark.parametrize("name", SHAPES_NAMES)
def test_every_shape_says_in_words_what_it_checks(name: str) -> None:
    shapes = load_shapes(name)
    all_shapes = set(shapes.subjects(RDF.type, SH.NodeShape)) | set(
        shapes.subjects(RDF.type, SH.PropertyShape)
    )
    assert all_shapes
    unnamed = [s for s in all_shapes if shapes.value(s, SH.name) is None]
    unexplained = [
        s for s in all_shapes
        if shapes.value(s, SH.description) is None and shapes.value(s, SH.message) is None
    ]
    assert sorted(unnamed) == []
    assert sorted(unexplained) == []
