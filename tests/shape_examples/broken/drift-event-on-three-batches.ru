# An equipment drift event resting on three indicator values (a rule needs four batches).
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

INSERT DATA { GRAPH <batch/B-0003> {
  <batch/B-0003/equipment-drift/BR-200-1/kla_reference> a tf:EquipmentDriftEvent ;
      tf:ofBatch <batch/B-0003> ; tf:aboutEquipment <equipment/BR-200-1> ;
      tf:healthIndicator "kla_reference" ; tf:equipmentComponent "sparger" ;
      tf:driftRule "trend" ; tf:unitLabel "1/h" ; tf:detectedInBatch <batch/B-0003> ;
      tf:evidence <batch/B-0001/equipment/BR-200-1/kla_reference> ,
                  <batch/B-0002/equipment/BR-200-1/kla_reference> ,
                  <batch/B-0003/equipment/BR-200-1/kla_reference> ;
      tf:slopePerBatch "-0.12"^^xsd:double ; tf:trendPValue "0.04"^^xsd:double ;
      tf:kendallS 6 ; tf:recommendation "BR-200-1 (sparger): inspect and clean the sparger" .
} }
