"""Read CSV and Parquet tables of a bundle and check their cells, naming row and column.

CSV cells are read as text first so that every refusal can quote what was found; the
checks are vectorised (a 14-day, 1-minute, 30-tag file is ~600k cells).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from site_node.ingest.problems import Problem, describe

_OFFSET_PATTERN = r"(?:Z|z|[+-]\d{2}(?::?\d{2})?)$"
_FIELDS_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_NON_FINITE_WORDS = {"nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


@dataclass
class Table:
    """A parsed table: text or typed columns, and how to name a row to a person."""

    file: str
    frame: pd.DataFrame
    #: True for CSV (cells are text), False for Parquet (cells are typed).
    is_text: bool

    def row_label(self, index: int) -> str:
        return f"line {index + 2}" if self.is_text else f"row {index + 1}"


def read_csv(data: bytes, file: str, problems: list[Problem]) -> Table | None:
    """Parse CSV bytes into a text table; malformed input becomes a :class:`Problem`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(file=file, message=f"is not UTF-8 text ({exc.reason} at byte "
                                                     f"{exc.start})"))
        return None
    first_line = text.split("\n", 1)[0]
    header = next(csv.reader([first_line]), [])
    if not header or all(not h.strip() for h in header):
        problems.append(Problem(file=file, where="line 1", message="has no header row"))
        return None
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        problems.append(Problem(file=file, where="line 1",
                                message=f"duplicate column names {duplicates}"))
        return None
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            na_filter=False, skipinitialspace=False)
    except pd.errors.ParserError as exc:
        text_error = str(exc).strip()
        shape = _FIELDS_ERROR.search(text_error)
        if shape:
            expected, line, found = shape.groups()
            problems.append(Problem(file=file, where=f"line {line}", message=(
                f"is not well-formed CSV: expected {expected} fields as in the header, "
                f"found {found}")))
        else:
            problems.append(Problem(file=file, message=f"is not well-formed CSV: {text_error}"))
        return None
    except pd.errors.EmptyDataError:
        problems.append(Problem(file=file, message="is empty"))
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    return Table(file=file, frame=frame, is_text=True)


def read_parquet(data: bytes, file: str, problems: list[Problem]) -> Table | None:
    """Parse Parquet bytes into a typed table."""
    try:
        arrow_table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        problems.append(Problem(file=file, message=f"is not a readable Parquet file: {exc}"))
        return None
    names = arrow_table.column_names
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(Problem(file=file, message=f"duplicate column names {duplicates}"))
        return None
    columns: dict[str, pd.Series] = {}
    for name, column in zip(names, arrow_table.columns, strict=True):
        if pa.types.is_timestamp(column.type):
            if column.type.tz is None:
                problems.append(Problem(
                    file=file, field=name,
                    message="timestamp column has no time zone; expected UTC-aware timestamps",
                ))
                return None
            ns = column.cast(pa.timestamp("ns", tz="UTC")).to_numpy(zero_copy_only=False)
            columns[name] = pd.Series(ns.astype("datetime64[ns]"))
        elif pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            columns[name] = pd.Series(
                column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype="float64"
            )
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            columns[name] = pd.Series(column.to_pylist(), dtype=object).fillna("")
        else:
            problems.append(Problem(file=file, field=name,
                                    message=f"expected a number column, found type {column.type}"))
            return None
    return Table(file=file, frame=pd.DataFrame(columns), is_text=False)


def timestamps_ns(table: Table, column: str, problems: list[Problem]) -> np.ndarray | None:
    """The column as int64 nanoseconds since the epoch (UTC), or None after a problem."""
    values = table.frame[column]
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    text = values.astype(str).str.strip()
    missing_offset = ~text.str.contains(_OFFSET_PATTERN, regex=True)
    parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    bad = parsed.isna() | missing_offset
    if bad.any():
        index = int(np.flatnonzero(bad.to_numpy())[0])
        found = text.iloc[index]
        reason = ("expected an ISO 8601 timestamp with a UTC offset (e.g. "
                  "2026-03-01T06:00:00Z)")
        if not parsed.isna().iloc[index]:
            reason = "timestamp has no UTC offset; add Z or +hh:mm"
        problems.append(Problem(file=table.file, where=table.row_label(index), field=column,
                                message=f"{reason}, found {describe(found)}"))
        return None
    return parsed.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(
        dtype="datetime64[ns]").astype(np.int64)


def numbers(table: Table, column: str, problems: list[Problem], *,
            allow_empty: bool) -> np.ndarray | None:
    """The column as float64, empty cells as NaN (only where ``allow_empty``)."""
    values = table.frame[column]
    if table.is_text or values.dtype == object:
        text = values.astype(str).str.strip()
        empty = (text == "").to_numpy()
        parsed = pd.to_numeric(text.where(~empty, None), errors="coerce").to_numpy(
            dtype="float64")
        non_finite_word = text.str.lower().isin(_NON_FINITE_WORDS).to_numpy()
        bad = (~empty & ~np.isfinite(parsed)) | non_finite_word
        if not allow_empty:
            bad |= empty
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            found = text.iloc[index]
            if found == "":
                message = "expected a number, found an empty cell"
            elif found.lower() in _NON_FINITE_WORDS:
                message = (f"NaN and infinity are not allowed, found {describe(found)}"
                           + ("; leave the cell empty for a missing sample" if allow_empty
                              else ""))
            else:
                message = f"expected a number, found {describe(found)}"
            problems.append(Problem(file=table.file, where=table.row_label(index), field=column,
                                    message=message + _count_note(bad)))
            return None
        return parsed
    parsed = values.to_numpy(dtype="float64")
    # Parquet: null means "not sampled" (read back as NaN by pyarrow); infinities are refused.
    infinite = np.isinf(parsed)
    missing = np.isnan(parsed)
    bad = infinite | (missing if not allow_empty else np.zeros_like(missing))
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        found = "an empty value" if missing[index] else describe(float(parsed[index]))
        problems.append(Problem(file=table.file, where=table.row_label(index), field=column,
                                message=f"expected a finite number, found {found}"
                                + _count_note(bad)))
        return None
    return parsed


def _count_note(bad: np.ndarray) -> str:
    count = int(bad.sum())
    return f" ({count} such cells in this column)" if count > 1 else ""


def check_strictly_increasing(ns: np.ndarray, table: Table, column: str,
                              problems: list[Problem]) -> bool:
    """Refuse duplicate or backwards time stamps, naming the first offending row."""
    steps = np.diff(ns)
    bad = np.flatnonzero(steps <= 0)
    if bad.size == 0:
        return True
    index = int(bad[0]) + 1
    kind = "duplicate timestamp" if steps[bad[0]] == 0 else "timestamp goes backwards"
    problems.append(Problem(
        file=table.file, where=table.row_label(index), field=column,
        message=f"{kind}: timestamps must be strictly increasing, found "
        f"{_iso(ns[index])} after {_iso(ns[index - 1])}",
    ))
    return False


def _iso(ns: int) -> str:
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").isoformat()


RowLabel = Callable[[int], str]
