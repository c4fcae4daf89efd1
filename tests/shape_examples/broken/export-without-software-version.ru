# An export activity that does not say which software made it.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE DATA { GRAPH <meta> { <export/6f1c1f0e-4d7a-4c1e-9a53-0d2a3b1e7f10> tf:softwareVersion "0.1.0" } }
