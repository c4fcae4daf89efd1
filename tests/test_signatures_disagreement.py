"""Disagreement features: a redundant measurement minus the measurement of record.

A drifting control probe is held at its set point by its control loop, so the parameter of
record looks normal; what shows is its disagreement with a second measurement the site's
alignment declares (``tf:redundantMeasurementOf``). Here: the alignment carries that link into
the aligned graphs, and a batch whose redundant and record measurements disagree gets a
disagreement deviation with a z that can be checked by hand.
"""

from __future__ import annotations

import pytest
from rdflib import Literal
from rdflib.namespace import RDFS

from federation.align import align_batch_graph, align_meta_graph, load_alignment
from federation.signatures.disagreement import disagreement_parameter
from federation.signatures.discovery import DiscoveryOptions
from federation.signatures.features import FeatureOptions
from federation.signatures.profiles import ReadScope, read_profiles
from federation.signatures.service import SignatureService
from federation.store import GraphMetadata, open_store
from ontology import TF, TFP
from tests.test_alignment import Site
from tests.test_signatures import SITE, _iri, _nquads

SITE_T = "https://w3id.org/twinfed/ontology#"
DO = f"{TFP}dissolved-oxygen"
DISAGREEMENT = disagreement_parameter(DO)
SITES = ("SITE-A", "SITE-C")
NEUTRAL = tuple(f"{SITE}{s}/meta" for s in SITES)
#: Redundant minus record DO (% air saturation) in the production phase of reference batches
#: 1-10 of each site; batches 11 and 12 read 3 % lower on the redundant probe.
REFERENCE_DIFFERENCES = (-0.4, -0.3, -0.2, -0.1, 0.0, 0.0, 0.1, 0.2, 0.3, 0.4)
FAULTY_DIFFERENCE = -3.0


def test_a_redundant_probe_is_aligned_beside_the_probe_of_record() -> None:
    # SITE-B's reviewed alignment: BR5_DO101 (mg/L) is the DO of record, BR5_DO102 a
    # redundant probe, site-local; both convert with 6.73 mg/L = 100 % air saturation.
    alignment = load_alignment("SITE-B")
    assert alignment.redundant_tags["BR5_DO102"].parameter == TFP["dissolved-oxygen"]
    site = Site("SITE-B")
    site.tag("BR5_DO101", "mg/L")
    site.tag("BR5_DO102", "mg/L")
    g = site.batch("SG1", {"production": (0.0, 100.0)})
    record = site.feature(g, "BR5_DO101", "production", "mean", 2.692, "mg/L")
    second = site.feature(g, "BR5_DO102", "production", "mean", 2.019, "mg/L")
    aligned = align_batch_graph(g, site.meta, alignment).graph
    assert float(aligned.value(record, TF.alignedValue)) == pytest.approx(40.0)
    assert float(aligned.value(second, TF.alignedValue)) == pytest.approx(30.0)  # 2.019/6.73
    assert str(aligned.value(second, TF.alignedUnit)) == "%"
    assert aligned.value(second, TF.redundantMeasurementOf) == TFP["dissolved-oxygen"]
    # not the value of record: no tf:parameter, still site-local
    assert aligned.value(second, TF.parameter) is None
    assert aligned.value(second, TF.siteLocal) == Literal(True)
    meta = align_meta_graph(site.meta, alignment)
    assert meta.value(site.iri("tag", "BR5_DO102"), TF.redundantMeasurementOf) == \
        TFP["dissolved-oxygen"]


def _campaign() -> tuple[dict[str, bytes], dict[str, GraphMetadata]]:
    graphs, metadata = {}, {}
    for site in SITES:
        for n in range(1, 13):
            batch = f"{site[-1]}{n}"
            b = _iri(site, "batch", batch)
            p = _iri(site, "batch", batch, "phase", "0")
            # the control loop holds the record probe at its set point (small noise)
            record = 40.0 + 0.1 * (n % 3)
            difference = REFERENCE_DIFFERENCES[n - 1] if n <= 10 else FAULTY_DIFFERENCE
            lines = [
                f"{b} a <{SITE_T}Batch> ; <{SITE_T}batchId> \"{batch}\" ; <{SITE_T}atSite> "
                f"{_iri(site)[:-1]}> ; <{SITE_T}ofProcess> {_iri(site, 'process', 'P1', '1')} ;"
                f" <{SITE_T}sponsor> {_iri(site, 'sponsor', 'SP-ACME')} ; <{SITE_T}startTime> "
                f"\"2026-02-{n:02d}T06:00:00Z\"^^<http://www.w3.org/2001/XMLSchema#dateTime> .",
                f"{p} a <{SITE_T}Phase> ; <{SITE_T}phaseName> \"production\" ; "
                f"<{SITE_T}ofBatch> {b} ."]
            for tag, link, value in (("DO-RECORD", "parameter", record),
                                     ("DO-SECOND", "redundantMeasurementOf",
                                      record + difference)):
                f = _iri(site, "batch", batch, "feature", tag, "production", "mean")
                lines.append(f"{f} a <{SITE_T}Feature> ; <{SITE_T}ofBatch> {b} ; <{SITE_T}{link}>"
                             f" <{DO}> ; <{SITE_T}statistic> \"mean\" ; <{SITE_T}alignedValue> "
                             f"{value:.6f}e0 ; <{SITE_T}inPhase> {p} .")
            iri = f"{SITE}{site}/batch/{batch}"
            graphs[iri] = _nquads("\n".join(lines), iri)
            metadata[iri] = GraphMetadata(site=site, sponsor="SP-ACME", kind="batch")
        meta = f"{SITE}{site}/meta"
        good = " , ".join(_iri(site, "batch", f"{site[-1]}{n}") for n in range(1, 11))
        graphs[meta] = _nquads(
            f"{_iri(site)[:-1]}> a <{SITE_T}Site> ; <{SITE_T}siteCode> \"{site}\" .\n"
            f"{_iri(site, 'envelope', 'P1', '1', 'do')} a <{SITE_T}Envelope> ; "
            f"<{SITE_T}ofProcess> {_iri(site, 'process', 'P1', '1')} ; "
            f"<http://www.w3.org/ns/prov#wasDerivedFrom> {good} .", meta)
        metadata[meta] = GraphMetadata(site=site, kind="site-meta")
        sponsor_meta = f"{meta}/sponsor/SP-ACME"
        graphs[sponsor_meta] = _nquads(
            f"{_iri(site, 'sponsor', 'SP-ACME')} a <{SITE_T}Sponsor> ; <{SITE_T}sponsorCode> "
            "\"SP-ACME\" .", sponsor_meta)
        metadata[sponsor_meta] = GraphMetadata(site=site, sponsor="SP-ACME",
                                               kind="sponsor-meta")
    return graphs, metadata


def test_a_batch_whose_redundant_and_record_measurements_disagree_gets_a_deviation() -> None:
    scope = ReadScope(frozenset({"SP-ACME"}), NEUTRAL)
    with open_store(None) as store:
        store.replace_graphs(*_campaign())
        # off by default: the record probe alone says nothing (the loop held it)
        plain = read_profiles(store, scope, features=FeatureOptions())
        assert [p.batch_id for p in plain if p.feature_z] == []
        profiles = {p.batch_id: p for p in read_profiles(
            store, scope, features=FeatureOptions(disagreement=True))}
        # By hand, for A11 against A1-A10: median of the differences 0.0; MAD 0.2, so
        # 1.4826 * 0.2 = 0.29652; (P90 - P10) / 2.563 = 0.62 / 2.563 = 0.2419; the scale is
        # the larger, and z = (-3.0 - 0.0) / 0.29652 = -10.12.
        a11 = profiles["A11"]
        assert a11.feature_z[(DISAGREEMENT, "production", "mean")] == pytest.approx(-10.117,
                                                                                  abs=1e-3)
        _, median, scale = a11.feature_sources[(DISAGREEMENT, "production", "mean")]
        assert (median, scale) == (pytest.approx(0.0), pytest.approx(0.29652))
        # the record probe alone says nothing: the loop held it
        assert (DO, "production", "mean") not in a11.feature_z
        assert {i for i, p in profiles.items() if p.feature_z} == {"A11", "A12", "C11", "C12"}
        assert [k.words() for k in a11.feature_deviations()] == [
            "dissolved oxygen, redundant minus record measurement low during production"]

        [run] = SignatureService(store, "t").discover({"SP-ACME"}, NEUTRAL, requested_by="qa",
                                                      options=DiscoveryOptions(disagreement=True))
        [signature] = run.signatures
        assert sorted(signature.member_ids) == ["A11", "A12", "C11", "C12"]
        assert ("dissolved oxygen, redundant minus record measurement low during production"
                " (4 of 4 batches") in signature.definition
        # stored evidence a reviewer can follow: the deviation derives from a disagreement
        # derived from both aligned features, said in words with the z
        rows = store.query(f"""PREFIX prov: <http://www.w3.org/ns/prov#>
            SELECT ?z ?comment (COUNT(?feature) AS ?features) WHERE {{
              ?deviation a <{SITE_T}FeatureDeviation> ; <{SITE_T}ofBatch> ?batch ;
                         <{SITE_T}robustZ> ?z ; prov:wasDerivedFrom ?disagreement .
              ?batch <{SITE_T}batchId> "A11" .
              ?disagreement a <{SITE_T}MeasurementDisagreement> ;
                            <{RDFS.comment}> ?comment ; prov:wasDerivedFrom ?feature .
              ?feature a <{SITE_T}Feature> .
            }} GROUP BY ?z ?comment""", sponsors={"SP-ACME"}, graphs=NEUTRAL).bindings()
        [row] = rows
        assert float(row["z"].value) == pytest.approx(-10.117, abs=1e-3)
        assert int(row["features"].value) == 2
        assert row["comment"].value.startswith(
            "dissolved oxygen: redundant measurement minus the measurement of record, "
            "production phase mean, -10.1 robust SD")
        # matching reads the stored evidence back under the same key (and the run's setting)
        profile, matches = SignatureService(store, "t").match(scope, "SITE-C/C12")
        assert (DISAGREEMENT, "production", "mean") in profile.feature_z
        assert matches[0].signature.signature_id == signature.signature_id
        assert matches[0].coverage == 1.0
