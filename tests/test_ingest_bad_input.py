"""Bad input is refused with a message naming file, row and field, and nothing is written.

Each case starts from a store that already holds a good version of batch T-001 and then
ingests a broken new version: the store must be exactly as it was.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from neo4j import Driver

from site_node.ingest.problems import BundleError
from site_node.ingest.service import ingest_bundle
from tests.bundles import edit_csv_cell, edit_json, make_bundle
from tests.store_state import fingerprint

LIMIT = 512 * 2**20


def _rewrite_csv(path: Path, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


def _append_line(path: Path, line: str) -> None:
    with path.open("a") as handle:
        handle.write(line + "\n")


def _swap_rows(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame.to_dict("records")
    rows[20], rows[21] = rows[21], rows[20]
    return pd.DataFrame(rows)


def _duplicate_row(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[30, "timestamp"] = frame.loc[29, "timestamp"]
    return frame


# (case id, mutation of the bundle folder, expected message fragment)
BATCH_CASES: list[tuple[str, Callable[[Path], None], str]] = [
    ("malformed-csv", lambda b: _append_line(b / "T-001/process.csv",
                                             "2026-05-06T08:00:00Z,1,2,3,4,5,6,7"),
     "T-001/process.csv line 291: is not well-formed CSV: expected 6 fields as in the header, "
     "found 8"),
    ("malformed-json", lambda b: (b / "T-001/events.json").write_text('{"phases": [\n  {]}'),
     "T-001/events.json line 2 column 4: is not valid JSON: Expecting property name"),
    ("malformed-parquet", lambda b: (b / "T-001/raman.parquet").write_bytes(b"PAR1 not really"),
     "T-001/raman.parquet: is not a readable Parquet file"),
    ("missing-time-column", lambda b: _rewrite_csv(b / "T-001/process.csv",
                                                   lambda f: f.drop(columns="timestamp")),
     "T-001/process.csv line 1: missing column 'timestamp'"),
    ("undeclared-tag-column", lambda b: _rewrite_csv(b / "T-001/process.csv",
                                                     lambda f: f.assign(**{"XV-9": "1"})),
     "T-001/process.csv line 1, column 'XV-9': column is not a tag declared in manifest.json"),
    ("offline-tag-in-process", lambda b: _rewrite_csv(b / "T-001/process.csv",
                                                      lambda f: f.assign(GLC="1")),
     "T-001/process.csv line 1, column 'GLC': tag has kind 'offline'"),
    ("lab-missing-column", lambda b: _rewrite_csv(b / "T-001/lab.csv",
                                                  lambda f: f.drop(columns="value")),
     "T-001/lab.csv line 1: missing columns ['value']"),
    ("lab-extra-column", lambda b: _rewrite_csv(b / "T-001/lab.csv",
                                                lambda f: f.assign(operator="jd")),
     "T-001/lab.csv line 1: unexpected columns ['operator']"),
    ("lab-undeclared-analyte", lambda b: edit_csv_cell(b / "T-001/lab.csv", 3, "analyte",
                                                       "FOO"),
     "T-001/lab.csv line 3, column 'analyte': analyte 'FOO' is not a tag declared"),
    ("lab-unit-mismatch", lambda b: _rewrite_csv(b / "T-001/lab.csv",
                                                 lambda f: f.assign(unit="mg/L")),
     "T-001/lab.csv line 2, column 'unit': unit 'mg/L' differs from the declared unit 'g/L'"),
    ("backwards-timestamps", lambda b: _rewrite_csv(b / "T-001/process.csv", _swap_rows),
     "T-001/process.csv line 23, column 'timestamp': timestamp goes backwards"),
    ("duplicate-timestamps", lambda b: _rewrite_csv(b / "T-001/process.csv", _duplicate_row),
     "T-001/process.csv line 32, column 'timestamp': duplicate timestamp"),
    ("timestamp-without-offset", lambda b: edit_csv_cell(b / "T-001/process.csv", 7,
                                                         "timestamp", "2026-05-04T09:00:00"),
     "T-001/process.csv line 7, column 'timestamp': timestamp has no UTC offset"),
    ("not-a-timestamp", lambda b: edit_csv_cell(b / "T-001/lab.csv", 4, "sampled_at",
                                                "yesterday"),
     "T-001/lab.csv line 4, column 'sampled_at': expected an ISO 8601 timestamp"),
    ("nan-cell", lambda b: edit_csv_cell(b / "T-001/process.csv", 9, "T02.PV", "NaN"),
     "T-001/process.csv line 9, column 'T02.PV': NaN and infinity are not allowed, found 'NaN'"),
    ("inf-cell", lambda b: edit_csv_cell(b / "T-001/process.csv", 10, "CO.OUT", "inf"),
     "T-001/process.csv line 10, column 'CO.OUT': NaN and infinity are not allowed"),
    ("text-in-number-column", lambda b: edit_csv_cell(b / "T-001/process.csv", 11, "T03.PV",
                                                      "12,5"),
     "T-001/process.csv line 11, column 'T03.PV': expected a number, found '12,5'"),
    ("empty-lab-value", lambda b: edit_csv_cell(b / "T-001/lab.csv", 5, "value", ""),
     "T-001/lab.csv line 5, column 'value': expected a number, found an empty cell"),
    ("json-wrong-type", lambda b: edit_json(b / "T-001/events.json", lambda d: d[
        "quality_results"][0].update(value="high")),
     "T-001/events.json $.quality_results[0].value: Input should be a valid number"),
    ("json-nan", lambda b: (b / "T-001/events.json").write_text(
        '{"quality_results": [{"attribute": "a", "value": NaN, "unit": "g/L"}]}'),
     "T-001/events.json: NaN and infinity are not allowed in JSON, found NaN"),
    ("overlapping-phases", lambda b: edit_json(b / "T-001/events.json", lambda d: d[
        "phases"][0].update(end="2026-05-05T20:00:00Z")),
     "phases 'growth' and 'production' of production overlap"),
    ("data-before-start", lambda b: edit_csv_cell(b / "T-001/process.csv", 2, "timestamp",
                                                  "2026-05-04T07:00:00Z"),
     "T-001/process.csv line 2, column 'timestamp': time is before the batch start"),
    ("missing-process-file", lambda b: (b / "T-001/process.csv").unlink(),
     "T-001/process.csv: missing: every batch needs process.csv or process.parquet"),
    ("raman-nan", lambda b: _nan_spectrum(b / "T-001/raman.parquet"),
     "T-001/raman.parquet row 3, column '500.000': expected a finite number"),
]


def _nan_spectrum(path: Path) -> None:
    frame = pd.read_parquet(path)
    frame.iloc[2, 1] = float("nan")
    frame.to_parquet(path, index=False)


@pytest.fixture
def stored(site_driver: Driver, tmp_path: Path) -> Path:
    bundle = make_bundle(tmp_path / "bundle", batch_ids=("T-001",))
    assert ingest_bundle(site_driver, bundle, site_code=None, max_file_bytes=LIMIT).ok
    make_bundle(tmp_path / "bundle", batch_ids=("T-001",), seed=1)  # a changed version
    return bundle


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in BATCH_CASES],
                         ids=[c[0] for c in BATCH_CASES])
def test_broken_batch_is_refused_and_old_version_kept(site_driver: Driver, stored: Path,
                                                      mutate: Callable[[Path], None],
                                                      expected: str) -> None:
    before = fingerprint(site_driver)
    mutate(stored)
    report = ingest_bundle(site_driver, stored, site_code=None, max_file_bytes=LIMIT)
    assert report.written == []
    [refused] = report.refused
    messages = [str(p) for p in refused.problems]
    assert any(expected in m for m in messages), messages
    assert fingerprint(site_driver) == before


# Problems in the manifest refuse the whole bundle.
BUNDLE_CASES: list[tuple[str, Callable[[Path], None], str]] = [
    ("missing-unit", lambda b: edit_json(b / "manifest.json", lambda d: d["tags"][0].pop("unit")),
     "manifest.json $.tags[0].unit: required field is missing"),
    ("bad-tag-kind", lambda b: edit_json(b / "manifest.json", lambda d: d["tags"][1].update(
        kind="calculated")),
     "manifest.json $.tags[1].kind: expected 'online', 'offline', 'setpoint' or "
     "'controller_output', found 'calculated'"),
    ("wrong-type-scale", lambda b: edit_json(b / "manifest.json", lambda d: d["batches"][0]
                                             .update(scale_l="big")),
     "manifest.json $.batches[0].scale_l: Input should be a valid number"),
    ("duplicate-batch-id", lambda b: edit_json(b / "manifest.json", lambda d: d["batches"]
                                               .append(dict(d["batches"][0]))),
     "manifest.json $.batches[1].batch_id: duplicate batch_id 'T-001'"),
    ("duplicate-tag", lambda b: edit_json(b / "manifest.json", lambda d: d["tags"].append(
        dict(d["tags"][0]))),
     "manifest.json $.tags[7].name: duplicate name 'T00.PV'"),
    ("unknown-field", lambda b: edit_json(b / "manifest.json", lambda d: d.update(sites=[])),
     "manifest.json $.sites: unexpected field (not part of the format)"),
    ("naive-start", lambda b: edit_json(b / "manifest.json", lambda d: d["batches"][0].update(
        start="2026-05-04T08:00:00")),
     "manifest.json $.batches[0].start: expected an ISO 8601 timestamp with a UTC offset"),
    ("no-manifest", lambda b: (b / "manifest.json").unlink(), "manifest.json: missing"),
    ("manifest-not-json", lambda b: (b / "manifest.json").write_text("site: A\n"),
     "manifest.json line 1 column 1: is not valid JSON"),
]


@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in BUNDLE_CASES],
                         ids=[c[0] for c in BUNDLE_CASES])
def test_broken_manifest_refuses_the_bundle(site_driver: Driver, stored: Path,
                                            mutate: Callable[[Path], None],
                                            expected: str) -> None:
    before = fingerprint(site_driver)
    mutate(stored)
    with pytest.raises(BundleError) as caught:
        ingest_bundle(site_driver, stored, site_code=None, max_file_bytes=LIMIT)
    assert expected in str(caught.value)
    assert fingerprint(site_driver) == before


def _zip(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(folder.rglob("*")):
            zf.write(file, file.relative_to(folder))
    return archive


def test_truncated_zip_is_refused(site_driver: Driver, stored: Path, tmp_path: Path) -> None:
    before = fingerprint(site_driver)
    archive = _zip(stored, tmp_path / "bundle.zip")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match=r"bundle.zip: not a readable zip archive \(truncated"):
        ingest_bundle(site_driver, archive, site_code=None, max_file_bytes=LIMIT)
    assert fingerprint(site_driver) == before


def test_file_over_the_size_limit_is_refused(site_driver: Driver, stored: Path) -> None:
    before = fingerprint(site_driver)
    size = (stored / "T-001/process.csv").stat().st_size
    report = ingest_bundle(site_driver, stored, site_code=None, max_file_bytes=size - 1)
    [refused] = report.refused
    assert "T-001/process.csv: file is" in str(refused.problems[0])
    assert "the limit is" in str(refused.problems[0])
    assert fingerprint(site_driver) == before


def test_every_problem_of_a_batch_is_reported_at_once(site_driver: Driver,
                                                      stored: Path) -> None:
    edit_csv_cell(stored / "T-001/process.csv", 9, "T02.PV", "x")
    edit_csv_cell(stored / "T-001/lab.csv", 3, "analyte", "FOO")
    (stored / "T-001/events.json").write_text(json.dumps({"phases": [{"name": "p"}]}))
    report = ingest_bundle(site_driver, stored, site_code=None, max_file_bytes=LIMIT)
    files = {p.file for p in report.refused[0].problems}
    assert files == {"T-001/process.csv", "T-001/lab.csv", "T-001/events.json"}
