"""The SPARQL the site comparison runs (within the caller's scope), one query per view.

``$PROCESS``, ``$SITES`` (a ``VALUES`` block, or nothing for every site) and ``$STATISTICS``
are replaced by :func:`bind` with escaped string literals only.
Everything is read in the shared vocabulary: aligned parameters (``tf:parameter``), aligned
values (``tf:alignedValue``), tag-to-parameter mappings of the sites' alignments; never a
site's tag name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

_PREFIXES = """PREFIX tf: <https://w3id.org/twinfed/ontology#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""

#: The batches of the process at the chosen sites (?siteIri, ?site bound).
_BATCHES = """
  $SITES
  ?process tf:processCode $PROCESS .
  ?batch tf:ofProcess ?process ; tf:atSite ?siteIri .
  ?siteIri tf:siteCode ?site .
"""

#: The same batches as a sub-select, joined on ``?batch``: written inline, the store walked
#: every ``tf:ofBatch`` link of each batch (hundreds of features) to find its few results or
#: unit operations. Demo store, same rows: quality view 20x faster, equipment (with its unit
#: operations selected on their own) 45x, features 1.6x; the whole comparison 2.9x.
_BATCH_ROWS = """
  { SELECT ?site ?siteIri ?batch WHERE {""" + _BATCHES + """  } }
"""

BATCHES = _PREFIXES + """
SELECT ?site ?siteIri ?batch ?batchId ?scale ?start ?process WHERE {""" + _BATCHES + """
  OPTIONAL { ?batch tf:batchId ?batchId }
  OPTIONAL { ?batch tf:scaleLitre ?scale }
  OPTIONAL { ?batch tf:startTime ?start }
}
ORDER BY ?site ?start ?batchId
"""

FEATURES = _PREFIXES + """
SELECT ?site ?batch ?parameter ?phase ?statistic ?value ?unit WHERE {
  VALUES ?statistic { $STATISTICS }
  ?feature tf:statistic ?statistic ; tf:parameter ?parameter ; tf:alignedValue ?value ;
           tf:ofBatch ?batch ; tf:inPhase ?phaseNode .
  ?phaseNode tf:phaseName ?phase .""" + _BATCH_ROWS + """
  OPTIONAL { ?feature tf:alignedUnit ?unit }
}
"""

#: Quality results with their limits and the site's conversion of the attribute (from the
#: aligned site meta graph), to state limits in the canonical unit.
QUALITY = _PREFIXES + """
SELECT ?site ?batch ?result ?attribute ?parameter ?value ?aligned ?alignedUnit ?unit
       ?specLow ?specHigh ?multiplier ?offset WHERE {""" + _BATCH_ROWS + """
  ?result tf:ofBatch ?batch ; a tf:QualityResult ; tf:attribute ?attribute ; tf:value ?value .
  OPTIONAL { ?result tf:parameter ?parameter }
  OPTIONAL { ?result tf:alignedValue ?aligned }
  OPTIONAL { ?result tf:alignedUnit ?alignedUnit }
  OPTIONAL { ?result tf:unitLabel ?unit }
  OPTIONAL { ?result tf:specLow ?specLow }
  OPTIONAL { ?result tf:specHigh ?specHigh }
  OPTIONAL {
    ?concept skos:notation ?attribute ; tf:unitConversion ?conversion .
    ?conversion tf:multiplier ?multiplier .
    OPTIONAL { ?conversion tf:offset ?offset }
    FILTER (STRSTARTS(STR(?concept), STR(?siteIri)))
  }
}
"""

ENVELOPES = _PREFIXES + """
SELECT DISTINCT ?site ?envelope ?tag ?parameter ?k ?referenceCount ?reference WHERE {
  $SITES
  ?process tf:processCode $PROCESS .
  ?envelope tf:ofProcess ?process ; a tf:Envelope ; tf:ofTag ?tag .
  ?siteIri a tf:Site ; tf:siteCode ?site .
  FILTER (STRSTARTS(STR(?envelope), STR(?siteIri)))
  OPTIONAL { ?envelope tf:sdMultiplier ?k }
  OPTIONAL { ?envelope tf:referenceBatchCount ?referenceCount }
  OPTIONAL { ?envelope prov:wasDerivedFrom ?reference }
  OPTIONAL {
    ?tag ?mapping ?parameter .
    VALUES ?mapping { skos:exactMatch skos:closeMatch skos:broadMatch skos:narrowMatch }
  }
}
"""

EQUIPMENT = _PREFIXES + """
SELECT DISTINCT ?site ?equipment ?unitOperationKind ?property ?value WHERE {
  {
    SELECT DISTINCT ?site ?equipment ?unitOperationKind WHERE {
      { SELECT ?unitOperation ?equipment ?batch WHERE {
          ?unitOperation tf:usesEquipment ?equipment ; tf:ofBatch ?batch .
      } }""" + _BATCH_ROWS + """
      OPTIONAL { ?unitOperation tf:unitOperationKind ?unitOperationKind }
    }
  }
  OPTIONAL { ?equipment ?property ?value . FILTER (isLiteral(?value)) }
}
ORDER BY ?site ?equipment ?property
"""

#: Which shared parameters each site measures, and how (tag kinds), from its aligned tags.
SENSORS = _PREFIXES + """
SELECT DISTINCT ?site ?parameter ?kind WHERE {
  $SITES
  ?tag a tf:Tag ; tf:tagKind ?kind ; ?mapping ?parameter .
  VALUES ?mapping { skos:exactMatch skos:closeMatch skos:broadMatch skos:narrowMatch }
  ?siteIri a tf:Site ; tf:siteCode ?site .
  FILTER (STRSTARTS(STR(?tag), STR(?siteIri)))
}
ORDER BY ?site ?parameter ?kind
"""


def bind(template: str, process: str, sites: Sequence[str],
         statistics: Sequence[str] = ("mean",)) -> str:
    """The query with the process code, site codes and statistics as escaped literals."""
    site_filter = (f"VALUES ?site {{ {' '.join(json.dumps(s) for s in sites)} }}"
                   if sites else "")
    return (template.replace("$PROCESS", json.dumps(process))
            .replace("$SITES", site_filter)
            .replace("$STATISTICS", " ".join(json.dumps(s) for s in statistics)))

