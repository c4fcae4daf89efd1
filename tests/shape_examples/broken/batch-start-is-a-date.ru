# A batch whose start is a date, not a date-time.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE WHERE { GRAPH <batch/B-0003> { <batch/B-0003> tf:startTime ?start } } ;
INSERT DATA { GRAPH <batch/B-0003> { <batch/B-0003> tf:startTime "2026-03-01"^^xsd:date } }
