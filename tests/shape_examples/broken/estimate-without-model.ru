# An estimate that does not name its model.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <batch/B-0003> { <batch/B-0003/estimate/GLC/1> tf:fromModel <model/glc-pls/1> } }
