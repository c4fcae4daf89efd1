# A feature with a statistic outside the contract list: a warning only.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <batch/B-0003> { <batch/B-0003/feature/DO101.PV/growth/mean> tf:statistic "mean" } } ;
INSERT DATA { GRAPH <batch/B-0003> { <batch/B-0003/feature/DO101.PV/growth/mean> tf:statistic "p95" } }
