"""A process engineer replays a stored batch as if live at the site, and gets a traceable
recommendation inside the site's proven ranges, exported with its provenance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from neo4j import Driver
from rdflib import RDF, Graph, Literal
from rdflib.namespace import PROV
from typer.testing import CliRunner

from bioprocess.errors import NotFoundError
from bioprocess.live.ensemble import FilterSettings
from ontology import TF
from site_node.export.service import export_site
from site_node.ingest.service import ingest_bundle
from site_node.live.service import recommend_now, replay, site_twin, store_recommendation
from site_node.live.vocabulary import site_vocabulary
from tests.conftest import clean_database
from twinfed.cli import app

SITE = "SITE-B"  # kelvin, mg/L titre, 1e5 cells/mL, mL/min feed: units are read, not assumed
SETTINGS = FilterSettings(n_members=24, dt_h=2.0)


@pytest.fixture(scope="module")
def site_graph(_drivers: dict[str, Driver], campaign_dir: Path) -> Driver:
    driver = _drivers["site_c"]
    clean_database(driver)
    for bundle in sorted(campaign_dir.glob(f"{SITE}*")):
        report = ingest_bundle(driver, bundle, site_code=SITE, max_file_bytes=2**30)
        assert report.ok, report.refused
    return driver


def _truth(campaign_dir: Path) -> dict[str, dict]:
    rows = json.loads((campaign_dir / "ground_truth.json").read_text())["batches"]
    return {b["batch_id"]: b for b in rows if b["site"] == SITE}


@pytest.fixture(scope="module")
def followed(site_graph: Driver, campaign_dir: Path):  # noqa: ANN201
    truth = _truth(campaign_dir)
    batch_id = next(b for b, t in sorted(truth.items())
                    if not t["faults"] and t.get("process") == "P-mAb-101-FB")
    st = site_twin(site_graph, batch_id, settings=SETTINGS)
    return st, replay(st, (0.25, 0.5, 0.75))[1]


def test_the_twin_reads_tags_through_the_alignment_not_by_simulator_names() -> None:
    vocab = site_vocabulary(SITE)
    assert vocab.names_for("titre") == ["IGG"]
    assert vocab.names_for("temperature-set-point") == ["BR5_TT101_SP"]
    with pytest.raises(NotFoundError, match="alignment file"):
        site_vocabulary("SITE-NOWHERE")


def test_a_replayed_batch_is_never_its_own_teacher(followed) -> None:  # noqa: ANN001
    st, _ = followed
    assert st.batch.batch_id not in st.training_batches
    assert len(st.training_batches) >= 3
    recipe = st.batch.observations.recipe  # read back from the set-point series
    assert recipe.temp_production_c < recipe.temp_growth_c < 40.0


def test_replay_forecast_narrows_and_ends_near_the_measured_titre(followed) -> None:  # noqa: ANN001
    st, updates = followed
    widths = [u.hybrid.high - u.hybrid.low for u in updates]
    assert widths[-1] < widths[0]
    last = updates[-1].hybrid
    assert last.low <= st.batch.final_titre <= last.high
    assert updates[-1].forecast.n_assimilated > updates[0].forecast.n_assimilated


def test_recommendations_stay_inside_the_proven_ranges_and_are_exported_with_provenance(
    site_graph: Driver, followed,  # noqa: ANN001
) -> None:
    st, _ = followed
    assert st.ranges, "three good batches give proven ranges"
    for rng in st.ranges.values():
        assert rng.low <= rng.high and st.batch.batch_id not in rng.batch_ids
    _, rec = recommend_now(st, 0.25)
    for lever, (_, proposed) in rec.changes.items():
        assert st.ranges[lever].contains(proposed)
    rec_id = store_recommendation(site_graph, SITE, rec)
    export = export_site(site_graph, site_code=SITE, api_base="http://127.0.0.1:8701",
                         software_version="test")
    ds = Graph()  # the union of the export's named graphs
    for s_, p_, o_, _ in export.dataset.quads((None, None, None, None)):
        ds.add((s_, p_, o_))
    recs = list(ds.subjects(RDF.type, TF.SetPointRecommendation))
    assert len(recs) == 1 and rec_id.split("/")[-1] in str(recs[0])
    assert (recs[0], TF.recommendedAction, Literal(rec.action)) in ds
    assert any(ds.objects(recs[0], PROV.wasGeneratedBy))
    derived = {str(o).rsplit("/", 1)[-1] for o in ds.objects(recs[0], PROV.wasDerivedFrom)}
    assert set(st.training_batches) <= derived


def test_cli_follow_prints_the_narrowing_forecast(site_graph: Driver,
                                                  followed) -> None:  # noqa: ANN001
    st, _ = followed
    result = CliRunner().invoke(app, ["site", "twin", "follow", st.batch.batch_id,
                                      "--members", "16", "--neo4j-uri", _uri(site_graph)])
    assert result.exit_code == 0, result.output
    assert "final titre" in result.output and "%" in result.output
    card = CliRunner().invoke(app, ["site", "twin", "card", st.batch.batch_id, "--members", "16",
                                    "--neo4j-uri", _uri(site_graph)])
    assert card.exit_code == 0, card.output
    described = json.loads(card.output)
    assert described["parts"]["mechanistic_core"]["assumptions"]
    assert st.batch.batch_id not in described["training_batches"]
    missing = CliRunner().invoke(app, ["site", "twin", "follow", "NO-SUCH-BATCH",
                                       "--neo4j-uri", _uri(site_graph)])
    assert missing.exit_code == 1
    assert isinstance(missing.exception, NotFoundError)
    assert "NO-SUCH-BATCH" in str(missing.exception)


def _uri(driver: Driver) -> str:
    address = driver.get_server_info().address
    return f"bolt://{address[0]}:{address[1]}"


def test_demo_step_replays_a_batch_and_prints_one_recommendation_with_evidence(
    site_graph: Driver,
) -> None:
    from twinfed.console import out
    from twinfed.twin_cli import show_live_twin

    with out.capture() as captured:
        show_live_twin({SITE: site_graph})
    text = captured.get()
    assert "replays" in text and "final titre" in text
    assert "recommendation at" in text and "proven range" in text and "evidence:" in text
    assert "stored as" in text
