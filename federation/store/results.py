"""Query results: the python view both backends produce, and their standard serialisations.

Both backends turn what the engine returns into the same :class:`QueryResult` (variables and
rows of pyoxigraph terms, a boolean, or triples) and serialise it here, so a result is
byte-for-byte the same whichever store answered, and truncation at the row cap is reported
the same way. Formats: SPARQL 1.1 Query Results JSON, XML, CSV and TSV for SELECT/ASK;
N-Triples, N-Quads, Turtle, JSON-LD and RDF/XML (via pyoxigraph's serialisers) for
CONSTRUCT/DESCRIBE.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

from federation.store.errors import ResultFormatError
from federation.store.sparql_guard import QueryForm

#: An RDF term as pyoxigraph represents it.
Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


class ResultFormat(Enum):
    """A serialisation of query results, named by its media type."""

    JSON = "application/sparql-results+json"
    XML = "application/sparql-results+xml"
    CSV = "text/csv"
    TSV = "text/tab-separated-values"
    N_TRIPLES = "application/n-triples"
    N_QUADS = "application/n-quads"
    TURTLE = "text/turtle"
    JSON_LD = "application/ld+json"
    RDF_XML = "application/rdf+xml"

    @property
    def media_type(self) -> str:
        """The media type (without parameters)."""
        return self.value

    @property
    def is_graph_format(self) -> bool:
        """True for RDF formats (CONSTRUCT/DESCRIBE), False for SPARQL results formats."""
        return self in _RDF_FORMATS

    @classmethod
    def from_media_type(cls, media_type: str) -> ResultFormat | None:
        """The format for a media type such as ``text/csv; charset=utf-8``, if supported."""
        base = media_type.split(";", 1)[0].strip().lower()
        return _BY_MEDIA_TYPE.get(base)

    @classmethod
    def default_for(cls, form: QueryForm) -> ResultFormat:
        """JSON for SELECT/ASK, N-Triples for CONSTRUCT/DESCRIBE."""
        return cls.N_TRIPLES if form in ("CONSTRUCT", "DESCRIBE") else cls.JSON

    @classmethod
    def choose(cls, form: QueryForm, requested: ResultFormat | None) -> ResultFormat:
        """``requested`` if it can carry results of ``form``, else :class:`ResultFormatError`."""
        if requested is None:
            return cls.default_for(form)
        if requested.is_graph_format != (form in ("CONSTRUCT", "DESCRIBE")):
            kind = "RDF graph" if requested.is_graph_format else "SPARQL results"
            raise ResultFormatError(
                f"{form} results cannot be written as {requested.media_type} (a {kind} format); "
                f"ask for one of {', '.join(f.media_type for f in cls.choices_for(form))}"
            )
        return requested

    @classmethod
    def choices_for(cls, form: QueryForm) -> list[ResultFormat]:
        """Every format that can carry results of ``form``, the default first."""
        graph = form in ("CONSTRUCT", "DESCRIBE")
        return [f for f in cls if f.is_graph_format == graph]


_RDF_FORMATS: dict[ResultFormat, ox.RdfFormat] = {
    ResultFormat.N_TRIPLES: ox.RdfFormat.N_TRIPLES,
    ResultFormat.N_QUADS: ox.RdfFormat.N_QUADS,
    ResultFormat.TURTLE: ox.RdfFormat.TURTLE,
    ResultFormat.JSON_LD: ox.RdfFormat.JSON_LD,
    ResultFormat.RDF_XML: ox.RdfFormat.RDF_XML,
}
_BY_MEDIA_TYPE: dict[str, ResultFormat] = {f.media_type: f for f in ResultFormat} | {
    "application/json": ResultFormat.JSON,
    "application/xml": ResultFormat.XML,
    "text/xml": ResultFormat.XML,
    "text/plain": ResultFormat.N_TRIPLES,
    "application/x-turtle": ResultFormat.TURTLE,
}


@dataclass(frozen=True)
class QueryResult:
    """The results of one read-only query, as python values and serialised on demand.

    Exactly one of the views is meaningful, by ``form``: ``variables``/``rows`` for SELECT,
    ``boolean`` for ASK, ``triples`` for CONSTRUCT/DESCRIBE. ``truncated`` is True when the
    engine had more rows (or triples) than the ``max_results`` cap: the first ``max_results``
    are kept, the rest are not computed.
    """

    form: QueryForm
    result_format: ResultFormat
    variables: tuple[str, ...] = ()
    #: One tuple per solution, aligned with ``variables``; ``None`` means unbound.
    rows: tuple[tuple[Term | None, ...], ...] = ()
    boolean: bool | None = None
    triples: tuple[ox.Triple, ...] = ()
    truncated: bool = False
    #: Seconds the engine spent (wall clock, excluding serialisation).
    elapsed_s: float = field(default=0.0, compare=False)

    @property
    def media_type(self) -> str:
        """Media type of :attr:`body`."""
        return self.result_format.media_type

    @cached_property
    def body(self) -> bytes:
        """The results serialised in :attr:`result_format`."""
        return self.serialize(self.result_format)

    def serialize(self, result_format: ResultFormat) -> bytes:
        """The results in another format (must suit the query form)."""
        result_format = ResultFormat.choose(self.form, result_format)
        if result_format.is_graph_format:
            return ox.serialize(self.triples, format=_RDF_FORMATS[result_format]) or b""
        return _SOLUTION_WRITERS[result_format](self)

    def bindings(self) -> list[dict[str, Term]]:
        """SELECT rows as ``{variable: term}`` dicts, unbound variables left out."""
        return [
            {name: term for name, term in zip(self.variables, row, strict=True)
             if term is not None}
            for row in self.rows
        ]

    def __len__(self) -> int:
        """Number of rows (SELECT), triples (CONSTRUCT/DESCRIBE) or 1 (ASK)."""
        if self.form == "ASK":
            return 1
        return len(self.triples) if self.form in ("CONSTRUCT", "DESCRIBE") else len(self.rows)


# --- SPARQL 1.1 Query Results JSON ---------------------------------------------------------


def _json_term(term: Term) -> dict[str, object]:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out: dict[str, object] = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
            if term.direction is not None:
                out["its:dir"] = str(term.direction)
        elif term.datatype.value != _XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    return {"type": "triple", "value": {"subject": _json_term(term.subject),
                                        "predicate": _json_term(term.predicate),
                                        "object": _json_term(term.object)}}


def _write_json(result: QueryResult) -> bytes:
    if result.form == "ASK":
        return json.dumps({"head": {}, "boolean": bool(result.boolean)}).encode()
    body = {
        "head": {"vars": list(result.variables)},
        "results": {"bindings": [
            {name: _json_term(term) for name, term in zip(result.variables, row, strict=True)
             if term is not None}
            for row in result.rows
        ]},
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# --- SPARQL Query Results XML --------------------------------------------------------------


def _xml_term(term: Term) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if isinstance(term, ox.Literal):
        if term.language:
            return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
        if term.datatype.value != _XSD_STRING:
            return (f"<literal datatype={quoteattr(term.datatype.value)}>"
                    f"{escape(term.value)}</literal>")
        return f"<literal>{escape(term.value)}</literal>"
    return (f"<triple><subject>{_xml_term(term.subject)}</subject>"
            f"<predicate>{_xml_term(term.predicate)}</predicate>"
            f"<object>{_xml_term(term.object)}</object></triple>")


def _write_xml(result: QueryResult) -> bytes:
    out = io.StringIO()
    out.write('<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">')
    out.write("<head>")
    for name in result.variables:
        out.write(f"<variable name={quoteattr(name)}/>")
    out.write("</head>")
    if result.form == "ASK":
        out.write(f"<boolean>{'true' if result.boolean else 'false'}</boolean>")
    else:
        out.write("<results>")
        for row in result.rows:
            out.write("<result>")
            for name, term in zip(result.variables, row, strict=True):
                if term is not None:
                    out.write(f"<binding name={quoteattr(name)}>{_xml_term(term)}</binding>")
            out.write("</result>")
        out.write("</results>")
    out.write("</sparql>\n")
    return out.getvalue().encode()


# --- SPARQL 1.1 Query Results CSV and TSV --------------------------------------------------


def _csv_value(term: Term | None) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    if isinstance(term, ox.NamedNode | ox.Literal):
        return term.value
    return str(term)


def _write_csv(result: QueryResult) -> bytes:
    out = io.StringIO()
    if result.form == "ASK":
        return b"true\r\n" if result.boolean else b"false\r\n"
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(result.variables)
    for row in result.rows:
        writer.writerow([_csv_value(term) for term in row])
    return out.getvalue().encode()


def _tsv_value(term: Term | None) -> str:
    # N-Triples syntax; raw tabs can only occur inside literals, where TSV wants "\t".
    return "" if term is None else str(term).replace("\t", "\\t")


def _write_tsv(result: QueryResult) -> bytes:
    if result.form == "ASK":
        return b"true\n" if result.boolean else b"false\n"
    lines = ["\t".join(f"?{name}" for name in result.variables)]
    lines += ["\t".join(_tsv_value(term) for term in row) for row in result.rows]
    return ("\n".join(lines) + "\n").encode()


_SOLUTION_WRITERS = {
    ResultFormat.JSON: _write_json,
    ResultFormat.XML: _write_xml,
    ResultFormat.CSV: _write_csv,
    ResultFormat.TSV: _write_tsv,
}
