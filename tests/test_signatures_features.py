"""Feature deviations: failures that never left the envelope by 3 SD, found from the aligned
phase statistics the federation store holds, against each site's own reference batches.

A small generated campaign is written in the shape the federation stores after sync and
alignment (``tf:Feature`` with ``tf:parameter``, ``tf:statistic``, ``tf:alignedValue`` and
``tf:inPhase``; envelopes ``prov:wasDerivedFrom`` their reference batches) into a real Oxigraph
store: two sites with different scales and noise, 14 batches each, the first 10 of each the
site's reference batches, and **no deviation events at all**. In the faulty variant, A11 and
A12 at SITE-A and C11 at SITE-C have glucose low and lactate high in production, 12 site SDs
off (SITE-C measures on another scale: the site's own reference batches absorb that).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from federation.questions.catalogue import question
from federation.signatures.discovery import DiscoveryOptions
from federation.signatures.features import FeatureOptions, FeatureRow, feature_deviations
from federation.signatures.profiles import ReadScope, read_profiles
from federation.signatures.service import SignatureService
from federation.store import GraphMetadata, open_store
from federation.store.base import Store
from tests.test_signatures import SITE, TF, TFP, XSD, _iri, _nquads

PARAMETERS = ("glucose", "lactate", "dissolved-oxygen", "ph", "viable-cell-density")
PHASES = ("growth", "production")
STATISTICS = ("mean", "min", "max", "slope")
#: Per site: (level of every statistic, SD of its batch-to-batch noise).
SCALE = {"SITE-A": (10.0, 1.0), "SITE-C": (55.0, 4.0)}
FAULTY = {"A11", "A12", "C11"}
NEUTRAL = tuple(f"{SITE}{s}/meta" for s in SCALE)


def _batches() -> list[tuple[str, str, int]]:
    return [(site, f"{site[-1]}{n}", n) for site in SCALE for n in range(1, 15)]


def _value(rng: np.random.Generator, site: str, batch: str, parameter: str, phase: str,
           statistic: str, faulty: bool) -> float:
    level, sd = SCALE[site]
    value = level + sd * rng.standard_normal()
    if faulty and batch in FAULTY and phase == "production" and statistic in ("mean", "min"):
        value += {"glucose": -12 * sd, "lactate": 12 * sd}.get(parameter, 0.0)
    return value


def load_campaign(store: Store, *, faulty: bool) -> None:
    rng = np.random.default_rng(7)
    graphs, metadata = {}, {}
    for site, batch, day in _batches():
        b = _iri(site, "batch", batch)
        lines = [
            f"{b} a <{TF}Batch> ; <{TF}batchId> \"{batch}\" ; <{TF}atSite> {_iri(site)[:-1]}> ;",
            f"  <{TF}ofProcess> {_iri(site, 'process', 'P1', '1')} ;",
            f"  <{TF}sponsor> {_iri(site, 'sponsor', 'SP-ACME')} ;",
            f"  <{TF}startTime> \"2026-02-{day:02d}T06:00:00Z\"^^<{XSD}dateTime> ."]
        for n, phase in enumerate(PHASES):
            p = _iri(site, "batch", batch, "phase", str(n))
            lines.append(f"{p} a <{TF}Phase> ; <{TF}phaseName> \"{phase}\" ; <{TF}ofBatch> {b} .")
            for parameter in PARAMETERS:
                for statistic in STATISTICS:
                    f = _iri(site, "batch", batch, "feature", parameter, phase, statistic)
                    value = _value(rng, site, batch, parameter, phase, statistic, faulty)
                    lines.append(f"{f} a <{TF}Feature> ; <{TF}ofBatch> {b} ; <{TF}parameter> "
                                 f"<{TFP}{parameter}> ; <{TF}statistic> \"{statistic}\" ; "
                                 f"<{TF}alignedValue> {value:.6f}e0 ; <{TF}inPhase> {p} .")
            # A set point: the same in every batch (no variation to judge against).
            f = _iri(site, "batch", batch, "feature", "sp", phase)
            lines.append(f"{f} a <{TF}Feature> ; <{TF}ofBatch> {b} ; <{TF}parameter> "
                         f"<{TFP}temperature-set-point> ; <{TF}statistic> \"mean\" ; "
                         f"<{TF}alignedValue> 36.5e0 ; <{TF}inPhase> {p} .")
        iri = f"{SITE}{site}/batch/{batch}"
        graphs[iri] = _nquads("\n".join(lines), iri)
        metadata[iri] = GraphMetadata(site=site, sponsor="SP-ACME", kind="batch")
    for site in SCALE:
        meta = f"{SITE}{site}/meta"
        envelope = _iri(site, "envelope", "P1", "1", "glucose")
        good = " , ".join(_iri(site, "batch", f"{site[-1]}{n}") for n in range(1, 11))
        graphs[meta] = _nquads(
            f"{_iri(site)[:-1]}> a <{TF}Site> ; <{TF}siteCode> \"{site}\" .\n"
            f"{envelope} a <{TF}Envelope> ; <{TF}ofProcess> {_iri(site, 'process', 'P1', '1')}"
            f" ; <http://www.w3.org/ns/prov#wasDerivedFrom> {good} .", meta)
        metadata[meta] = GraphMetadata(site=site, kind="site-meta")
        sponsor_meta = f"{meta}/sponsor/SP-ACME"
        graphs[sponsor_meta] = _nquads(
            f"{_iri(site, 'sponsor', 'SP-ACME')} a <{TF}Sponsor> ; <{TF}sponsorCode> "
            "\"SP-ACME\" .", sponsor_meta)
        metadata[sponsor_meta] = GraphMetadata(site=site, sponsor="SP-ACME",
                                               kind="sponsor-meta")
    store.replace_graphs(graphs, metadata)


@pytest.fixture
def faulty_store() -> Iterator[Store]:
    with open_store(None) as s:
        load_campaign(s, faulty=True)
        yield s


def _scope() -> ReadScope:
    return ReadScope(frozenset({"SP-ACME"}), NEUTRAL)


def test_phase_statistics_far_from_the_sites_reference_batches_are_evidence(
        faulty_store: Store) -> None:
    profiles = {p.batch_id: p for p in read_profiles(faulty_store, _scope(),
                                                     features=FeatureOptions())}
    assert all(not p.events for p in profiles.values())  # no envelope event anywhere
    assert {i for i, p in profiles.items() if p.feature_z} == FAULTY
    c11 = profiles["C11"]
    glucose = c11.feature_z[(f"{TFP}glucose", "production", "mean")]
    assert glucose < -6  # 12 SDs of SITE-C (scale 55, SD 4) below its reference median
    assert c11.largest_z >= c11.gate > 0
    words = sorted(k.words() for k in c11.feature_deviations())
    assert "glucose low during production" in words
    assert "lactate high during production" in words
    # Without ``features`` the profile is the envelope events only, as before.
    [plain] = read_profiles(faulty_store, _scope(), batches=[c11.batch])
    assert plain.feature_z == {} and plain.largest_z is None


def test_discovery_groups_the_weak_failure_across_sites_and_says_it_in_words(
        faulty_store: Store) -> None:
    [run] = SignatureService(faulty_store, "t").discover({"SP-ACME"}, NEUTRAL,
                                                          requested_by="qa")
    [signature] = run.signatures
    assert sorted(signature.member_ids) == ["A11", "A12", "C11"]
    assert signature.sites == ("SITE-A", "SITE-C")
    assert {e.key.words() for e in signature.events if e.share == 1.0} >= {
        "glucose low during production", "lactate high during production"}
    assert "glucose low during production (3 of 3 batches, typically" in signature.definition
    assert "robust SDs from the median of the site's reference batches" in \
        signature.definition
    profile, matches = SignatureService(faulty_store, "t").match(_scope(), "SITE-C/C11")
    assert profile.feature_z
    assert matches[0].signature.signature_id == signature.signature_id
    assert matches[0].coverage == 1.0
    assert "of the batch's deviation weight" in matches[0].explanation()


def test_a_fault_free_campaign_yields_no_signature() -> None:
    with open_store(None) as store:
        load_campaign(store, faulty=False)
        profiles = read_profiles(store, _scope(), features=FeatureOptions())
        assert [p.batch_id for p in profiles if p.feature_z] == []  # noise stays under the gate
        [run] = SignatureService(store, "t").discover({"SP-ACME"}, NEUTRAL, requested_by="qa")
    assert run.signatures == []


def test_gate_needs_enough_reference_batches_and_ignores_constant_statistics() -> None:
    rows = [FeatureRow(f"b{n}", "p", "growth", "mean", 1.0 + 0.01 * n) for n in range(6)]
    rows += [FeatureRow(f"b{n}", "sp", "growth", "mean", 5.0) for n in range(6)]
    rows.append(FeatureRow("b5", "sp", "growth", "mean", 9.0))
    few = feature_deviations(rows, {f"b{n}": "g" for n in range(6)}, {f"b{n}" for n in range(5)})
    assert few["b5"].gate is None and few["b5"].z == {}  # 4 references: no judgement
    enough = feature_deviations(rows, {f"b{n}": "g" for n in range(6)},
                                {f"b{n}" for n in range(5)}, FeatureOptions(min_reference=3))
    # The set point never varies over the reference batches: b5's 9.0 is not scored.
    assert ("sp", "growth", "mean") not in enough["b5"].z
    with pytest.raises(Exception, match="min_reference must be >= 2"):
        FeatureOptions(min_reference=1)
    with pytest.raises(Exception, match="gate_factor and min_z must be >= 0"):
        DiscoveryOptions(gate_factor=-1)


def test_question_and_match_agree_on_a_signature_of_feature_deviations(
        faulty_store: Store) -> None:
    # The signature is defined by feature deviations only (no event anywhere): the named
    # question must list the batches `signatures match` scores, with the same coverage, and
    # its evidence must lead to the stored feature deviations and the features behind them.
    service = SignatureService(faulty_store, "t")
    [run] = service.discover({"SP-ACME"}, NEUTRAL, requested_by="qa",
                             options=DiscoveryOptions(min_feature_z=4.0))
    [signature] = run.signatures
    rows = faulty_store.query(question("batches_matching_signature").bind(
        {"signature": signature.iri}), sponsors={"SP-ACME"}, graphs=NEUTRAL).bindings()
    answered = {r["batchId"].value: (float(r["coverage"].value), r["member"].value == "true",
                                     r["evidenceList"].value.split()) for r in rows}
    assert {i for i, (_, member, _) in answered.items() if member} == {"A11", "A12", "C11"}
    matched = {}
    for site, batch, _ in _batches():
        profile, matches = service.match(_scope(), f"{site}/{batch}")
        # the run's stored evidence and settings (min_feature_z 4), not the defaults
        assert profile.feature_origin == run.run
        assert all(abs(z) >= 4.0 for z in profile.feature_z.values())
        [found] = [m for m in matches if m.signature.signature_id == signature.signature_id]
        if found.coverage >= 0.75 or batch in signature.member_ids:
            matched[batch] = found.coverage
    assert set(matched) == set(answered)
    for batch, coverage in matched.items():
        assert answered[batch][0] == pytest.approx(coverage, abs=1e-3)
    # evidence a reviewer can follow: a stored feature deviation, derived from the batch's
    # feature, whose z is (value - reference median) / reference scale
    deviation = next(i for i in answered["C11"][2] if "#feature-deviation-" in i)
    [row] = faulty_store.query(f"""PREFIX prov: <http://www.w3.org/ns/prov#>
        SELECT ?run ?z ?median ?scale ?value ?batchId WHERE {{
          <{deviation}> a <{TF}FeatureDeviation> ; prov:wasGeneratedBy ?run ;
            <{TF}robustZ> ?z ; <{TF}referenceMedian> ?median ; <{TF}referenceScale> ?scale ;
            prov:wasDerivedFrom ?feature .
          ?feature <{TF}alignedValue> ?value ; <{TF}ofBatch> ?batch .
          ?batch <{TF}batchId> ?batchId }}""", sponsors={"SP-ACME"}, graphs=NEUTRAL).bindings()
    assert (row["run"].value, row["batchId"].value) == (run.run, "C11")
    z, median, scale, value = (float(row[k].value) for k in ("z", "median", "scale", "value"))
    assert abs(z) >= 4.0 and z == pytest.approx((value - median) / scale, abs=1e-3)
