"""Read a bundle's batches into checked, in-memory :class:`ParsedBatch` es, writing nothing.

Each batch is judged on its own (:func:`read_batch`); its problems are collected and raised
together as one :class:`BundleError`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pydantic

from site_node.ingest.problems import BundleError, Problem, describe, problems_from_pydantic
from site_node.ingest.schemas import (
    BatchEntry,
    DeviationEntry,
    EquipmentEntry,
    EventsFile,
    Manifest,
    QualityResultEntry,
    TagEntry,
    hours_since,
)
from site_node.ingest.source import BundleSource
from site_node.ingest.tables import (
    Table,
    check_strictly_increasing,
    numbers,
    read_csv,
    read_parquet,
    timestamps_ns,
)

TIME_COLUMN = "timestamp"
SERIES_KINDS = ("online", "setpoint", "controller_output")
LAB_COLUMNS = ("sampled_at", "analyte", "value")


@dataclass(frozen=True)
class Series:
    tag: str
    unit: str
    t_h: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class LabRow:
    analyte: str
    value: float
    unit: str
    sampled_at: datetime
    t_h: float


@dataclass(frozen=True)
class Spectra:
    instrument: str
    wavenumbers: np.ndarray
    t_h: np.ndarray
    #: shape (n_spectra, n_channels)
    intensities: np.ndarray


@dataclass(frozen=True)
class PhaseRecord:
    unit_operation: str
    name: str
    start_h: float
    end_h: float | None


@dataclass
class ParsedBatch:
    """One batch, fully checked and ready to be written in one transaction."""

    manifest: Manifest
    entry: BatchEntry
    series: list[Series]
    lab: list[LabRow]
    phases: list[PhaseRecord]
    deviations: list[DeviationEntry]
    quality_results: list[QualityResultEntry]
    spectra: Spectra | None
    source: str
    content_hash: str = ""
    tags_used: list[TagEntry] = field(default_factory=list)
    equipment_used: list[EquipmentEntry] = field(default_factory=list)

    @property
    def batch_id(self) -> str:
        return self.entry.batch_id

    @property
    def n_points(self) -> int:
        spectral = self.spectra.intensities.size if self.spectra is not None else 0
        return sum(s.t_h.size for s in self.series) + len(self.lab) + spectral


def read_manifest(source: BundleSource) -> Manifest:
    """Parse and check ``manifest.json`` as a whole (errors here refuse the whole bundle)."""
    if not source.exists("manifest.json"):
        raise BundleError([Problem(file="manifest.json",
                                   message=f"missing: no manifest.json in {source.label}")])
    raw = _load_json(source.read("manifest.json"), "manifest.json")
    try:
        manifest = Manifest.model_validate(raw)
    except pydantic.ValidationError as exc:
        raise BundleError(problems_from_pydantic("manifest.json", exc)) from exc
    problems: list[Problem] = []
    _unique("manifest.json", "$.tags", [t.name for t in manifest.tags], "name", problems)
    _unique("manifest.json", "$.equipment", [e.equipment_id for e in manifest.equipment],
            "equipment_id", problems)
    _unique("manifest.json", "$.batches", [b.batch_id for b in manifest.batches], "batch_id",
            problems)
    known_equipment = {e.equipment_id for e in manifest.equipment}
    for b_index, batch in enumerate(manifest.batches):
        if batch.end is not None and batch.end <= batch.start:
            problems.append(Problem("manifest.json", f"end must be after start, found "
                                    f"{batch.end.isoformat()}", f"$.batches[{b_index}].end"))
        for u_index, unit_op in enumerate(batch.unit_operations):
            for e_index, equipment_id in enumerate(unit_op.equipment):
                if equipment_id not in known_equipment:
                    problems.append(Problem(
                        "manifest.json",
                        f"unknown equipment {describe(equipment_id)}; expected one of the "
                        "equipment[].equipment_id",
                        f"$.batches[{b_index}].unit_operations[{u_index}].equipment[{e_index}]",
                    ))
    if problems:
        raise BundleError(problems)
    return manifest


def _unique(file: str, path: str, values: list[str], key: str, problems: list[Problem]) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            problems.append(Problem(file, f"duplicate {key} {describe(value)}",
                                    f"{path}[{index}].{key}"))
        seen.add(value)


def _load_json(data: bytes, file: str) -> object:
    try:
        return json.loads(data.decode("utf-8-sig"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise BundleError([Problem(file, f"is not UTF-8 text ({exc.reason})")]) from exc
    except json.JSONDecodeError as exc:
        raise BundleError([Problem(file, f"is not valid JSON: {exc.msg}",
                                   f"line {exc.lineno} column {exc.colno}")]) from exc
    except ValueError as exc:
        raise BundleError([Problem(file, str(exc))]) from exc


def _refuse_constant(name: str) -> float:
    raise ValueError(f"NaN and infinity are not allowed in JSON, found {name}")


def _batch_file(entry: BatchEntry, name: str) -> str:
    folder = entry.folder.strip("/")
    return name if folder in ("", ".") else f"{folder}/{name}"


def read_batch(source: BundleSource, manifest: Manifest, entry: BatchEntry) -> ParsedBatch:
    """Read and check one batch's files; raise :class:`BundleError` listing its problems."""
    problems: list[Problem] = []
    tags = {t.name: t for t in manifest.tags}
    digest = hashlib.sha256()
    digest.update(_canonical({"site": manifest.site, "sponsor": manifest.sponsor,
                              "product": manifest.product, "process": manifest.process,
                              "batch": entry}))

    def load(name: str) -> bytes | None:
        path = _batch_file(entry, name)
        if not source.exists(path):
            return None
        data = source.read(path)
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        return data

    process_csv, process_parquet = load("process.csv"), load("process.parquet")
    series: list[Series] = []
    if process_csv is None and process_parquet is None:
        problems.append(Problem(_batch_file(entry, "process.csv"),
                                "missing: every batch needs process.csv or process.parquet"))
    elif process_csv is not None and process_parquet is not None:
        problems.append(Problem(_batch_file(entry, "process.*"),
                                "both process.csv and process.parquet are present; keep one"))
    else:
        is_csv = process_csv is not None
        file = _batch_file(entry, "process.csv" if is_csv else "process.parquet")
        table = (read_csv(process_csv, file, problems) if is_csv
                 else read_parquet(process_parquet or b"", file, problems))
        if table is not None:
            series = _series(table, entry, tags, problems)

    lab_data = load("lab.csv")
    lab: list[LabRow] = []
    if lab_data is not None:
        table = read_csv(lab_data, _batch_file(entry, "lab.csv"), problems)
        if table is not None:
            lab = _lab(table, entry, tags, problems)

    events = EventsFile()
    events_data = load("events.json")
    if events_data is not None:
        file = _batch_file(entry, "events.json")
        try:
            events = EventsFile.model_validate(_load_json(events_data, file))
        except BundleError as exc:
            problems.extend(exc.problems)
        except pydantic.ValidationError as exc:
            problems.extend(problems_from_pydantic(file, exc))
    phases = _phases(events, entry, _batch_file(entry, "events.json"), problems)

    spectra = None
    raman = load("raman.parquet")
    if raman is not None:
        spectra = _spectra(raman, entry, _batch_file(entry, "raman.parquet"), problems)

    if problems:
        raise BundleError(problems, batch_id=entry.batch_id)
    used = {s.tag for s in series} | {row.analyte for row in lab}
    tags_used = [t for t in manifest.tags if t.name in used]
    digest.update(_canonical({"tags": tags_used}))
    equipment_ids = {e for u in entry.unit_operations for e in u.equipment}
    if entry.raman_instrument:
        equipment_ids.add(entry.raman_instrument)
    equipment_used = [e for e in manifest.equipment if e.equipment_id in equipment_ids]
    digest.update(_canonical({"equipment": equipment_used}))
    return ParsedBatch(
        manifest=manifest, entry=entry, series=series, lab=lab, phases=phases,
        deviations=list(events.deviations), quality_results=list(events.quality_results),
        spectra=spectra, source=source.label, content_hash=digest.hexdigest(),
        tags_used=tags_used, equipment_used=equipment_used,
    )


def _canonical(value: object) -> bytes:
    def default(item: object) -> object:
        if isinstance(item, pydantic.BaseModel):
            return item.model_dump(mode="json")
        raise TypeError(type(item))

    return json.dumps(value, default=default, sort_keys=True, separators=(",", ":")).encode()


def _start_ns(entry: BatchEntry) -> int:
    return int(entry.start.astimezone(UTC).timestamp() * 1e9)


def _relative_hours(ns: np.ndarray, entry: BatchEntry, table: Table, column: str,
                    problems: list[Problem]) -> np.ndarray | None:
    hours = (ns - _start_ns(entry)) / 3.6e12
    early = np.flatnonzero(hours < 0)
    if early.size:
        problems.append(Problem(
            table.file, f"time is before the batch start {entry.start.isoformat()}"
            f" ({early.size} rows)", table.row_label(int(early[0])), column))
        return None
    return hours


def _series(table: Table, entry: BatchEntry, tags: dict[str, TagEntry],
            problems: list[Problem]) -> list[Series]:
    frame = table.frame
    if TIME_COLUMN not in frame.columns:
        problems.append(Problem(table.file, f"missing column '{TIME_COLUMN}'; expected it "
                                f"first, found columns {list(frame.columns)[:8]}", "line 1"))
        return []
    ok = True
    for column in frame.columns:
        if column == TIME_COLUMN:
            continue
        tag = tags.get(column)
        if tag is None:
            problems.append(Problem(table.file, "column is not a tag declared in "
                                    "manifest.json tags[]", "line 1" if table.is_text else "",
                                    column))
            ok = False
        elif tag.kind not in SERIES_KINDS:
            problems.append(Problem(table.file, f"tag has kind '{tag.kind}'; process tables "
                                    f"hold only kinds {list(SERIES_KINDS)} (lab results go "
                                    "in lab.csv)", "line 1" if table.is_text else "", column))
            ok = False
    if not ok or frame.empty:
        if frame.empty:
            problems.append(Problem(table.file, "has no data rows"))
        return []
    ns = timestamps_ns(table, TIME_COLUMN, problems)
    if ns is None or not check_strictly_increasing(ns, table, TIME_COLUMN, problems):
        return []
    hours = _relative_hours(ns, entry, table, TIME_COLUMN, problems)
    if hours is None:
        return []
    result = []
    for column in frame.columns:
        if column == TIME_COLUMN:
            continue
        values = numbers(table, column, problems, allow_empty=True)
        if values is None:
            continue
        present = ~np.isnan(values)
        if present.any():
            result.append(Series(tag=column, unit=tags[column].unit, t_h=hours[present],
                                 values=values[present]))
    return result


def _lab(table: Table, entry: BatchEntry, tags: dict[str, TagEntry],
         problems: list[Problem]) -> list[LabRow]:
    frame = table.frame
    missing = [c for c in LAB_COLUMNS if c not in frame.columns]
    extra = [c for c in frame.columns if c not in (*LAB_COLUMNS, "unit")]
    if missing or extra:
        if missing:
            problems.append(Problem(table.file, f"missing columns {missing}; expected "
                                    f"{list(LAB_COLUMNS)} and optionally 'unit'", "line 1"))
        if extra:
            problems.append(Problem(table.file, f"unexpected columns {extra}; expected "
                                    f"{list(LAB_COLUMNS)} and optionally 'unit'", "line 1"))
        return []
    if frame.empty:
        return []
    ns = timestamps_ns(table, "sampled_at", problems)
    values = numbers(table, "value", problems, allow_empty=False)
    if ns is None or values is None:
        return []
    hours = _relative_hours(ns, entry, table, "sampled_at", problems)
    if hours is None:
        return []
    analytes = frame["analyte"].astype(str).str.strip().tolist()
    units = frame["unit"].astype(str).str.strip().tolist() if "unit" in frame else None
    rows: list[LabRow] = []
    seen: set[tuple[str, int]] = set()
    for index, analyte in enumerate(analytes):
        tag = tags.get(analyte)
        where = table.row_label(index)
        if tag is None:
            problems.append(Problem(table.file, f"analyte {describe(analyte)} is not a tag "
                                    "declared in manifest.json tags[]", where, "analyte"))
        elif tag.kind != "offline":
            problems.append(Problem(table.file, f"analyte {describe(analyte)} has kind "
                                    f"'{tag.kind}'; lab results must be kind 'offline'",
                                    where, "analyte"))
        elif units is not None and units[index] and units[index] != tag.unit:
            problems.append(Problem(table.file, f"unit {describe(units[index])} differs from "
                                    f"the declared unit '{tag.unit}' of {analyte}", where,
                                    "unit"))
        elif (analyte, int(ns[index])) in seen:
            problems.append(Problem(table.file, f"duplicate result for {analyte} at the same "
                                    "sampled_at", where, "sampled_at"))
        else:
            seen.add((analyte, int(ns[index])))
            rows.append(LabRow(analyte=analyte, value=float(values[index]), unit=tag.unit,
                               sampled_at=datetime.fromtimestamp(ns[index] / 1e9, tz=UTC),
                               t_h=float(hours[index])))
        if len(problems) > 20:
            break
    return rows


def _phases(events: EventsFile, entry: BatchEntry, file: str,
            problems: list[Problem]) -> list[PhaseRecord]:
    unit_ops = [u.kind for u in entry.unit_operations]
    records: list[PhaseRecord] = []
    for index, phase in enumerate(events.phases):
        where = f"$.phases[{index}]"
        unit_op = phase.unit_operation
        if unit_op is None:
            if len(unit_ops) > 1:
                problems.append(Problem(file, "unit_operation is required when the batch has "
                                        f"several unit operations {unit_ops}",
                                        where + ".unit_operation"))
                continue
            unit_op = unit_ops[0] if unit_ops else "production"
        elif unit_ops and unit_op not in unit_ops:
            problems.append(Problem(file, f"unknown unit operation {describe(unit_op)}; "
                                    f"expected one of {unit_ops}", where + ".unit_operation"))
            continue
        start_h = hours_since(entry.start, phase.start)
        end_h = hours_since(entry.start, phase.end) if phase.end else None
        if end_h is not None and end_h <= start_h:
            problems.append(Problem(file, "end must be after start", where + ".end"))
            continue
        records.append(PhaseRecord(unit_op, phase.name, start_h, end_h))
    by_unit: dict[str, list[PhaseRecord]] = {}
    for record in records:
        by_unit.setdefault(record.unit_operation, []).append(record)
    for unit_op, phases in by_unit.items():
        ordered = sorted(phases, key=lambda p: p.start_h)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if before.end_h is None or before.end_h > after.start_h + 1e-9:
                problems.append(Problem(file, f"phases '{before.name}' and '{after.name}' of "
                                        f"{unit_op} overlap; phases must not overlap",
                                        "$.phases"))
    return records


def _spectra(data: bytes, entry: BatchEntry, file: str,
             problems: list[Problem]) -> Spectra | None:
    if not entry.raman_instrument:
        problems.append(Problem("manifest.json", f"batch {entry.batch_id} has raman.parquet "
                                "but no raman_instrument", "$.batches[].raman_instrument"))
        return None
    table = read_parquet(data, file, problems)
    if table is None:
        return None
    if TIME_COLUMN not in table.frame.columns:
        problems.append(Problem(file, f"missing column '{TIME_COLUMN}'"))
        return None
    channel_names = [c for c in table.frame.columns if c != TIME_COLUMN]
    try:
        wavenumbers = np.array([float(c) for c in channel_names])
    except ValueError:
        bad = next(c for c in channel_names if not _is_float(c))
        problems.append(Problem(file, f"channel column names must be wavenumbers in cm-1, "
                                f"found {describe(bad)}", field=bad))
        return None
    if wavenumbers.size == 0 or np.any(np.diff(wavenumbers) <= 0) or not np.all(
            np.isfinite(wavenumbers)):
        problems.append(Problem(file, "wavenumber columns must be finite and strictly "
                                "increasing"))
        return None
    ns = timestamps_ns(table, TIME_COLUMN, problems)
    if ns is None or not check_strictly_increasing(ns, table, TIME_COLUMN, problems):
        return None
    hours = _relative_hours(ns, entry, table, TIME_COLUMN, problems)
    if hours is None:
        return None
    intensities = table.frame[channel_names].to_numpy(dtype="float64")
    bad_rows = np.flatnonzero(~np.isfinite(intensities).all(axis=1))
    if bad_rows.size:
        row = int(bad_rows[0])
        column = channel_names[int(np.flatnonzero(~np.isfinite(intensities[row]))[0])]
        problems.append(Problem(file, "expected a finite number, found an empty, NaN or "
                                f"infinite value ({bad_rows.size} rows affected)",
                                table.row_label(row), column))
        return None
    return Spectra(instrument=entry.raman_instrument, wavenumbers=wavenumbers, t_h=hours,
                   intensities=intensities)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
