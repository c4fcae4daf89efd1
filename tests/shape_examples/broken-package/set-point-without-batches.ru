# A set point that does not name the batches it came from.
BASE <https://w3id.org/twinfed/federation/package/P-1-SITE-A-to-SITE-B/1/>
PREFIX prov: <http://www.w3.org/ns/prov#>

DELETE WHERE { GRAPH <parameters> {
    <recipe/growth/set-point/temperature-set-point> prov:wasDerivedFrom ?batch } }
