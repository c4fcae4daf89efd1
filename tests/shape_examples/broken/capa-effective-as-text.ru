# A CAPA whose effectiveness is the word yes, not a boolean.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <batch/B-0003> { <batch/B-0003/capa/CAPA-77> tf:effective true } } ;
INSERT DATA { GRAPH <batch/B-0003> { <batch/B-0003/capa/CAPA-77> tf:effective "yes" } }
