# A process with no version.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <meta> { <process/P-1/1> tf:processVersion "1" } }
