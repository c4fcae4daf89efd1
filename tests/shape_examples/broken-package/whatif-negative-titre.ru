# A what-if scenario predicting a negative titre.
BASE <https://w3id.org/twinfed/federation/package/P-1-SITE-A-to-SITE-B/1/>
PREFIX tf:  <https://w3id.org/twinfed/ontology#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>

DELETE { GRAPH <parameters> { <whatif/1> tf:predictedTitre ?t } }
INSERT { GRAPH <parameters> { <whatif/1> tf:predictedTitre "-1.0"^^xsd:double } }
WHERE { GRAPH <parameters> { <whatif/1> tf:predictedTitre ?t } }
