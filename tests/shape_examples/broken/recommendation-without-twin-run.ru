# A set-point recommendation that does not say which twin run generated it.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

INSERT DATA { GRAPH <batch/B-0003> {
  <batch/B-0003/recommendation/r1> a tf:SetPointRecommendation ;
      tf:recommendedFor <batch/B-0003> ;
      tf:recommendedAction "keep" ;
      tf:atHour "84.0"^^xsd:double ;
      tf:expectedTitreGain "0.0"^^xsd:double ;
      tf:probabilityOfImprovement "0.0"^^xsd:double .
} }
