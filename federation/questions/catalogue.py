"""Load the named questions (``*.rq`` beside this file) and bind their parameters.

Each file starts with ``# title:``, ``# description:`` (continued on ``#   `` lines) and
``# param NAME: TYPE = DEFAULT`` lines; ``$NAME`` in the query is replaced by the checked,
serialised value (numbers only as numbers, IRIs only as ``<...>``, strings escaped), so a
parameter can never inject SPARQL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources

from bioprocess.errors import NotFoundError, ValidationError

_PARAM = re.compile(r"^#\s*param\s+(\w+)\s*:\s*(float|int|str|iri)\s*=\s*(.*)$")


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: str
    default: str


@dataclass(frozen=True)
class Question:
    name: str
    title: str
    description: str
    parameters: tuple[Parameter, ...]
    template: str

    def bind(self, values: dict[str, str] | None = None) -> str:
        """The query with every ``$param`` replaced by a checked literal."""
        values = values or {}
        unknown = set(values) - {p.name for p in self.parameters}
        if unknown:
            raise ValidationError(f"question '{self.name}' has no parameter(s) "
                                  f"{sorted(unknown)}; its parameters are "
                                  f"{[p.name for p in self.parameters]}")
        query = self.template
        for param in self.parameters:
            raw = values.get(param.name, param.default)
            query = query.replace(f"${param.name}", _literal(self.name, param, raw))
        return query


def _literal(question: str, param: Parameter, raw: str) -> str:
    try:
        if param.kind == "float":
            return repr(float(raw))
        if param.kind == "int":
            return str(int(raw))
    except ValueError as exc:
        raise ValidationError(f"parameter '{param.name}' of question '{question}' must be "
                              f"{'a number' if param.kind == 'float' else 'an integer'}; got "
                              f"'{raw}' instead") from exc
    if param.kind == "iri":
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|^`\\]*", raw):
            raise ValidationError(f"parameter '{param.name}' of question '{question}' must be "
                                  f"an absolute IRI; got '{raw}' instead")
        return f"<{raw}>"
    return json.dumps(raw)  # a SPARQL string literal with escapes


def _parse(name: str, text: str) -> Question:
    title, description, params = name, [], []
    in_description = False
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# title:"):
            title, in_description = line.split(":", 1)[1].strip(), False
        elif line.startswith("# description:"):
            description, in_description = [line.split(":", 1)[1].strip()], True
        elif (match := _PARAM.match(line)) is not None:
            params.append(Parameter(*match.groups()))
            in_description = False
        elif in_description and line.startswith("#   "):
            description.append(line[1:].strip())
    return Question(name=name, title=title, description=" ".join(description),
                    parameters=tuple(params), template=text)


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
