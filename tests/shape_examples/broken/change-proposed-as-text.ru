# A set-point change whose proposed value is text instead of a number.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

INSERT DATA { GRAPH <batch/B-0003> {
  <batch/B-0003/recommendation/r1> a tf:SetPointRecommendation ;
      tf:recommendedFor <batch/B-0003> ;
      tf:recommendedAction "change" ;
      tf:atHour "84.0"^^xsd:double ;
      tf:expectedTitreGain "0.08"^^xsd:double ;
      tf:probabilityOfImprovement "0.95"^^xsd:double ;
      <http://www.w3.org/ns/prov#wasGeneratedBy> <batch/B-0003/twin-run/r1> ;
      tf:proposesChange <batch/B-0003/recommendation/r1/change/temp_shift_h> .
  <batch/B-0003/twin-run/r1> a tf:TwinRun .
  <batch/B-0003/recommendation/r1/change/temp_shift_h> a tf:SetPointChange ;
      tf:lever "temp_shift_h" ;
      tf:currentValue "120.0"^^xsd:double ;
      tf:proposedValue "144 h" .
} }
