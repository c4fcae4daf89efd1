# An envelope that does not say which good batches it came from.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE WHERE { GRAPH <meta> { <envelope/P-1/1/DO101.PV> <http://www.w3.org/ns/prov#wasDerivedFrom> ?batch } }
