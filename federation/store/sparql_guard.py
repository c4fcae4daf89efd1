"""Token-level inspection of a SPARQL query before it reaches any engine.

The read-only query path needs facts the engines do not expose through their APIs: the
query form (SELECT, ASK, CONSTRUCT, DESCRIBE — or an update, which is refused), whether the
query calls ``SERVICE`` (refused: no federated calls to arbitrary URLs), the graphs its
``FROM``/``FROM NAMED`` clauses name (checked against the caller's scope), and whether it
uses ``GRAPH`` at all (if not, no named graphs need to be listed for it).

This is a lexer, not a substring match: strings, IRIs, comments, variables, prefixed names,
blank-node labels and language tags are recognised with the SPARQL 1.1 grammar's terminal
rules and removed before keywords are looked at, so ``"customer service"``, ``?service`` or
``ex:Service`` do not trip the check. What remains ("the code") is searched for ``SERVICE``
*without* word boundaries, because Oxigraph's PEG parser needs none: ``?s ?p 1SERVICE <u> {}``
is a SERVICE call there. The check runs on the query as written and on the query with
``\\uXXXX`` escapes decoded (the SPARQL 1.1 spec says escapes are decoded before parsing;
Oxigraph does it only inside strings and IRIs, Jena everywhere), so either reading is covered.
Where the lexer and an engine could disagree it errs towards refusing.

Scope is not enforced here: both backends always pass an explicit dataset to the engine (see
:mod:`federation.store.scope`); this module only turns a ``FROM <g>`` outside the scope into a
clear refusal instead of a silently overridden clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from federation.store.errors import QueryError

QueryForm = Literal["SELECT", "ASK", "CONSTRUCT", "DESCRIBE"]

_QUERY_FORMS: frozenset[str] = frozenset({"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"})
_UPDATE_KEYWORDS: frozenset[str] = frozenset(
    {"INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH"}
)

# SPARQL 1.1 grammar terminals (section 19.8), written as regular expressions.
_PN_CHARS_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_PN_CHARS_U = _PN_CHARS_BASE + "_"
_PN_CHARS = _PN_CHARS_U + r"\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PN_PREFIX = f"[{_PN_CHARS_BASE}](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"
_PN_LOCAL = (
    f"(?:[{_PN_CHARS_U}:0-9]|{_PLX})"
    f"(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?"
)
_BLANK_NODE_LABEL = f"_:[{_PN_CHARS_U}0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"

_TOKEN = re.compile(
    "|".join(
        (
            r"(?P<ws>\s+)",
            r"(?P<comment>#[^\n\r]*)",
            r"(?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''"
            r'|"""(?:[^"\\]|\\.|"(?!""))*"""'
            r"|'(?:[^'\\\n\r]|\\.)*'"
            r'|"(?:[^"\\\n\r]|\\.)*")',
            r"(?P<iri><[^<>\"{}|^`\\\x00-\x20]*>)",
            f"(?P<var>[?$][{_PN_CHARS}]*)",
            r"(?P<langtag>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)",
            f"(?P<bnode>{_BLANK_NODE_LABEL})",
            f"(?P<pname>(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?)",
            r"(?P<word>[A-Za-z0-9_]+)",
            r"(?P<other>.)",
        )
    ),
    re.DOTALL,
)
_CODEPOINT_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_LOCAL_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


@dataclass(frozen=True)
class QueryShape:
    """What the guard learned about a query it accepts."""

    form: QueryForm
    #: Absolute IRIs named by ``FROM`` clauses, in order.
    from_graphs: tuple[str, ...] = ()
    #: Absolute IRIs named by ``FROM NAMED`` clauses, in order.
    from_named_graphs: tuple[str, ...] = ()
    #: False when the query has no ``GRAPH`` keyword, so named graphs cannot matter to it.
    uses_named_graphs: bool = True

    @property
    def has_dataset_clause(self) -> bool:
        """True when the query declares its own dataset (``FROM`` or ``FROM NAMED``)."""
        return bool(self.from_graphs or self.from_named_graphs)

    @property
    def returns_graph(self) -> bool:
        """True for CONSTRUCT and DESCRIBE (RDF triples), False for SELECT and ASK."""
        return self.form in ("CONSTRUCT", "DESCRIBE")


def inspect_query(sparql: str) -> QueryShape:
    """Classify ``sparql`` for the read-only query path, refusing what it must not run.

    Raises :class:`QueryError` for updates, ``SERVICE`` calls, an unrecognisable query form,
    and ``FROM`` clauses whose IRI is relative or uses an undeclared prefix.
    """
    tokens = _tokenize(sparql)
    decoded = _decode_codepoint_escapes(sparql)
    code_views = [_code_of(tokens)]
    if decoded != sparql:
        code_views.append(_code_of(_tokenize(decoded)))
    if any("SERVICE" in code.upper() for code in code_views):
        raise QueryError(
            "SERVICE (federated query to another endpoint) is disabled: queries run only over "
            "the federation's own graphs; remove the SERVICE clause"
        )
    significant = [t for t in tokens if t.kind not in ("ws", "comment")]
    prefixes, base, position = _read_prologue(significant)
    head = significant[position] if position < len(significant) else None
    form = head.text.upper() if head is not None and head.kind == "word" else ""
    if form in _UPDATE_KEYWORDS:
        raise QueryError(
            f"the query path is read-only: SPARQL updates ({form} ...) are refused; "
            "send a SELECT, ASK, CONSTRUCT or DESCRIBE query"
        )
    if form not in _QUERY_FORMS:
        found = head.text if head is not None else "nothing"
        raise QueryError(
            f"a query must start with SELECT, ASK, CONSTRUCT or DESCRIBE (after any PREFIX "
            f"and BASE declarations); got {found!r} instead"
        )
    from_graphs, from_named = _dataset_clauses(significant[position:], prefixes, base)
    return QueryShape(form=form, from_graphs=from_graphs,  # type: ignore[arg-type]
                      from_named_graphs=from_named,
                      uses_named_graphs=any("GRAPH" in code.upper() for code in code_views))


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        tokens.append(_Token(kind, match.group()))
    return tokens


def _code_of(tokens: list[_Token]) -> str:
    """The query with every non-keyword token blanked out (keywords, numbers, punctuation)."""
    return "".join(t.text if t.kind in ("word", "other") else " " for t in tokens)


def _decode_codepoint_escapes(text: str) -> str:
    def decode(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code <= 0x10FFFF else match.group()

    return _CODEPOINT_ESCAPE.sub(decode, text)


def _read_prologue(tokens: list[_Token]) -> tuple[dict[str, str], str | None, int]:
    """Read ``BASE``/``PREFIX`` declarations; return prefixes, base and the next position."""
    prefixes: dict[str, str] = {}
    base: str | None = None
    i = 0
    while i < len(tokens) and tokens[i].kind == "word":
        keyword = tokens[i].text.upper()
        if keyword == "BASE" and i + 1 < len(tokens) and tokens[i + 1].kind == "iri":
            base = tokens[i + 1].text[1:-1]
            i += 2
        elif (keyword == "PREFIX" and i + 2 < len(tokens) and tokens[i + 1].kind == "pname"
              and tokens[i + 1].text.endswith(":") and tokens[i + 2].kind == "iri"):
            prefixes[tokens[i + 1].text[:-1]] = tokens[i + 2].text[1:-1]
            i += 3
        else:
            break
    return prefixes, base, i


def _dataset_clauses(
    tokens: list[_Token], prefixes: dict[str, str], base: str | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """IRIs of every ``FROM`` and ``FROM NAMED`` clause (the keyword occurs nowhere else)."""
    default: list[str] = []
    named: list[str] = []
    for i, token in enumerate(tokens):
        if token.kind != "word" or token.text.upper() != "FROM":
            continue
        j = i + 1
        target = default
        if j < len(tokens) and tokens[j].kind == "word" and tokens[j].text.upper() == "NAMED":
            target, j = named, j + 1
        if j >= len(tokens) or tokens[j].kind not in ("iri", "pname"):
            raise QueryError("FROM must be followed by a graph IRI; got "
                             f"{tokens[j].text if j < len(tokens) else 'nothing'!r} instead")
        target.append(_resolve(tokens[j], prefixes, base))
    return tuple(default), tuple(named)


def _resolve(token: _Token, prefixes: dict[str, str], base: str | None) -> str:
    if token.kind == "pname":
        prefix, _, local = token.text.partition(":")
        if prefix not in prefixes:
            raise QueryError(f"prefix {prefix!r}: in FROM is not declared; declare it with "
                             f"PREFIX {prefix}: <...>")
        iri = prefixes[prefix] + _LOCAL_ESCAPE.sub(r"\1", local)
    else:
        iri = _decode_codepoint_escapes(token.text[1:-1])
    if not _ABSOLUTE_IRI.match(iri):
        raise QueryError(f"FROM <{iri}> must name an absolute graph IRI (relative IRIs are not "
                         f"accepted in FROM{' even with BASE' if base else ''})")
    return iri
