# A batch whose raw-data link is a string instead of an IRI.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <batch/B-0003> { <batch/B-0003> tf:rawData <http://127.0.0.1:8001/batches/B-0003> } } ;
INSERT DATA { GRAPH <batch/B-0003> { <batch/B-0003> tf:rawData "http://127.0.0.1:8001/batches/B-0003" } }
