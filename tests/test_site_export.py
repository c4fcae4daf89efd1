"""A site admin analyses the site's batches and exports SHACL-valid RDF that round-trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from neo4j import Driver
from rdflib import RDF, Dataset, Literal

from ontology import TF
from site_node.analysis.service import analyse
from site_node.export.service import ExportRefusedError, export_site
from site_node.ingest.service import ingest_bundle
from tests.conftest import clean_database
from tests.store_state import fingerprint


def _truth(campaign_dir: Path) -> list[dict]:
    return json.loads((campaign_dir / "ground_truth.json").read_text())["batches"]


@pytest.fixture(scope="module")
def site(campaign_dir: Path) -> str:
    """The campaign site with the most recorded deviations that still has 3 clean batches."""
    truth = _truth(campaign_dir)
    sites = sorted({b["site"] for b in truth})

    def clean(code: str) -> int:
        return sum(1 for b in truth if b["site"] == code and not b["faults"])

    def recorded(code: str) -> int:
        return sum(len(b["deviations"]) for b in truth if b["site"] == code)

    return max((s for s in sites if clean(s) >= 3), key=recorded)


@pytest.fixture(scope="module")
def analysed(_drivers: dict[str, Driver], campaign_dir: Path, site: str):  # noqa: ANN201
    """The site's bundles ingested and analysed once for this module (tests only read)."""
    driver = _drivers["site_a"]
    clean_database(driver)
    for bundle in sorted(campaign_dir.glob(f"{site}*")):
        report = ingest_bundle(driver, bundle, site_code=site, max_file_bytes=2**30)
        assert report.ok, report.refused
    return driver, analyse(driver, site_code=site)


@pytest.fixture
def site_b(analysed) -> Driver:  # noqa: ANN001
    return analysed[0]


def _export(driver: Driver, since: int = 0):
    code = driver.execute_query("MATCH (s:Site) RETURN s.code AS code")[0][0]["code"]
    return export_site(driver, site_code=code, api_base="http://127.0.0.1:8701",
                       software_version="test", since_rev=since)


def test_analysis_finds_events_in_faulty_batches_only(analysed, campaign_dir: Path,  # noqa: ANN001
                                                      site: str) -> None:
    report = analysed[1]
    [result] = [r for p, r in report.processes.items() if p.startswith("P-mAb-101-FB")]
    faulty = {b["batch_id"] for b in _truth(campaign_dir) if b["site"] == site and b["deviations"]}
    assert faulty
    reference = set(result.reference.batch_ids)
    assert reference and not reference & faulty  # good batches: no deviation record
    for batch_id, analysis in result.batches.items():
        if batch_id in reference:
            assert analysis.events == (), f"reference batch {batch_id} has events"
    assert any(result.batches[b].events for b in faulty if b in result.batches)


def test_reanalysis_without_change_keeps_revisions(analysed, site: str) -> None:  # noqa: ANN001
    site_b, first = analysed
    assert first.changed_batches  # new results gave those batches new revisions
    before = fingerprint(site_b)
    assert analyse(site_b, site_code=site).changed_batches == []
    assert fingerprint(site_b) == before


def test_export_conforms_and_round_trips(site_b: Driver, site: str) -> None:
    export = _export(site_b)
    assert export.report.conforms
    parsed = Dataset()
    parsed.parse(data=export.serialize("trig"), format="trig")
    counts, _, _ = site_b.execute_query(
        "MATCH (b:Batch) OPTIONAL MATCH (b)-[:HAS_FEATURE]->(f) WITH b, count(f) AS features "
        "OPTIONAL MATCH (b)-[:HAS_DEVIATION_EVENT]->(e) WITH b, features, count(e) AS events "
        "OPTIONAL MATCH (b)-[:HAS_DEVIATION]->(d) "
        "RETURN b.batch_id AS id, b.rev AS rev, features, events, count(d) AS deviations")
    assert len(counts) == len(export.batch_ids) >= 6
    for row in counts:
        graph = parsed.graph(f"https://w3id.org/twinfed/site/{site}/batch/{row['id']}")
        assert len(set(graph.subjects(RDF.type, TF.Feature))) == row["features"]
        assert len(set(graph.subjects(RDF.type, TF.DeviationEvent))) == row["events"]
        assert len(set(graph.subjects(RDF.type, TF.DeviationRecord))) == row["deviations"]
        assert (None, TF.siteRevision, Literal(row["rev"])) in graph
    # a value checked end to end: one feature in Neo4j equals the exported literal
    [row], _, _ = site_b.execute_query(
        "MATCH (b:Batch)-[:HAS_FEATURE]->(f {stat: 'mean'}) RETURN b.batch_id AS id, f.tag AS "
        "tag, f.phase AS phase, f.value AS value ORDER BY id, tag LIMIT 1")
    graph = parsed.graph(f"https://w3id.org/twinfed/site/{site}/batch/{row['id']}")
    values = {float(v) for f in graph.subjects(TF.statistic, Literal("mean"))
              for v in graph.objects(f, TF.value)
              if any(str(t).endswith("/tag/" + row["tag"]) for t in graph.objects(f, TF.ofTag))}
    assert row["value"] in values


def test_export_since_revision_is_incremental(site_b: Driver) -> None:
    everything = _export(site_b)
    low, high = everything.rev_range
    later = _export(site_b, since=high - 2)
    assert len(later.batch_ids) == 2
    assert later.rev_range == (high - 1, high)
    assert _export(site_b, since=high).batch_ids == []


def test_broken_export_is_refused_with_a_readable_report(site_b: Driver) -> None:
    [row], _, _ = site_b.execute_query(
        "MATCH (e:DeviationEvent) WITH e LIMIT 1 SET e.broken = e.phase, e.phase = null "
        "RETURN e.broken AS phase")
    try:
        with pytest.raises(ExportRefusedError) as refused:
            _export(site_b)
    finally:
        site_b.execute_query("MATCH (e:DeviationEvent) WHERE e.broken IS NOT NULL "
                             "SET e.phase = e.broken REMOVE e.broken")
    assert row["phase"]
    text = str(refused.value)
    assert "export refused by SHACL validation" in text
    assert "DeviationEvent" in text or "deviation event" in text.lower()
    assert "tf:inPhase" in text
