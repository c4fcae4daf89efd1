"""Problems found in a bundle, phrased for the person who has to fix the file."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError as PydanticValidationError

from bioprocess.errors import ValidationError

#: Stop collecting after this many problems in one batch: the first ones are what matters.
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one place in a bundle."""

    file: str
    message: str
    #: ``line 418`` (CSV), ``row 12`` (Parquet), ``$.tags[3].unit`` (JSON) or empty.
    where: str = ""
    field: str | None = None

    def __str__(self) -> str:
        place = self.file
        if self.where:
            place += f" {self.where}"
        if self.field is not None:
            place += f", column '{self.field}'" if not self.where.startswith("$") else ""
        return f"{place}: {self.message}"


class BundleError(ValidationError):
    """A bundle (or one batch of it) that breaks the ingest format; nothing was written."""

    def __init__(self, problems: list[Problem], batch_id: str | None = None) -> None:
        self.problems = problems[:MAX_PROBLEMS]
        self.batch_id = batch_id
        more = len(problems) - len(self.problems)
        lines = [str(p) for p in self.problems]
        if more > 0:
            lines.append(f"... and {more} more problems")
        head = f"batch {batch_id} refused" if batch_id else "bundle refused"
        super().__init__(f"{head}: " + "; ".join(lines))


def describe(value: object, limit: int = 60) -> str:
    """A short, quoted rendering of a found value for an error message."""
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def json_path(loc: tuple[int | str, ...]) -> str:
    path = "$"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


_EXPECTATIONS = {
    "missing": "required field is missing",
    "extra_forbidden": "unexpected field (not part of the format)",
    "literal_error": "expected {expected}",
    "greater_than": "must be > {gt}",
    "too_short": "must not be empty",
    "string_pattern_mismatch": "must match {pattern}",
    "timezone_aware": "expected an ISO 8601 timestamp with a UTC offset (e.g. Z or +01:00)",
    "finite_number": "must be a finite number (NaN and infinity are not allowed)",
}


def problems_from_pydantic(file: str, error: PydanticValidationError) -> list[Problem]:
    """Turn pydantic's errors into :class:`Problem` s with JSON paths."""
    problems = []
    for item in error.errors(include_url=False):
        template = _EXPECTATIONS.get(item["type"])
        ctx = item.get("ctx") or {}
        message = template.format(**ctx) if template else item["msg"]
        if item["type"] not in ("missing",) and "input" in item:
            message += f", found {describe(item['input'])}"
        problems.append(Problem(file=file, where=json_path(item["loc"]), message=message))
    return problems
