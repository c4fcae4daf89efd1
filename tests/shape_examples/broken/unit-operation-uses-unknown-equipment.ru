# A unit operation using equipment the export does not describe.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

INSERT DATA { GRAPH <batch/B-0003> { <batch/B-0003/uo/1> tf:usesEquipment <equipment/BR-999> } }
