# A package whose receiving site is its sending site.
BASE <https://w3id.org/twinfed/federation/package/P-1-SITE-A-to-SITE-B/1/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX dcterms: <http://purl.org/dc/terms/>

DELETE DATA { GRAPH <manifest> { <../1> tf:receivingSite <https://w3id.org/twinfed/site/SITE-B/> } } ;
INSERT DATA { GRAPH <manifest> { <../1> tf:receivingSite <https://w3id.org/twinfed/site/SITE-A/> } }
