# The site tag scheme without a label.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <meta> { <tags> <http://www.w3.org/2000/01/rdf-schema#label> "Site A tags" } }
