"""Write a simulated campaign to disk as ingest bundles (docs/ingest-format.md, version 1).

Layout::

    OUT/ground_truth.json                 faults, counterfactual and actual titres per batch
    OUT/<site>/manifest.json              the main sponsor's batches at that site
    OUT/<site>/<batch_id>/process.csv     (or process.parquet) online tags, wide
    OUT/<site>/<batch_id>/lab.csv         offline results, long
    OUT/<site>/<batch_id>/events.json     phases, deviations + CAPA, quality results
    OUT/<site>/<batch_id>/raman.parquet   spectra, one row per sample time
    OUT/<site>_<sponsor>/...              a second sponsor's batches at that site

A manifest names exactly one sponsor, so a site that runs batches for two sponsors gets
one bundle per sponsor. Timestamps carry the site's UTC offset (``Z`` for sites that
export in UTC); missing samples are empty cells; no NaN or infinity is ever written. The
output is byte-for-byte the same for the same campaign (no wall-clock stamps), so
re-ingesting a regenerated campaign is a no-op.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bioprocess.campaign import BatchRecord, Campaign
from bioprocess.errors import ConflictError, ValidationError

FORMAT_VERSION = "1"
GROUND_TRUTH_FILE = "ground_truth.json"
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class WrittenCampaign:
    """What :func:`write_campaign` wrote."""

    out_dir: Path
    bundles: tuple[Path, ...]
    ground_truth: Path
    n_batches: int
    n_bytes: int


def iso(ts: datetime) -> str:
    """ISO 8601 with seconds and an explicit offset (``Z`` for UTC)."""
    text = ts.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _offset_suffix(ts: datetime) -> str:
    return iso(ts)[19:]


def timestamps(start: datetime, t_h: np.ndarray) -> list[str]:
    """ISO timestamps at ``t_h`` hours after ``start``, in ``start``'s offset.

    Times are rounded to whole seconds, which keeps minute-grid samples exact.
    """
    seconds = np.rint(np.asarray(t_h, dtype=float) * 3600.0).astype(np.int64)
    local = pd.Timestamp(start.replace(tzinfo=None)) + pd.to_timedelta(seconds, unit="s")
    suffix = _offset_suffix(start)
    return [s + suffix for s in local.strftime("%Y-%m-%dT%H:%M:%S")]


def _tz_aware(start: datetime, t_h: np.ndarray) -> pd.DatetimeIndex:
    seconds = np.rint(np.asarray(t_h, dtype=float) * 3600.0).astype(np.int64)
    base = pd.Timestamp(start)
    return pd.DatetimeIndex(base + pd.to_timedelta(seconds, unit="s"))


def _json_number(x: float | None) -> float | None:
    if x is None:
        return None
    if not math.isfinite(x):
        raise ValidationError(f"values written to a bundle must be finite; got {x!r} instead")
    return float(x)


def _bundle_name(campaign: Campaign, batch: BatchRecord) -> str:
    if batch.process.sponsor_code == campaign.config.process.sponsor_code:
        return batch.site.code
    return f"{batch.site.code}_{batch.process.sponsor_code}"


def _manifest(batches: list[BatchRecord]) -> dict[str, Any]:
    first = batches[0]
    site, proc = first.site, first.process
    reactors = sorted({b.bioreactor for b in batches})
    equipment: list[dict[str, Any]] = [
        {
            "equipment_id": r,
            "kind": "bioreactor",
            "working_volume_l": site.scale_l,
            "attributes": dict(site.bioreactor_attributes),
        }
        for r in reactors
    ]
    equipment.append(
        {
            "equipment_id": site.raman.instrument_id,
            "kind": "raman_analyser",
            "attributes": {
                "model": site.raman.model,
                "laser_nm": site.raman.laser_nm,
                "channels": int(first.raman.wavenumbers.size),
            },
        }
    )
    tags = [
        {"name": t.name, "unit": t.unit, "kind": t.kind, "description": t.description}
        for t in site.tags
    ]
    tags += [
        {"name": a.code, "unit": a.unit, "kind": "offline", "description": a.description}
        for a in site.analytes
    ]
    return {
        "format_version": FORMAT_VERSION,
        "site": {"code": site.code, "name": site.name},
        "sponsor": {"code": proc.sponsor_code, "name": proc.sponsor_name},
        "product": {"code": proc.product_code, "name": proc.product_name},
        "process": {
            "code": proc.process_code,
            "version": proc.process_version,
            "name": proc.process_name,
        },
        "equipment": equipment,
        "tags": tags,
        "batches": [
            {
                "batch_id": b.batch_id,
                "path": b.batch_id,
                "scale_l": site.scale_l,
                "start": iso(b.start),
                "end": iso(b.end),
                "status": b.status,
                "raman_instrument": b.raman.instrument_id,
                "unit_operations": [
                    {
                        "kind": "production_bioreactor",
                        "start": iso(b.start),
                        "end": iso(b.end),
                        "equipment": [b.bioreactor, b.raman.instrument_id],
                    }
                ],
            }
            for b in batches
        ],
    }


def _events(batch: BatchRecord) -> dict[str, Any]:
    def at(h: float) -> str:
        return iso(batch.start + timedelta(seconds=round(h * 3600.0)))

    return {
        "phases": [
            {
                "unit_operation": "production_bioreactor",
                "name": p.name,
                "start": at(p.start_h),
                "end": at(p.end_h),
            }
            for p in batch.phases
        ],
        "deviations": [
            {
                "deviation_id": d.deviation_id,
                "opened_at": at(d.record.opened_h),
                "category": d.record.category,
                "description": d.record.description,
                "root_cause": d.record.root_cause,
                "status": d.record.status,
                "failure_mode": d.record.failure_mode,
                "capa": [
                    {"capa_id": cid, "action": c.action, "effective": c.effective}
                    for cid, c in zip(d.capa_ids, d.record.capa, strict=True)
                ],
            }
            for d in batch.deviations
        ],
        "quality_results": [
            {
                "attribute": q.attribute,
                "value": _json_number(q.value),
                "unit": q.unit,
                "spec_low": _json_number(q.spec_low),
                "spec_high": _json_number(q.spec_high),
            }
            for q in batch.quality
        ],
    }


def _channel_names(wn: np.ndarray) -> list[str]:
    for decimals in range(1, 5):
        names = [f"{w:.{decimals}f}" for w in wn]
        values = [float(n) for n in names]
        if len(set(names)) == len(names) and bool(np.all(np.diff(values) > 0)):
            return names
    raise ValidationError("Raman wavenumbers must be strictly increasing; got repeated values")


def _needs_quoting(text: str) -> bool:
    return any(c in text for c in ',"\r\n')


def _write_wide_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write a timestamp + numbers table fast (Arrow), empty cells for missing values.

    Falls back to pandas (RFC 4180 quoting) when a header needs quotes; timestamps and
    numbers never do.
    """
    if any(_needs_quoting(str(c)) for c in frame.columns):
        frame.to_csv(path, index=False, na_rep="", lineterminator="\n")
        return
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))


def _write_batch(batch: BatchRecord, folder: Path, fmt: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = batch.process_data
    values = data.drop(columns="t_h")
    if not np.isfinite(values.to_numpy(dtype=float)[~values.isna().to_numpy()]).all():
        raise ValidationError(f"{batch.batch_id}: process values must be finite")
    if fmt == "csv":
        out = values.copy()
        out.insert(0, "timestamp", timestamps(batch.start, data["t_h"].to_numpy()))
        _write_wide_csv(out, folder / "process.csv")
    else:
        out = values.copy()
        out.insert(0, "timestamp", _tz_aware(batch.start, data["t_h"].to_numpy()))
        out.to_parquet(folder / "process.parquet", index=False)
    lab = batch.lab_data
    pd.DataFrame(
        {
            "sampled_at": timestamps(batch.start, lab["t_h"].to_numpy()),
            "analyte": lab["analyte"],
            "value": lab["value"],
            "unit": lab["unit"],
        }
    ).to_csv(folder / "lab.csv", index=False, lineterminator="\n")
    (folder / "events.json").write_text(
        json.dumps(_events(batch), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    raman = batch.raman
    if not np.isfinite(raman.spectra).all():
        raise ValidationError(f"{batch.batch_id}: Raman spectra must be finite")
    by_channel = np.ascontiguousarray(raman.spectra.T, dtype=np.float32)
    columns = [pa.array(_tz_aware(batch.start, raman.t_h))]
    columns += [pa.array(row) for row in by_channel]
    names = ["timestamp", *_channel_names(raman.wavenumbers)]
    pq.write_table(pa.Table.from_arrays(columns, names=names), folder / "raman.parquet")


def _prepare(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:
            raise ConflictError(
                f"output folder must be empty (or use overwrite); {out_dir} has files in it"
            )
        if not (out_dir / GROUND_TRUTH_FILE).exists():
            raise ConflictError(
                f"overwrite only replaces a previous campaign folder (with {GROUND_TRUTH_FILE}); "
                f"{out_dir} does not look like one"
            )
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)


def write_campaign(
    campaign: Campaign,
    out_dir: str | Path,
    *,
    fmt: str = "csv",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> WrittenCampaign:
    """Write every batch of ``campaign`` as ingest bundles, plus ``ground_truth.json``.

    Parameters
    ----------
    campaign : Campaign
        From :func:`bioprocess.campaign.generate_campaign`.
    out_dir : path
        Destination; must be empty, or a previous campaign folder with ``overwrite``.
    fmt : {"csv", "parquet"}
        Format of the online-tag file.
    overwrite : bool
        Replace a previous campaign folder.
    progress : callable, optional
        ``progress(batch_id, done, total)`` after each batch.
    """
    if fmt not in ("csv", "parquet"):
        raise ValidationError(f"fmt must be 'csv' or 'parquet'; got {fmt!r} instead")
    out = Path(out_dir)
    _prepare(out, overwrite)
    groups: dict[str, list[BatchRecord]] = {}
    for b in campaign.batches:
        groups.setdefault(_bundle_name(campaign, b), []).append(b)
    bundle_of = {}
    done = 0
    for name, batches in groups.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "manifest.json").write_text(
            json.dumps(_manifest(batches), indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        for b in batches:
            _write_batch(b, folder / b.batch_id, fmt)
            bundle_of[b.batch_id] = name
            done += 1
            if progress is not None:
                progress(b.batch_id, done, len(campaign.batches))
    truth = campaign.ground_truth()
    truth["bundle_format_version"] = FORMAT_VERSION
    for entry in truth["batches"]:
        entry["bundle"] = bundle_of[entry["batch_id"]]
    gt_path = out / GROUND_TRUTH_FILE
    gt_path.write_text(json.dumps(truth, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    n_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return WrittenCampaign(
        out_dir=out,
        bundles=tuple(out / n for n in groups),
        ground_truth=gt_path,
        n_batches=len(campaign.batches),
        n_bytes=n_bytes,
    )
