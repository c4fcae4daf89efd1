"""Load the named questions (``*.rq`` beside this file) and bind their parameters.

Each file starts with a header of ``#`` lines:

- ``# title: ...`` and ``# description: ...`` (continued on ``#   `` lines);
- ``# param NAME: KIND = DEFAULT -- what it means`` per parameter, where KIND is ``float``,
  ``int``, ``str``, ``iri``, ``date`` (``YYYY-MM-DD``) or a choice ``a|b|c``;
- ``# evidence: COL COL* ...``: the result columns that are evidence a user can follow (IRIs
  of deviation events, records, results, envelopes, sites, batches); a trailing ``*`` marks
  a list column (space-separated IRIs from ``GROUP_CONCAT``).

``$NAME`` in the query is replaced by the checked, serialised value (numbers only as
numbers, IRIs only as ``<...>``, dates only as ``xsd:date`` literals, strings escaped), so a
parameter can never inject SPARQL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from bioprocess.errors import NotFoundError, ValidationError

_PARAM = re.compile(r"^#\s*param\s+(\w+)\s*:\s*(float|int|str|iri|date|[\w-]+(?:\|[\w-]+)+)"
                    r"\s*=\s*(.*?)\s*(?:--\s*(.*))?$")
_EVIDENCE = re.compile(r"^#\s*evidence\s*:\s*(.*)$")
_XSD_DATE = "http://www.w3.org/2001/XMLSchema#date"


class ParameterError(ValidationError):
    """A question parameter that is unknown or does not have the declared kind."""

    http_status = 400
    problem_type = "invalid-parameter"
    title = "Invalid question parameter"


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: str
    default: str
    description: str = ""

    @property
    def choices(self) -> tuple[str, ...]:
        """The allowed values of a choice parameter (empty for other kinds)."""
        return tuple(self.kind.split("|")) if "|" in self.kind else ()

    @property
    def expected(self) -> str:
        """What a value must be, in words (used in error messages)."""
        if self.choices:
            return "one of " + ", ".join(f"'{c}'" for c in self.choices)
        return {"float": "a number", "int": "an integer", "iri": "an absolute IRI",
                "date": "a date YYYY-MM-DD", "str": "a string"}[self.kind]

    def as_dict(self) -> dict[str, Any]:
        """JSON view for ``GET /questions``."""
        return {"name": self.name, "type": "choice" if self.choices else self.kind,
                "choices": list(self.choices), "default": self.default,
                "description": self.description}


@dataclass(frozen=True)
class Evidence:
    """A result column holding IRIs a user can follow; ``is_list``: several, space-separated."""

    column: str
    is_list: bool


@dataclass(frozen=True)
class Question:
    name: str
    title: str
    description: str
    parameters: tuple[Parameter, ...]
    template: str
    evidence: tuple[Evidence, ...] = ()

    def bind(self, values: dict[str, str] | None = None) -> str:
        """The query with every ``$param`` replaced by a checked literal."""
        values = values or {}
        unknown = set(values) - {p.name for p in self.parameters}
        if unknown:
            raise ParameterError(f"question '{self.name}' has no parameter(s) "
                                 f"{sorted(unknown)}; its parameters are "
                                 f"{[p.name for p in self.parameters]}")
        query = self.template
        # Longest names first, so $from never eats the start of $from_date.
        for param in sorted(self.parameters, key=lambda p: -len(p.name)):
            raw = values.get(param.name, param.default)
            query = query.replace(f"${param.name}", _literal(self.name, param, raw))
        return query

    def bound_values(self, values: dict[str, str] | None = None) -> dict[str, str]:
        """Every parameter's value as bound: the caller's, else the default."""
        values = values or {}
        return {p.name: values.get(p.name, p.default) for p in self.parameters}

    def as_dict(self) -> dict[str, Any]:
        """JSON view for ``GET /questions``."""
        return {"name": self.name, "title": self.title, "description": self.description,
                "parameters": [p.as_dict() for p in self.parameters],
                "evidence": [{"column": e.column, "list": e.is_list} for e in self.evidence]}


def _literal(question: str, param: Parameter, raw: str) -> str:
    def bad() -> ParameterError:
        return ParameterError(f"parameter '{param.name}' of question '{question}' must be "
                              f"{param.expected}; got '{raw}' instead")

    if param.kind == "float":
        try:
            return repr(float(raw))
        except ValueError as exc:
            raise bad() from exc
    if param.kind == "int":
        try:
            return str(int(raw))
        except ValueError as exc:
            raise bad() from exc
    if param.kind == "iri":
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|^`\\]*", raw):
            raise bad()
        return f"<{raw}>"
    if param.kind == "date":
        try:
            return f'"{date.fromisoformat(raw).isoformat()}"^^<{_XSD_DATE}>'
        except ValueError as exc:
            raise bad() from exc
    if param.choices and raw not in param.choices:
        raise bad()
    return json.dumps(raw)  # a SPARQL string literal with escapes


def _parse(name: str, text: str) -> Question:
    title, description = name, []
    params: list[Parameter] = []
    evidence: list[Evidence] = []
    in_description = False
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# title:"):
            title, in_description = line.split(":", 1)[1].strip(), False
        elif line.startswith("# description:"):
            description, in_description = [line.split(":", 1)[1].strip()], True
        elif (match := _PARAM.match(line)) is not None:
            pname, kind, default, about = match.groups()
            params.append(Parameter(pname, kind, default, (about or "").strip()))
            in_description = False
        elif (match := _EVIDENCE.match(line)) is not None:
            evidence += [Evidence(col.rstrip("*"), col.endswith("*"))
                         for col in match.group(1).split()]
            in_description = False
        elif in_description and line.startswith("#   "):
            description.append(line[1:].strip())
    return Question(name=name, title=title, description=" ".join(description),
                    parameters=tuple(params), template=text, evidence=tuple(evidence))


def questions() -> dict[str, Question]:
    folder = resources.files("federation.questions")
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".rq"):
            name = entry.name[:-3]
            found[name] = _parse(name, entry.read_text(encoding="utf-8"))
    return dict(sorted(found.items()))


def question(name: str) -> Question:
    catalogue = questions()
    if name not in catalogue:
        raise NotFoundError(f"no question named '{name}'; known: {sorted(catalogue)}")
    return catalogue[name]
