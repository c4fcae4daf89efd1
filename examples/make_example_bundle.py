"""Write ``examples/bundle/``: a small, hand-readable two-batch ingest bundle.

Run ``python examples/make_example_bundle.py`` to regenerate it (deterministic). The
simulated campaigns of ``twinfed simulate campaign`` are the realistic data; this bundle
exists so a new user can read every file of the format in a minute.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "bundle"
START = {"B-0001": pd.Timestamp("2026-03-01T06:00:00Z"),
         "B-0002": pd.Timestamp("2026-03-20T06:00:00Z")}
DAYS = 14


def manifest() -> dict:
    return {
        "format_version": "1",
        "site": {"code": "SITE-EX", "name": "Example site"},
        "sponsor": {"code": "SP-ACME", "name": "Acme Biologics"},
        "product": {"code": "mAb-101", "name": "Anti-IL6 mAb"},
        "process": {"code": "P-mAb-101-FB", "version": "1", "name": "mAb-101 fed-batch"},
        "equipment": [
            {"equipment_id": "BR-200-1", "kind": "bioreactor", "working_volume_l": 200,
             "attributes": {"impeller": "pitched blade", "sparger": "drilled pipe"}},
            {"equipment_id": "RAMAN-1", "kind": "raman_analyser",
             "attributes": {"laser_nm": 785}},
        ],
        "tags": [
            {"name": "TT101.PV", "unit": "degC", "kind": "online",
             "description": "Broth temperature"},
            {"name": "TT101.SP", "unit": "degC", "kind": "setpoint"},
            {"name": "DO101.PV", "unit": "%", "kind": "online",
             "description": "Dissolved oxygen, % air saturation"},
            {"name": "PH101.PV", "unit": "1", "kind": "online", "description": "Broth pH"},
            {"name": "FIC201.OUT", "unit": "%", "kind": "controller_output",
             "description": "O2 sparge valve output"},
            {"name": "VCD", "unit": "1e6 cells/mL", "kind": "offline",
             "description": "Viable cell density"},
            {"name": "GLC", "unit": "g/L", "kind": "offline", "description": "Glucose"},
            {"name": "TITER", "unit": "g/L", "kind": "offline", "description": "mAb titre"},
        ],
        "batches": [
            {"batch_id": batch_id, "scale_l": 200, "start": start.isoformat(),
             "end": (start + pd.Timedelta(days=DAYS)).isoformat(), "status": "complete",
             "raman_instrument": "RAMAN-1",
             "unit_operations": [{"kind": "production_bioreactor", "start": start.isoformat(),
                                  "end": (start + pd.Timedelta(days=DAYS)).isoformat(),
                                  "equipment": ["BR-200-1", "RAMAN-1"]}]}
            for batch_id, start in START.items()
        ],
    }


def write_batch(batch_id: str, start: pd.Timestamp, rng: np.random.Generator) -> None:
    folder = OUT / batch_id
    folder.mkdir(parents=True, exist_ok=True)
    hours = np.arange(0, DAYS * 24 + 0.01, 0.5)
    shift = 6 * 24
    temp_sp = np.where(hours < shift, 36.8, 33.0)
    vcd = 0.4 * np.exp(0.03 * np.minimum(hours, 150)) * np.exp(-0.004 * np.maximum(hours - 200, 0))
    process = pd.DataFrame({
        "timestamp": [(start + pd.Timedelta(hours=h)).isoformat() for h in hours],
        "TT101.PV": np.round(temp_sp + rng.normal(0, 0.05, hours.size), 3),
        "TT101.SP": temp_sp,
        "DO101.PV": np.round(40 + rng.normal(0, 0.8, hours.size), 2),
        "PH101.PV": np.round(7.05 - 0.1 * vcd / vcd.max() + rng.normal(0, 0.01, hours.size), 3),
        "FIC201.OUT": np.round(np.clip(5 + 60 * vcd / vcd.max(), 0, 100), 2),
    })
    process.loc[100:103, "DO101.PV"] = np.nan  # a probe gap: empty cells are missing samples
    process.to_csv(folder / "process.csv", index=False)
    days = np.arange(0, DAYS + 1)
    lab_rows = []
    for day in days:
        at = (start + pd.Timedelta(days=int(day), hours=1)).isoformat()
        h = day * 24 + 1
        v = float(np.interp(h, hours, vcd))
        lab_rows += [(at, "VCD", round(v, 2), "1e6 cells/mL"),
                     (at, "GLC", round(max(6 - 0.3 * day + (2 if day % 3 == 0 else 0), 0.5), 2),
                      "g/L"),
                     (at, "TITER", round(0.35 * max(day - 2, 0), 2), "g/L")]
    pd.DataFrame(lab_rows, columns=["sampled_at", "analyte", "value", "unit"]).to_csv(
        folder / "lab.csv", index=False)
    events = {
        "phases": [
            {"unit_operation": "production_bioreactor", "name": "growth",
             "start": start.isoformat(), "end": (start + pd.Timedelta(hours=shift)).isoformat()},
            {"unit_operation": "production_bioreactor", "name": "production",
             "start": (start + pd.Timedelta(hours=shift)).isoformat(),
             "end": (start + pd.Timedelta(days=DAYS)).isoformat()},
        ],
        "deviations": [] if batch_id == "B-0001" else [
            {"deviation_id": "DEV-2026-0007",
             "opened_at": (start + pd.Timedelta(days=9)).isoformat(),
             "category": "equipment", "description": "O2 valve output at 95% for 4 h",
             "root_cause": "sparger partially blocked", "status": "closed",
             "failure_mode": "SPG-FOUL",
             "capa": [{"capa_id": "CAPA-0003", "action": "sparger cleaning SOP revised",
                       "effective": True}]}],
        "quality_results": [
            {"attribute": "final_titre", "value": round(0.35 * (DAYS - 2), 2), "unit": "g/L",
             "spec_low": 3.0, "spec_high": None},
        ],
    }
    (folder / "events.json").write_text(json.dumps(events, indent=2) + "\n")
    wavenumbers = np.round(np.linspace(400, 1800, 300), 2)
    spectra_hours = np.arange(0, DAYS * 24 + 0.01, 12.0)
    base = np.exp(-((wavenumbers[None, :] - 1125) / 40) ** 2)
    intensities = (1000 + 50 * base * (spectra_hours[:, None] / 24)
                   + rng.normal(0, 2, (spectra_hours.size, wavenumbers.size)))
    raman = pd.DataFrame(intensities, columns=[f"{w:.2f}" for w in wavenumbers])
    raman.insert(0, "timestamp", [start + pd.Timedelta(hours=h) for h in spectra_hours])
    raman.to_parquet(folder / "raman.parquet", index=False)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "manifest.json").write_text(json.dumps(manifest(), indent=2) + "\n")
    rng = np.random.default_rng(42)
    for batch_id, start in START.items():
        write_batch(batch_id, start, rng)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
