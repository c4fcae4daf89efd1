# A proven acceptable range whose lower limit is above its upper limit.
BASE <https://w3id.org/twinfed/federation/package/P-1-SITE-A-to-SITE-B/1/>
PREFIX tf:  <https://w3id.org/twinfed/ontology#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>

DELETE { GRAPH <parameters> { <parameter/glucose/growth> tf:lowerLimit ?low } }
INSERT { GRAPH <parameters> { <parameter/glucose/growth> tf:lowerLimit "5.0"^^xsd:double } }
WHERE { GRAPH <parameters> { <parameter/glucose/growth> tf:lowerLimit ?low } }
