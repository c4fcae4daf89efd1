"""The named question 'softsensor_vs_lab' against a small hand-checked graph (Oxigraph)."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from federation.questions.catalogue import question, questions

DATA = """
@prefix tf: <https://w3id.org/twinfed/ontology#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix s: <https://w3id.org/twinfed/site/SITE-A/> .

s: tf:siteCode "SITE-A" .
s:batch\\/B1 a tf:Batch ; tf:batchId "B1" ; tf:atSite s: .
s:model\\/GLC-v1 a tf:SoftSensorModel ; tf:modelId "GLC-P-v1" ; tf:modelVersion 1 ;
    tf:targetAnalyte "GLC" ; tf:intervalHalfWidth "0.5"^^xsd:double ; tf:unitLabel "g/L" .

# |4.0 - 3.0| = 1.0 = 2 half-widths: disagrees
s:e1 a tf:Estimate ; tf:ofBatch s:batch\\/B1 ; tf:fromModel s:model\\/GLC-v1 ;
    tf:value "4.0"^^xsd:double ; tf:referenceValue "3.0"^^xsd:double ;
    tf:sampleHour "24.0"^^xsd:double ; tf:inDomain true .
# |2.2 - 2.0| = 0.2 < 0.5: agrees
s:e2 a tf:Estimate ; tf:ofBatch s:batch\\/B1 ; tf:fromModel s:model\\/GLC-v1 ;
    tf:value "2.2"^^xsd:double ; tf:referenceValue "2.0"^^xsd:double ;
    tf:sampleHour "48.0"^^xsd:double ; tf:inDomain true .
# |1.0 - 1.7| = 0.7 = 1.4 half-widths, out of domain: disagrees (flagged as such)
s:e3 a tf:Estimate ; tf:ofBatch s:batch\\/B1 ; tf:fromModel s:model\\/GLC-v1 ;
    tf:value "1.0"^^xsd:double ; tf:referenceValue "1.7"^^xsd:double ;
    tf:sampleHour "72.0"^^xsd:double ; tf:inDomain false .
# no lab value paired: never an answer
s:e4 a tf:Estimate ; tf:ofBatch s:batch\\/B1 ; tf:fromModel s:model\\/GLC-v1 ;
    tf:value "9.0"^^xsd:double ; tf:sampleHour "80.0"^^xsd:double ; tf:inDomain true .
"""


@pytest.fixture(scope="module")
def store() -> ox.Store:
    store = ox.Store()
    store.load(DATA.encode(), ox.RdfFormat.TURTLE)
    return store


def _answers(store: ox.Store, factor: str | None = None) -> list[tuple]:
    query = question("softsensor_vs_lab").bind({"factor": factor} if factor else None)
    return [(row["batchId"].value, float(row["hour"].value), float(row["halfWidths"].value),
             row["inDomain"].value) for row in store.query(query)]


def test_the_question_is_in_the_catalogue() -> None:
    named = questions()["softsensor_vs_lab"]
    assert named.title.startswith("Soft-sensor estimates that disagreed with lab values")
    assert [p.name for p in named.parameters] == ["factor"]


def test_estimates_outside_the_stated_uncertainty_are_listed_worst_first(
        store: ox.Store) -> None:
    assert _answers(store) == [("B1", 24.0, pytest.approx(2.0), "true"),
                               ("B1", 72.0, pytest.approx(1.4), "false")]


def test_a_wider_tolerance_keeps_only_the_larger_miss(store: ox.Store) -> None:
    assert [a[1] for a in _answers(store, "1.5")] == [24.0]
    assert _answers(store, "3") == []
