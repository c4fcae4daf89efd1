"""A site admin ingests batch bundles and finds exactly what the files hold."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from neo4j import Driver

from site_node.ingest.service import ingest_bundle
from site_node.repository import BatchFilter, SiteRepository
from tests.bundles import edit_csv_cell, make_bundle
from tests.store_state import fingerprint

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "bundle"
LIMIT = 512 * 2**20


def ingest(driver: Driver, path: Path, site: str | None = None):
    return ingest_bundle(driver, path, site_code=site, max_file_bytes=LIMIT)


def test_example_bundle_is_stored_whole(site_driver: Driver) -> None:
    report = ingest(site_driver, EXAMPLE, site="SITE-EX")
    assert report.ok, report.refused
    assert [(w.batch_id, w.outcome) for w in report.written] == [
        ("B-0001", "stored"), ("B-0002", "stored")]
    summary = SiteRepository(site_driver).site_summary()
    process = pd.read_csv(EXAMPLE / "B-0001" / "process.csv")
    lab = pd.read_csv(EXAMPLE / "B-0001" / "lab.csv")
    raman = pd.read_parquet(EXAMPLE / "B-0001" / "raman.parquet")
    non_empty_cells = int(process.drop(columns="timestamp").notna().sum().sum())
    assert summary["batches"] == 2
    assert summary["time_series"] == 2 * (process.shape[1] - 1)
    assert summary["points"] == 2 * non_empty_cells
    assert summary["lab_results"] == 2 * len(lab)
    assert summary["spectra"] == 2 * len(raman)
    assert summary["deviations"] == 1
    assert summary["rev"] == 2


def test_batch_context_reads_back(site_driver: Driver) -> None:
    ingest(site_driver, EXAMPLE)
    batch = SiteRepository(site_driver).get_batch("B-0002")
    assert batch["site"] == "SITE-EX" and batch["process"] == "P-mAb-101-FB"
    assert batch["sponsor"] == "SP-ACME" and batch["scale_l"] == 200
    assert batch["start"].isoformat() == "2026-03-20T06:00:00+00:00"
    [unit_op] = batch["unit_operations"]
    assert unit_op["equipment"] == ["BR-200-1", "RAMAN-1"]
    assert [(p["name"], p["start_h"], p["end_h"]) for p in unit_op["phases"]] == [
        ("growth", 0.0, 144.0), ("production", 144.0, 336.0)]
    [deviation] = batch["deviations"]
    assert deviation["root_cause"] == "sparger partially blocked"
    assert deviation["capa"][0]["capa_id"] == "CAPA-0003" and deviation["capa"][0]["effective"]
    assert batch["quality_results"][0]["attribute"] == "final_titre"
    assert batch["spectra"] == [{"instrument": "RAMAN-1", "n": 29, "channels": 300}]


def test_series_values_and_gaps_match_the_file(site_driver: Driver) -> None:
    ingest(site_driver, EXAMPLE)
    series = SiteRepository(site_driver).get_series("B-0001", "DO101.PV")
    column = pd.read_csv(EXAMPLE / "B-0001" / "process.csv")["DO101.PV"]
    assert column.isna().sum() == 4  # the example has a probe gap
    assert series["n"] == int(column.notna().sum())
    np.testing.assert_allclose(series["v"], column.dropna().to_numpy())
    assert series["t_h"][:3] == [0.0, 0.5, 1.0]
    assert series["unit"] == "%"
    down = SiteRepository(site_driver).get_series("B-0001", "DO101.PV", max_points=50)
    assert down["n"] == 50
    assert abs(np.mean(down["v"]) - column.mean()) < 0.5


def test_spectra_read_back_exactly(site_driver: Driver, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", batch_ids=("T-001",), n_spectra=230, n_channels=77)
    ingest(site_driver, bundle)
    spectra = SiteRepository(site_driver).get_spectra("T-001")
    frame = pd.read_parquet(bundle / "T-001" / "raman.parquet")
    np.testing.assert_array_equal(spectra["intensities"], frame.drop(columns="timestamp"))
    np.testing.assert_allclose(spectra["wavenumbers"], np.linspace(500, 1700, 77), atol=1e-3)
    assert spectra["t_h"].tolist() == [2.0 * i for i in range(230)]  # 3 chunks of <= 100
    assert spectra["instrument"] == "RM-1"


def test_identical_reingest_changes_nothing(site_driver: Driver) -> None:
    ingest(site_driver, EXAMPLE)
    before = fingerprint(site_driver)
    report = ingest(site_driver, EXAMPLE)
    assert [w.outcome for w in report.written] == ["unchanged", "unchanged"]
    assert fingerprint(site_driver) == before


def test_changed_content_replaces_the_batch_and_bumps_rev(site_driver: Driver,
                                                          tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b")
    ingest(site_driver, bundle)
    before = fingerprint(site_driver)
    edit_csv_cell(bundle / "T-001" / "process.csv", 5, "T01.PV", "99.5")
    report = ingest(site_driver, bundle)
    assert [(w.batch_id, w.outcome) for w in report.written] == [
        ("T-001", "replaced"), ("T-002", "unchanged")]
    after = fingerprint(site_driver)
    assert after["labels"] == before["labels"]  # replaced, not duplicated
    revs = {b["id"]: b["rev"] for b in after["batches"]}
    assert revs == {"T-001": 3, "T-002": 2}
    assert after["site"] == [{"code": "SITE-T", "rev": 3}]
    series = SiteRepository(site_driver).get_series("T-001", "T01.PV")
    assert series["v"][3] == 99.5


def test_irregular_sampling_and_tags_at_different_rates(site_driver: Driver,
                                                        tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", batch_ids=("T-001",))
    path = bundle / "T-001" / "process.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[frame.index % 3 != 0, "T02.PV"] = ""  # a slower tag: every third row only
    frame = frame.drop(index=[7, 8, 9, 40])  # irregular gaps in the time axis
    frame.to_csv(path, index=False)
    report = ingest(site_driver, bundle)
    assert report.ok, report.refused
    repo = SiteRepository(site_driver)
    slow, fast = repo.get_series("T-001", "T02.PV"), repo.get_series("T-001", "T01.PV")
    assert slow["n"] == int((frame["T02.PV"] != "").sum())
    assert fast["n"] == len(frame)
    assert np.all(np.diff(fast["t_h"]) > 0)


def test_zip_bundle_inside_a_top_folder_and_any_channel_count(site_driver: Driver,
                                                              tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "campaign-7", n_channels=3217, n_spectra=3,
                         batch_ids=("Z-1",))
    archive = tmp_path / "campaign-7.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in bundle.rglob("*"):
            zf.write(file, file.relative_to(tmp_path))
    shutil.rmtree(bundle)
    report = ingest(site_driver, archive)
    assert report.ok, report.refused
    batch = SiteRepository(site_driver).get_batch("Z-1")
    assert batch["spectra"][0]["channels"] == 3217


def test_multi_batch_bundle_reports_stored_and_refused(site_driver: Driver,
                                                       tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path / "b", batch_ids=("T-001", "T-002", "T-003"))
    edit_csv_cell(bundle / "T-002" / "process.csv", 12, "T00.PV", "n/a")
    report = ingest(site_driver, bundle)
    assert [w.batch_id for w in report.written] == ["T-001", "T-003"]
    [refused] = report.refused
    assert refused.batch_id == "T-002"
    assert str(refused.problems[0]) == (
        "T-002/process.csv line 12, column 'T00.PV': expected a number, found 'n/a'")
    listed = SiteRepository(site_driver).list_batches(BatchFilter())
    assert [b["batch_id"] for b in listed] == ["T-001", "T-003"]


def test_bundle_for_another_site_is_refused(site_driver: Driver) -> None:
    import pytest

    from site_node.ingest.problems import BundleError

    with pytest.raises(BundleError, match="site.code must be this site's code 'SITE-A'"):
        ingest(site_driver, EXAMPLE, site="SITE-A")
    assert fingerprint(site_driver)["batches"] == []
