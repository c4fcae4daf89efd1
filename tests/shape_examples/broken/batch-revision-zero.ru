# A batch whose site revision is 0 (revisions start at 1).
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <batch/B-0003> { <batch/B-0003> tf:siteRevision 3 } } ;
INSERT DATA { GRAPH <batch/B-0003> { <batch/B-0003> tf:siteRevision 0 } }
