"""Equipment health end to end: a campaign with one fouling sparger is ingested at a real
site node, indicators and drift are computed and stored, the SHACL-valid export carries them
and, after a real sync over HTTP, the federation answers the equipment questions."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from neo4j import Driver

from bioprocess.campaign import CampaignConfig, generate_campaign
from bioprocess.degradation import Degradation, DegradationKind
from federation.api.app import create_app
from federation.config import FederationSettings
from site_node.analysis.service import analyse
from site_node.equipment.service import stored_drifts, update_equipment_health
from site_node.export.service import export_site
from site_node.ingest.service import ingest_bundle
from site_node.sync.client import FederationClient, sync_site
from tests.conftest import clean_database
from twinfed.bundle_writer import write_campaign
from twinfed.serving import serve

ADMIN = "admin-token-for-equipment-tests"
FOULING = Degradation("SITE-A", "BR-2000-1", DegradationKind.SPARGER_FOULING, 2, 0.12)


@pytest.fixture(scope="module")
def site(_drivers: dict[str, Driver], tmp_path_factory: pytest.TempPathFactory) -> dict:
    campaign = generate_campaign(CampaignConfig(
        n_sites=1, batches_per_site=8, seed=21, days=4.5, fault_rate=0.0,
        second_sponsor_batches=0, raman_every_h=24.0, degradations=(FOULING,)))
    out = tmp_path_factory.mktemp("equipment") / "c"
    write_campaign(campaign, out, fmt="parquet")
    driver = _drivers["site_a"]
    clean_database(driver)
    assert ingest_bundle(driver, out / "SITE-A", site_code="SITE-A", max_file_bytes=2**30).ok
    analyse(driver, site_code="SITE-A")
    report = update_equipment_health(driver, "SITE-A")
    return {"driver": driver, "campaign": campaign, "report": report}


def test_fouling_sparger_drifts_and_the_clean_reactor_does_not(site: dict) -> None:
    report = site["report"]
    assets = {a.asset: a for a in report.assets}
    assert set(assets) == {"BR-2000-1", "BR-2000-2"}  # the Raman analyser has no volume
    fouled, clean = assets["BR-2000-1"], assets["BR-2000-2"]
    assert len(fouled.batches) == 4 and len(clean.batches) == 4
    assert clean.drifts == []
    drifting = {d.indicator: d for d in fouled.drifts}
    assert "kla_reference" in drifting
    kla = drifting["kla_reference"]
    # ground truth: onset at the asset's 2nd batch; with 4 batches the earliest possible
    # detection is the 4th (the rule needs 4 batches)
    assert kla.batches == tuple(fouled.batches) and kla.detected_index == 3
    assert kla.slope_per_batch < 0 and list(kla.values) == sorted(kla.values, reverse=True)
    assert kla.values[-1] < 0.8 * kla.values[0]
    assert {d.component for d in fouled.drifts} <= {"sparger", "oxygen_supply"}
    assert "BR-2000-1 (sparger): inspect and clean the sparger" in kla.recommendation()


def test_results_are_stored_once_and_rerunning_changes_nothing(site: dict) -> None:
    driver = site["driver"]
    rows, _, _ = driver.execute_query(
        "MATCH (b:Batch)-[:HAS_EQUIPMENT_INDICATOR]->(i)-[:OF_EQUIPMENT]->(q:Equipment) "
        "RETURN q.equipment_id AS asset, count(DISTINCT b) AS batches, count(i) AS values")
    assert {r["asset"]: r["batches"] for r in rows} == {"BR-2000-1": 4, "BR-2000-2": 4}
    events = stored_drifts(driver)
    kla = next(e for e in events if e["indicator"] == "kla_reference")
    assert kla["asset"] == "BR-2000-1" and len(kla["evidence"]) == 4
    assert {e["batch_id"] for e in kla["evidence"]} == set(kla["batches"])
    assert update_equipment_health(driver, "SITE-A").changed_batches == []


def test_export_carries_indicator_values_and_drift_events_and_is_valid(site: dict) -> None:
    export = export_site(site["driver"], site_code="SITE-A", api_base="http://a.example",
                         software_version="t")
    assert export.report.conforms
    text = export.serialize("nquads").decode()
    assert "#EquipmentDriftEvent>" in text and "#EquipmentIndicatorValue>" in text
    assert "equipment-drift/BR-2000-1/kla_reference" in text
    assert "equipment-drift/BR-2000-2" not in text


@pytest.fixture(scope="module")
def federation(site: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    settings = FederationSettings(data=tmp_path_factory.mktemp("fed"), admin_token=ADMIN)
    with serve(create_app(settings)) as url:
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"},
                             timeout=120)
        token = admin.post("/sites", json={"code": "SITE-A"}).json()["token"]
        user = admin.post("/users", json={"name": "qa", "roles": ["quality"],
                                          "sponsors": ["SP-ACME"]}).json()["token"]
        client = FederationClient(url, token)
        try:
            sync_site(site["driver"], client, site_code="SITE-A",
                      api_base="http://site-a.example:8701", software_version="t")
        finally:
            client.close()
        yield {"url": url, "user": user}
        admin.close()


def _ask(federation: dict, name: str, **params: str) -> dict:
    response = httpx.get(f"{federation['url']}/questions/{name}", params=params,
                         headers={"Authorization": f"Bearer {federation['user']}"}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_federation_answers_which_assets_of_a_type_drift(federation: dict, site: dict) -> None:
    answer = _ask(federation, "equipment_drift", equipment_kind="bioreactor",
                  indicator="kla_reference")
    assert [(r["site"], r["assetId"], r["indicator"]) for r in answer["rows"]] == [
        ("SITE-A", "BR-2000-1", "kla_reference")]
    row = answer["rows"][0]
    assert row["batchesOnAsset"] == 4 and len(row["evidenceList"]) == 4
    assert row["slopePerBatch"] < 0 and row["trendPValue"] < 0.05
    fouled = next(a for a in site["report"].assets if a.asset == "BR-2000-1")
    assert row["detectedBatchId"] == fouled.batches[3]
    assert row["batchesWithDeviationRecords"] <= 4
    assert _ask(federation, "equipment_drift", equipment_kind="raman_analyser")["rows"] == []


def test_federation_compares_the_equipment_type_across_sites(federation: dict) -> None:
    rows = _ask(federation, "equipment_type_comparison", equipment_kind="bioreactor")["rows"]
    kla = next(r for r in rows if r["indicator"] == "kla_reference")
    assert (kla["site"], kla["assets"], kla["assetBatches"]) == ("SITE-A", 2, 8)
    assert kla["driftingAssets"] == 1
    assert -0.3 < kla["relativeRatePerBatch"] < -0.03  # truth: 12 % of clean kLa per batch
