# An equipment indicator value that does not say which asset it is about.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX tf:      <https://w3id.org/twinfed/ontology#>
PREFIX xsd:     <http://www.w3.org/2001/XMLSchema#>

INSERT DATA { GRAPH <batch/B-0003> {
  <batch/B-0003/equipment/BR-200-1/kla_reference> a tf:EquipmentIndicatorValue ;
      tf:ofBatch <batch/B-0003> ; tf:healthIndicator "kla_reference" ;
      tf:equipmentComponent "sparger" ; tf:value "1.12"^^xsd:double ; tf:unitLabel "1/h" .
} }
