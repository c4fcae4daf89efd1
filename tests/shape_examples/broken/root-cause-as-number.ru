# A deviation record whose root cause is a number.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <batch/B-0003> { <batch/B-0003/deviation/DEV-2026-0142> tf:rootCause "sparger partially blocked" } } ;
INSERT DATA { GRAPH <batch/B-0003> { <batch/B-0003/deviation/DEV-2026-0142> tf:rootCause 42 } }
