"""What the dashboard reads from the store, always within the caller's scope.

Every function takes the :class:`Reader` of one request (store + caller scope + limits) and
returns plain Python rows; none of them can see a graph outside the caller's sponsors,
because every query goes through the store's scoped ``query`` (see ``federation/scope.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyoxigraph as ox

from bioprocess.errors import ValidationError
from federation.registry.service import Principal
from federation.scope import Scope, caller_scope
from federation.store.base import QueryResult, Store

PREFIXES = """PREFIX tf: <https://w3id.org/twinfed/ontology#>
PREFIX tfp: <https://w3id.org/twinfed/parameter/>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""

_NUMERIC = {f"http://www.w3.org/2001/XMLSchema#{t}"
            for t in ("double", "float", "decimal", "integer", "int", "long",
                      "nonNegativeInteger")}
_BOOLEAN = "http://www.w3.org/2001/XMLSchema#boolean"


def python_value(term: object) -> Any:
    """An RDF term as the value a page shows: numbers as numbers, IRIs and text as str."""
    if isinstance(term, ox.Literal):
        if term.datatype.value in _NUMERIC:
            try:
                return float(term.value) if "." in term.value or "e" in term.value.lower() \
                    else int(term.value)
            except ValueError:
                return term.value
        if term.datatype.value == _BOOLEAN:
            return term.value == "true"
        return term.value
    if isinstance(term, ox.NamedNode | ox.BlankNode):
        return term.value
    return None if term is None else str(term)


def string_literal(value: str) -> str:
    """A checked SPARQL string literal (escaped, so a filter value cannot inject SPARQL)."""
    return json.dumps(value)


@dataclass
class Reader:
    """One request's view of the store: scoped queries with the federation's limits."""

    store: Store
    principal: Principal
    timeout_s: float = 30.0
    max_results: int = 100_000
    _scope: Scope | None = None

    @property
    def scope(self) -> Scope:
        if self._scope is None:
            self._scope = caller_scope(self.store, self.principal)
        return self._scope

    def select(self, sparql: str, *, prefixed: bool = True) -> tuple[list[dict[str, Any]], bool]:
        """Rows of a SELECT (variable -> value) and whether the row cap truncated them."""
        scope = self.scope
        if scope.empty:
            return [], False
        result = self.store.query(PREFIXES + sparql if prefixed else sparql,
                                  graphs=scope.graphs, sponsors=scope.sponsors,
                                  timeout_s=self.timeout_s, max_results=self.max_results)
        rows = [{k: python_value(v) for k, v in row.items()} for row in result.bindings()]
        return rows, result.truncated

    def select_in(self, graphs: list[str], sparql: str) -> list[dict[str, Any]]:
        """Rows of a SELECT over the union of ``graphs`` only (each must be in scope, or
        the store refuses): a few graphs make a small dataset, so queries are fast."""
        scope = self.scope
        result = self.store.query(PREFIXES + sparql, graphs=scope.graphs,
                                  sponsors=scope.sponsors, default_graphs=graphs,
                                  timeout_s=self.timeout_s, max_results=self.max_results)
        return [{k: python_value(v) for k, v in row.items()} for row in result.bindings()]

    def run(self, sparql: str) -> QueryResult:
        """Any read-only query as given (the console): the raw result, within the scope."""
        scope = self.scope
        return self.store.query(sparql, graphs=scope.graphs, sponsors=scope.sponsors,
                                timeout_s=self.timeout_s, max_results=self.max_results)

    def rows(self, sparql: str) -> list[dict[str, Any]]:
        return self.select(sparql)[0]


# --- sites ---------------------------------------------------------------------------------

def batches_per_site(reader: Reader) -> dict[str, dict[str, Any]]:
    """Per site: visible batches, by status, deviations, and the newest batch start."""
    rows = reader.rows("""
        SELECT ?site ?status (COUNT(DISTINCT ?b) AS ?n) (MAX(STR(?start)) AS ?latest)
        WHERE { ?b a tf:Batch ; tf:atSite ?s ; tf:batchStatus ?status ; tf:startTime ?start .
                ?s tf:siteCode ?site }
        GROUP BY ?site ?status""")
    deviations = {r["site"]: r["n"] for r in reader.rows("""
        SELECT ?site (COUNT(DISTINCT ?d) AS ?n)
        WHERE { ?d a tf:DeviationRecord ; tf:ofBatch ?b . ?b tf:atSite ?s . ?s tf:siteCode ?site }
        GROUP BY ?site""")}
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        site = out.setdefault(r["site"], {"batches": 0, "by_status": {}, "latest_start": "",
                                          "deviations": deviations.get(r["site"], 0)})
        site["batches"] += r["n"]
        site["by_status"][r["status"]] = r["n"]
        site["latest_start"] = max(site["latest_start"], r["latest"] or "")
    return out


# --- deviations ----------------------------------------------------------------------------

@dataclass(frozen=True)
class DeviationFilter:
    site: str | None = None
    process: str | None = None
    category: str | None = None
    opened_from: date | None = None
    opened_to: date | None = None

    @classmethod
    def parse(cls, site: str | None, process: str | None, category: str | None,
              opened_from: str | None, opened_to: str | None) -> DeviationFilter:
        def day(name: str, raw: str | None) -> date | None:
            if not raw:
                return None
            try:
                return date.fromisoformat(raw)
            except ValueError:
                raise ValidationError(f"'{name}' must be a date (YYYY-MM-DD); got '{raw}' "
                                      "instead") from None
        return cls(site or None, process or None, category or None,
                   day("from", opened_from), day("to", opened_to))

    def clauses(self) -> str:
        parts = []
        for var, value in (("site", self.site), ("process", self.process),
                           ("category", self.category)):
            if value:
                parts.append(f"FILTER (STR(?{var}) = {string_literal(value)})")
        if self.opened_from:
            parts.append(f"FILTER (STR(?opened) >= {string_literal(self.opened_from.isoformat())})")
        if self.opened_to:  # the whole last day: compare with the next day's prefix
            parts.append(f"FILTER (SUBSTR(STR(?opened), 1, 10) <= "
                         f"{string_literal(self.opened_to.isoformat())})")
        return "\n".join(parts)


def deviation_options(reader: Reader) -> dict[str, list[str]]:
    """The sites, processes and categories the caller's deviations span (for the filters)."""
    rows = reader.rows("""
        SELECT DISTINCT ?site ?process ?category WHERE {
          ?d a tf:DeviationRecord ; tf:ofBatch ?b ; tf:category ?category .
          ?b tf:atSite ?s ; tf:ofProcess ?p . ?s tf:siteCode ?site . ?p tf:processCode ?process
        }""")
    return {key: sorted({r[key] for r in rows}) for key in ("site", "process", "category")}


def deviations(reader: Reader, where: DeviationFilter, limit: int = 500
               ) -> tuple[list[dict[str, Any]], bool]:
    """Quality-system deviation records with their batch, process and CAPA, newest first."""
    return reader.select(deviations_sparql(where, limit))


def deviations_sparql(where: DeviationFilter, limit: int = 500) -> str:
    """The deviations query (without prefixes); one row more than ``limit`` tells "more"."""
    return (f"""
        SELECT ?site ?batchId ?process ?deviationId ?opened ?category ?description
               ?rootCause ?status ?failureMode
               (GROUP_CONCAT(DISTINCT ?capaText; separator=" | ") AS ?capa)
        WHERE {{
          ?d a tf:DeviationRecord ; tf:ofBatch ?b ; tf:deviationId ?deviationId ;
             tf:openedAt ?opened ; tf:category ?category ; dcterms:description ?description .
          ?b tf:batchId ?batchId ; tf:atSite ?s ; tf:ofProcess ?p .
          ?s tf:siteCode ?site . ?p tf:processCode ?process .
          OPTIONAL {{ ?d tf:rootCause ?rootCause }}
          OPTIONAL {{ ?d tf:recordStatus ?status }}
          OPTIONAL {{ ?d tf:failureMode ?failureMode }}
          OPTIONAL {{ ?d tf:hasCAPA ?c . ?c tf:capaId ?capaId ; tf:action ?action .
                     OPTIONAL {{ ?c tf:effective ?effective }}
                     BIND (CONCAT(?capaId, ": ", ?action,
                           IF(BOUND(?effective), IF(?effective, " (effective)",
                              " (not effective)"), "")) AS ?capaText) }}
          {where.clauses()}
        }}
        GROUP BY ?site ?batchId ?process ?deviationId ?opened ?category ?description
                 ?rootCause ?status ?failureMode
        ORDER BY DESC(?opened) ?site ?batchId
        LIMIT {int(limit) + 1}""")


# --- one batch -----------------------------------------------------------------------------

def batch(reader: Reader, site: str, batch_id: str) -> dict[str, Any] | None:
    """A batch's context, quality results, deviation records and deviation events."""
    facts = reader.rows(f"""
        SELECT ?b ?process ?version ?sponsor ?status ?scale ?start ?end ?raw WHERE {{
          ?s tf:siteCode {string_literal(site)} .
          ?b tf:atSite ?s ; tf:batchId {string_literal(batch_id)} ;
             tf:ofProcess ?p ; tf:batchStatus ?status ; tf:startTime ?start .
          ?p tf:processCode ?process ; tf:processVersion ?version .
          OPTIONAL {{ ?b tf:sponsor ?sp . ?sp tf:sponsorCode ?sponsor }}
          OPTIONAL {{ ?b tf:scaleLitre ?scale }} OPTIONAL {{ ?b tf:endTime ?end }}
          OPTIONAL {{ ?b tf:rawData ?raw }}
        }} LIMIT 1""")
    if not facts:
        return None
    out = dict(facts[0])
    out["site"], out["batch_id"] = site, batch_id
    b = str(ox.NamedNode(out["b"]))
    # The rest reads only the batch's own graph (docs/rdf-export.md: named like the batch)
    # and the site's shared meta graph (tag names): a small dataset where OPTIONALs are
    # cheap (Oxigraph evaluates an OPTIONAL on its own before joining; over the sponsor's
    # whole union an unanchored one reads every aligned value of every batch).
    graphs = [g for g in reader.store.graph_metadata([out["b"]])]
    graphs += [g for g in reader.store.graphs_where(site=site) if g in reader.scope.graphs]
    select = (lambda q: reader.select_in(graphs, q)) if out["b"] in graphs else reader.rows
    out["quality"] = select(f"""
        SELECT ?attribute ?value ?unit ?aligned ?alignedUnit ?low ?high WHERE {{
          ?q tf:ofBatch {b} ; a tf:QualityResult ; tf:attribute ?attribute ; tf:value ?value ;
             tf:unitLabel ?unit .
          OPTIONAL {{ ?q tf:alignedValue ?aligned ; tf:alignedUnit ?alignedUnit }}
          OPTIONAL {{ ?q tf:specLow ?low }} OPTIONAL {{ ?q tf:specHigh ?high }}
        }} ORDER BY ?attribute""")
    out["events"] = select(f"""
        SELECT ?e ?tag ?parameter ?phase ?direction ?magnitude ?start ?duration WHERE {{
          ?e tf:ofBatch {b} ; a tf:DeviationEvent ; tf:ofTag ?t ; tf:direction ?direction ;
             tf:magnitude ?magnitude ; tf:startHour ?start ; tf:durationHours ?duration ;
             tf:inPhase ?ph .
          ?ph tf:phaseName ?phase . ?t skos:prefLabel ?tag .
          OPTIONAL {{ ?e tf:parameter ?parameter }}
        }} ORDER BY DESC(?magnitude)""")
    out["deviations"] = select(f"""
        SELECT ?deviationId ?opened ?category ?description ?rootCause ?status WHERE {{
          ?d tf:ofBatch {b} ; a tf:DeviationRecord ; tf:deviationId ?deviationId ;
             tf:openedAt ?opened ; tf:category ?category ; dcterms:description ?description .
          OPTIONAL {{ ?d tf:rootCause ?rootCause }} OPTIONAL {{ ?d tf:recordStatus ?status }}
        }} ORDER BY ?opened""")
    out["estimates"] = select(f"""
        SELECT ?estimate ?modelId ?hour ?value ?unit ?inDomain WHERE {{
          ?estimate tf:ofBatch {b} ; a tf:Estimate ; tf:fromModel ?m ; tf:sampleHour ?hour .
          OPTIONAL {{ ?m tf:modelId ?modelId }}
          OPTIONAL {{ ?estimate tf:value ?value ; tf:unitLabel ?unit }}
          OPTIONAL {{ ?estimate tf:inDomain ?inDomain }}
        }} ORDER BY ?hour LIMIT 12""")
    return out


def batch_list(reader: Reader, limit: int = 2000) -> list[dict[str, Any]]:
    """Every visible batch with its site, process, status, final titre (when aligned) and
    number of deviation events (counted apart: one grouped join over all events is ~10x
    slower in Oxigraph than two small queries)."""
    rows = reader.rows(f"""
        SELECT ?b ?site ?batchId ?process ?status ?start ?titre WHERE {{
          ?b a tf:Batch ; tf:batchId ?batchId ; tf:atSite ?s ; tf:ofProcess ?p ;
             tf:batchStatus ?status ; tf:startTime ?start .
          ?s tf:siteCode ?site . ?p tf:processCode ?process .
          OPTIONAL {{ ?q tf:ofBatch ?b ; tf:parameter tfp:titre ; tf:alignedValue ?titre .
                      ?q a tf:QualityResult }}
        }} ORDER BY ?site ?batchId LIMIT {int(limit)}""")
    counts = {r["b"]: r["n"] for r in reader.rows("""
        SELECT ?b (COUNT(?e) AS ?n) WHERE { ?e a tf:DeviationEvent ; tf:ofBatch ?b }
        GROUP BY ?b""")}
    for row in rows:
        row["events"] = counts.get(row["b"], 0)
    return rows


# --- models --------------------------------------------------------------------------------

def models(reader: Reader) -> list[dict[str, Any]]:
    """Soft-sensor model cards the sites exported, with performance and training batches."""
    return reader.rows("""
        SELECT ?model ?modelId ?version ?target ?unit ?algorithm ?process ?r2 ?rmsecv ?rmsep
               ?bias ?created (COUNT(DISTINCT ?training) AS ?trainingBatches)
               (GROUP_CONCAT(DISTINCT STR(?training); separator=" ") AS ?trainingList)
               (COUNT(DISTINCT ?drift) AS ?driftEvents)
               (GROUP_CONCAT(DISTINCT ?assumption; separator=" | ") AS ?assumptions)
               (GROUP_CONCAT(DISTINCT ?limitation; separator=" | ") AS ?limitations)
               (GROUP_CONCAT(DISTINCT ?driver; separator=" | ") AS ?drivers)
        WHERE {
          ?model a tf:SoftSensorModel ; tf:modelId ?modelId ; tf:modelVersion ?version ;
                 tf:targetAnalyte ?target ; tf:algorithm ?algorithm .
          OPTIONAL { ?model tf:unitLabel ?unit }
          OPTIONAL { ?model tf:ofProcess ?p . ?p tf:processCode ?process }
          OPTIONAL { ?model tf:r2 ?r2 } OPTIONAL { ?model tf:rmsecv ?rmsecv }
          OPTIONAL { ?model tf:rmsep ?rmsep } OPTIONAL { ?model tf:bias ?bias }
          OPTIONAL { ?model prov:generatedAtTime ?created }
          OPTIONAL { ?model prov:wasDerivedFrom ?training }
          OPTIONAL { ?drift tf:aboutModel ?model }
          OPTIONAL { ?model tf:assumption ?assumption }
          OPTIONAL { ?model tf:limitation ?limitation }
          OPTIONAL { ?model tf:driver ?driver }
        }
        GROUP BY ?model ?modelId ?version ?target ?unit ?algorithm ?process ?r2 ?rmsecv ?rmsep
                 ?bias ?created
        ORDER BY ?modelId""")
