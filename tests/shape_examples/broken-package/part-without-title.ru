# A package part without a title.
BASE <https://w3id.org/twinfed/federation/package/P-1-SITE-A-to-SITE-B/1/>
PREFIX dcterms: <http://purl.org/dc/terms/>

DELETE WHERE { GRAPH <manifest> { <parameters> dcterms:title ?title } }
