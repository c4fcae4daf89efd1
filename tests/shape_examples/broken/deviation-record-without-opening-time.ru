# A deviation record with no opening time.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

DELETE WHERE { GRAPH <batch/B-0003> { <batch/B-0003/deviation/DEV-2026-0142> tf:openedAt ?opened } }
