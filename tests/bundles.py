"""Build small, valid ingest bundles on disk for tests (and break them on purpose)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2026-05-04T08:00:00Z")


def make_bundle(
    folder: Path,
    *,
    site: str = "SITE-T",
    batch_ids: tuple[str, ...] = ("T-001", "T-002"),
    hours: float = 48.0,
    step_min: float = 10.0,
    n_tags: int = 4,
    n_spectra: int = 6,
    n_channels: int = 50,
    seed: int = 0,
) -> Path:
    """Write a valid bundle with ``batch_ids`` and return its folder."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tags = [{"name": f"T{i:02d}.PV", "unit": "degC" if i == 0 else "%", "kind": "online"}
            for i in range(n_tags)]
    tags += [{"name": "CO.OUT", "unit": "%", "kind": "controller_output"},
             {"name": "GLC", "unit": "g/L", "kind": "offline"},
             {"name": "LAC", "unit": "mM", "kind": "offline"}]
    manifest = {
        "format_version": "1",
        "site": {"code": site, "name": f"Test site {site}"},
        "sponsor": {"code": "SP-T"},
        "product": {"code": "PROD-T"},
        "process": {"code": "P-T", "version": "1"},
        "equipment": [{"equipment_id": "BR-1", "kind": "bioreactor", "working_volume_l": 50},
                      {"equipment_id": "RM-1", "kind": "raman_analyser"}],
        "tags": tags,
        "batches": [],
    }
    times = np.arange(0, hours * 60 + 1e-9, step_min) / 60.0
    for index, batch_id in enumerate(batch_ids):
        start = START + pd.Timedelta(days=3 * index)
        manifest["batches"].append({
            "batch_id": batch_id, "scale_l": 50, "start": start.isoformat(),
            "end": (start + pd.Timedelta(hours=hours)).isoformat(), "status": "complete",
            "raman_instrument": "RM-1",
            "unit_operations": [{"kind": "production", "start": start.isoformat(),
                                 "equipment": ["BR-1", "RM-1"]}],
        })
        batch_dir = folder / batch_id
        batch_dir.mkdir(exist_ok=True)
        process = {"timestamp": [(start + pd.Timedelta(hours=h)).isoformat() for h in times]}
        for tag in tags[:n_tags]:
            process[tag["name"]] = np.round(rng.normal(37, 1, times.size), 4)
        process["CO.OUT"] = np.round(rng.uniform(0, 100, times.size), 3)
        pd.DataFrame(process).to_csv(batch_dir / "process.csv", index=False)
        lab = [((start + pd.Timedelta(hours=h)).isoformat(), analyte,
                round(float(rng.uniform(1, 5)), 3))
               for h in range(0, int(hours) + 1, 12) for analyte in ("GLC", "LAC")]
        pd.DataFrame(lab, columns=["sampled_at", "analyte", "value"]).to_csv(
            batch_dir / "lab.csv", index=False)
        events = {
            "phases": [{"name": "growth", "start": start.isoformat(),
                        "end": (start + pd.Timedelta(hours=hours / 2)).isoformat()},
                       {"name": "production",
                        "start": (start + pd.Timedelta(hours=hours / 2)).isoformat()}],
            "deviations": [{"deviation_id": f"DEV-{batch_id}", "opened_at": start.isoformat(),
                            "category": "process", "description": "test deviation",
                            "capa": [{"capa_id": f"CAPA-{batch_id}", "action": "retrain",
                                      "effective": None}]}],
            "quality_results": [{"attribute": "final_titre", "value": 3.1, "unit": "g/L",
                                 "spec_low": 2.0, "spec_high": None}],
        }
        (batch_dir / "events.json").write_text(json.dumps(events, indent=1))
        wavenumbers = np.linspace(500, 1700, n_channels)
        spectra = pd.DataFrame(rng.normal(1000, 5, (n_spectra, n_channels)),
                               columns=[f"{w:.3f}" for w in wavenumbers])
        spectra.insert(0, "timestamp", [start + pd.Timedelta(hours=2 * i)
                                        for i in range(n_spectra)])
        spectra.to_parquet(batch_dir / "raman.parquet", index=False)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


def edit_csv_cell(path: Path, line: int, column: str, value: str) -> None:
    """Set one cell of a CSV file; ``line`` is the file line number (header = 1)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[line - 2, column] = value
    frame.to_csv(path, index=False)


def edit_json(path: Path, edit) -> None:  # noqa: ANN001 - a small test helper
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data, indent=1))
