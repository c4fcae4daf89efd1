# A batch that claims a second site.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

INSERT DATA {
    GRAPH <meta> { <../SITE-B/> a tf:Site ; tf:siteCode "SITE-B" }
    GRAPH <batch/B-0003> { <batch/B-0003> tf:atSite <../SITE-B/> }
}
