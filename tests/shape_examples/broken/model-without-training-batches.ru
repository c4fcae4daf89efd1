# A soft-sensor model card that does not trace to the batches it was trained on.
BASE <https://w3id.org/twinfed/site/SITE-A/>
PREFIX prov:    <http://www.w3.org/ns/prov#>

DELETE DATA { GRAPH <meta> { <model/glc-pls/1> prov:wasDerivedFrom <batch/B-0001> , <batch/B-0002> } }
