"""Failure signatures on small hand-checked aligned graphs: discovery, words, impact,
matching with explanations, curated patterns, versions with PROV-O, sponsor isolation, the
``batches_matching_signature`` question, and the HTTP API with its errors.

The graphs are written in the shape the federation stores after sync and alignment
(``docs/rdf-export.md`` plus ``tf:parameter``/``tf:alignedDirection``/``tf:alignedValue``), into
a real Oxigraph store; the API tests serve the real app over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from federation.api.app import create_app
from federation.config import FederationSettings
from federation.questions.catalogue import question
from federation.signatures.discovery import DiscoveryOptions, discover
from federation.signatures.matching import MemberEvidence, match, rank
from federation.signatures.model import BatchProfile, DefiningEvent, EventKey, Signature
from federation.signatures.profiles import ReadScope, read_profiles
from federation.signatures.rdf import CURATED_GRAPH, curated_signatures
from federation.signatures.service import SignatureService
from federation.store import GraphMetadata, open_store
from federation.store.base import Store
from twinfed.serving import serve

TF = "https://w3id.org/twinfed/ontology#"
TFP = "https://w3id.org/twinfed/parameter/"
SITE = "https://w3id.org/twinfed/site/"
XSD = "http://www.w3.org/2001/XMLSchema#"
ADMIN = "admin-token-for-signature-tests"
OUR_HIGH = (f"{TFP}oxygen-uptake-rate", "growth", "high")
LAC_HIGH = (f"{TFP}lactate", "production", "high")
GLC_LOW = (f"{TFP}glucose", "production", "low")
DO_LOW = (f"{TFP}dissolved-oxygen", "production", "low")
AGI_LOW = (f"{TFP}agitation", "production", "low")

# (site, batch, sponsor, day, events [(parameter, phase, direction, magnitude)], titre)
# Hand-checked: B1 at SITE-A and C1, C2 at SITE-C share OUR high + lactate high (+ glucose
# low in two of three); A2 at SITE-A and C3 at SITE-C share DO low + agitation low; A3 has
# one stray event of 1 SD (below the 3-SD minimum: no evidence); A4, A5, C4, C5 have none
# (the comparable good batches). SITE-B holds
# sponsor SP-BETA's batches with the same metabolic pattern.
BATCHES = [
    ("SITE-A", "A1", "SP-ACME", 1, [(*OUR_HIGH, 4.0), (*LAC_HIGH, 20.0), (*GLC_LOW, 3.0)], 3.0),
    ("SITE-A", "A2", "SP-ACME", 2, [(*DO_LOW, 6.0), (*AGI_LOW, 30.0)], 3.8),
    ("SITE-A", "A3", "SP-ACME", 3, [(f"{TFP}ph", "growth", "low", 1.0)], 4.0),
    ("SITE-A", "A4", "SP-ACME", 4, [], 4.0),
    ("SITE-A", "A5", "SP-ACME", 5, [], 4.2),
    ("SITE-C", "C1", "SP-ACME", 6, [(*OUR_HIGH, 5.0), (*LAC_HIGH, 25.0), (*GLC_LOW, 4.0)], 2.0),
    ("SITE-C", "C2", "SP-ACME", 7, [(*OUR_HIGH, 3.0), (*LAC_HIGH, 15.0)], 2.4),
    ("SITE-C", "C3", "SP-ACME", 8, [(*DO_LOW, 4.0), (*AGI_LOW, 20.0)], 2.8),
    ("SITE-C", "C4", "SP-ACME", 9, [], 3.0),
    ("SITE-C", "C5", "SP-ACME", 10, [], 3.0),
    ("SITE-B", "B1", "SP-BETA", 1, [(*OUR_HIGH, 4.0), (*LAC_HIGH, 20.0)], 1.0),
    ("SITE-B", "B2", "SP-BETA", 2, [(*OUR_HIGH, 4.0), (*LAC_HIGH, 18.0)], 1.1),
    ("SITE-B", "B3", "SP-BETA", 3, [], 2.0),
]


def _iri(site: str, *parts: str) -> str:
    return f"<{SITE}{site}/{'/'.join(parts)}>"


def batch_graph(site: str, batch: str, sponsor: str, day: int,
                events: list[tuple[str, str, str, float]], titre: float) -> bytes:
    b = _iri(site, "batch", batch)
    process = _iri(site, "process", "P1", "1")
    lines = [
        f"{b} a <{TF}Batch> ; <{TF}batchId> \"{batch}\" ; <{TF}atSite> {_iri(site)[:-1]}> ;",
        f"  <{TF}ofProcess> {process} ; <{TF}sponsor> {_iri(site, 'sponsor', sponsor)} ;",
        f"  <{TF}startTime> \"2026-01-{day:02d}T06:00:00Z\"^^<{XSD}dateTime> .",
    ]
    for n, phase in enumerate(("growth", "production")):
        p = _iri(site, "batch", batch, "phase", str(n))
        lines.append(f"{p} a <{TF}Phase> ; <{TF}phaseName> \"{phase}\" ; <{TF}ofBatch> {b} .")
    for n, (parameter, phase, direction, magnitude) in enumerate(events):
        e = _iri(site, "batch", batch, "event", str(n))
        p = _iri(site, "batch", batch, "phase", "0" if phase == "growth" else "1")
        lines.append(f"{e} a <{TF}DeviationEvent> ; <{TF}ofBatch> {b} ; <{TF}parameter> "
                     f"<{parameter}> ; <{TF}inPhase> {p} ; <{TF}direction> \"{direction}\" ; "
                     f"<{TF}alignedDirection> \"{direction}\" ; <{TF}magnitude> {magnitude:.1f}e0 ;"
                     f" <{TF}startHour> 10.0e0 .")
    q = _iri(site, "batch", batch, "quality", "titre")
    lines.append(f"{q} a <{TF}QualityResult> ; <{TF}ofBatch> {b} ; <{TF}parameter> <{TFP}titre>"
                 f" ; <{TF}alignedValue> {titre:.2f}e0 .")
    if events and batch in ("A1", "C3"):
        d, c = _iri(site, "batch", batch, "deviation", f"DEV-{batch}"), _iri(
            site, "batch", batch, "capa", f"CAPA-{batch}")
        lines.append(f"{d} a <{TF}DeviationRecord> ; <{TF}ofBatch> {b} ; <{TF}deviationId> "
                     f"\"DEV-{batch}\" ; <{TF}category> \"process\" ; "
                     f"<http://purl.org/dc/terms/description> \"low titre\" ; "
                     f"<{TF}rootCause> \"media lot\" ; <{TF}hasCAPA> {c} .")
        lines.append(f"{c} a <{TF}CAPA> ; <{TF}capaId> \"CAPA-{batch}\" ; <{TF}action> "
                     f"\"quarantine lot\" ; <{TF}effective> true .")
    return _nquads("\n".join(lines), f"{SITE}{site}/batch/{batch}")


def _nquads(turtle: str, graph: str) -> bytes:
    from rdflib import Graph

    body = Graph().parse(data=turtle, format="turtle").serialize(format="nt", encoding="utf-8")
    return b"".join(line[:-2] + f" <{graph}> .\n".encode()
                    for line in body.splitlines(keepends=True) if line.strip())


def load(store: Store) -> None:
    graphs, metadata = {}, {}
    for site, batch, sponsor, day, events, titre in BATCHES:
        iri = f"{SITE}{site}/batch/{batch}"
        graphs[iri] = batch_graph(site, batch, sponsor, day, events, titre)
        metadata[iri] = GraphMetadata(site=site, sponsor=sponsor, kind="batch")
    for site, sponsor in (("SITE-A", "SP-ACME"), ("SITE-C", "SP-ACME"), ("SITE-B", "SP-BETA")):
        meta = f"{SITE}{site}/meta"
        graphs[meta] = _nquads(f"{_iri(site)[:-1]}> a <{TF}Site> ; <{TF}siteCode> \"{site}\" .",
                               meta)
        metadata[meta] = GraphMetadata(site=site, kind="site-meta")
        sponsor_meta = f"{meta}/sponsor/{sponsor}"
        graphs[sponsor_meta] = _nquads(
            f"{_iri(site, 'sponsor', sponsor)} a <{TF}Sponsor> ; <{TF}sponsorCode> "
            f"\"{sponsor}\" .", sponsor_meta)
        metadata[sponsor_meta] = GraphMetadata(site=site, sponsor=sponsor, kind="sponsor-meta")
    store.replace_graphs(graphs, metadata)


NEUTRAL = tuple(f"{SITE}{s}/meta" for s in ("SITE-A", "SITE-B", "SITE-C"))


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store(None) as s:
        load(s)
        yield s


def _acme(store: Store) -> ReadScope:
    return ReadScope(frozenset({"SP-ACME"}), NEUTRAL + (CURATED_GRAPH,))


def test_discovery_finds_the_two_recurring_patterns_and_describes_them(store: Store) -> None:
    [run] = SignatureService(store, "t").discover({"SP-ACME"}, NEUTRAL, requested_by="qa")
    assert run.batches_read == 10
    by_members = {s.member_ids: s for s in run.signatures}
    assert set(by_members) == {("A1", "C1", "C2"), ("A2", "C3")}  # A3's stray event is alone
    metabolic = by_members[("A1", "C1", "C2")]
    assert metabolic.sites == ("SITE-A", "SITE-C")
    assert [(e.key.words(), round(e.share, 2), e.typical_magnitude)
            for e in metabolic.events] == [
        ("lactate high during production", 1.0, 20.0),
        ("oxygen uptake rate high during growth", 1.0, 4.0),
        ("glucose low during production", 0.67, 3.5)]
    assert metabolic.definition.startswith("3 batches at 2 site(s) (SITE-A, SITE-C)")
    assert "lactate high during production (3 of 3 batches, typically 20.0 SD" in \
        metabolic.definition
    assert metabolic.first_seen.startswith("2026-01-01") and \
        metabolic.last_seen.startswith("2026-01-07")
    # impact: A1 3.0 vs SITE-A good (4.0, 4.2) -> -26.8 %; C1 2.0, C2 2.4 vs 3.0 -> -33 %, -20 %
    assert metabolic.impact.comparable_batches == 4
    assert metabolic.impact.relative_change == pytest.approx(
        ((3.0 - 4.1) / 4.1 + (2.0 - 3.0) / 3.0 + (2.4 - 3.0) / 3.0) / 3)
    [deviation] = metabolic.deviations
    assert (deviation.deviation_id, deviation.root_cause, deviation.capa) == (
        "DEV-A1", "media lot", (("CAPA-A1", "quarantine lot", True),))


def test_min_batches_keeps_a_pattern_seen_at_one_site_only_when_asked(store: Store) -> None:
    service = SignatureService(store, "t")
    [beta] = service.discover({"SP-BETA"}, NEUTRAL, requested_by="qa")
    assert beta.signatures == []  # B1 + B2 share a pattern, but only at SITE-B
    [beta] = service.discover({"SP-BETA"}, NEUTRAL, requested_by="qa",
                              options=DiscoveryOptions(min_batches=2))
    assert [s.member_ids for s in beta.signatures] == [("B1", "B2")]


def test_a_rerun_is_a_new_version_that_revises_the_old_one_with_prov_lineage(
        store: Store) -> None:
    service = SignatureService(store, "9.9")
    first = service.discover({"SP-ACME"}, NEUTRAL, requested_by="qa-1")[0]
    second = service.discover({"SP-ACME"}, NEUTRAL, requested_by="qa-2")[0]
    old = {s.member_ids: s for s in first.signatures}
    new = {s.member_ids: s for s in second.signatures}
    for members, signature in new.items():
        assert signature.signature_id == old[members].signature_id
        assert (signature.version, signature.revision_of) == (2, old[members].iri)
    assert first.graph != second.graph and {first.graph, second.graph} <= set(
        store.graph_names())  # the old version is kept
    rows = store.query(f"""PREFIX prov: <http://www.w3.org/ns/prov#>
        SELECT ?software ?by (COUNT(DISTINCT ?used) AS ?batches) WHERE {{
          <{second.run}> a <{TF}SignatureDiscovery> , prov:Activity ; prov:startedAtTime ?s ;
             prov:endedAtTime ?e ; <{TF}discoverySoftwareVersion> ?software ;
             <{TF}requestedBy> ?by ; prov:used ?used .
          ?sig prov:wasGeneratedBy <{second.run}> ; prov:wasRevisionOf ?old .
          ?old prov:wasGeneratedBy <{first.run}> }} GROUP BY ?software ?by""",
        sponsors={"SP-ACME"}).bindings()
    assert [(r["software"].value, r["by"].value, r["batches"].value) for r in rows] == [
        ("9.9", "qa-2", "10")]
    latest = service.signatures(_acme(store), include_curated=False)
    assert sorted(s.version for s in latest) == [2, 2]
    _, earlier = service.signature(_acme(store), latest[0].signature_id)
    assert earlier == [old[latest[0].member_ids].iri]


def test_signatures_of_a_sponsor_are_invisible_outside_its_scope(store: Store) -> None:
    service = SignatureService(store, "t")
    service.discover({"SP-ACME", "SP-BETA"}, NEUTRAL, requested_by="admin",
                     options=DiscoveryOptions(min_batches=2))
    beta_scope = ReadScope(frozenset({"SP-BETA"}), NEUTRAL + (CURATED_GRAPH,))
    beta_view = service.signatures(beta_scope)
    assert {s.sponsor for s in beta_view if s.kind == "discovered"} == {"SP-BETA"}
    acme = [s for s in service.signatures(_acme(store)) if s.kind == "discovered"]
    assert {s.sponsor for s in acme} == {"SP-ACME"}
    with pytest.raises(Exception, match="no failure signature"):
        service.signature(beta_scope, acme[0].signature_id)
    # not even through SPARQL: the signature graph is in SP-ACME's view only
    assert store.query(f"ASK {{ <{acme[0].iri}> ?p ?o }}", sponsors={"SP-BETA"},
                       graphs=NEUTRAL).boolean is False
    # and a batch of SP-ACME cannot be matched by an SP-BETA user
    with pytest.raises(Exception, match="no batch 'A1'"):
        service.match(beta_scope, "A1")


def test_matching_scores_and_explains_against_discovered_and_curated(store: Store) -> None:
    service = SignatureService(store, "t")
    service.discover({"SP-ACME"}, NEUTRAL, requested_by="qa")
    profile, matches = service.match(_acme(store), "SITE-C/C2")
    assert [m.signature.kind for m in matches[:2]] == ["curated", "discovered"]
    best = matches[1]  # the curated pattern (coverage only) scores 1.0, ranked first
    assert best.signature.member_ids == ("A1", "C1", "C2")
    # C2 shows 2 of 3 defining events (weights 1, 1, 2/3) and nothing else
    assert best.coverage == pytest.approx(2 / (2 + 2 / 3), abs=1e-4)
    assert best.specificity == 1.0
    assert [e.key.words() for e in best.missing] == ["glucose low during production"]
    assert "2 of 3 defining events present" in best.explanation()
    # Similarity: C2's mean cosine to the other members A1 and C1. Each event sits in one
    # phase, so the phase-free and phase-weighted columns scale alike and the cosine is that
    # of the signed log1p magnitudes (OUR, lactate, glucose): C2 (1.386, 2.773, 0), A1
    # (1.609, 3.045, -1.386): 0.9274; C1 (1.792, 3.258, -1.609): 0.9170; mean 0.9222.
    assert best.similarity == pytest.approx(0.9222, abs=1e-3)
    assert ("mean cosine similarity of its deviation profile to the members': 0.92 "
            "(discovery joins a group above 0.375)") in best.explanation()
    # the score: the mean of the events score (harmonic mean of coverage and specificity)
    # and the similarity
    events_score = 2 * best.coverage / (best.coverage + 1)
    assert best.score == pytest.approx((events_score + 0.9222) / 2, abs=1e-3)
    curated = next(m for m in matches if m.signature.signature_id ==
                   "hyper-metabolic-culture-profile")
    assert curated.score == 1.0 and {e.key.words() for e in curated.present} == {
        "oxygen uptake rate high in any phase", "lactate high in any phase"}
    oxygen = next(m for m in matches if m.signature.signature_id ==
                  "oxygen-transfer-limitation")
    assert oxygen.score == 0.0 and len(oxygen.missing) == 2


def test_of_two_signatures_with_the_same_events_the_batch_matches_the_one_it_resembles(
) -> None:
    # Both signatures are defined by "DO low + agitation low in production"; one's members
    # are far off in DO and a little in agitation, the other's the reverse. The batch shows
    # both events (events score 1.0 for each: a tie, broken by id, "a-..." first), but its
    # deviations have the proportions of the first's members: the similarity decides.
    do, agitation = (EventKey(f"{TFP}dissolved-oxygen", "production", "low"),
                     EventKey(f"{TFP}agitation", "production", "low"))

    def profile(name: str, do_sd: float, agitation_sd: float) -> BatchProfile:
        return BatchProfile(batch=f"urn:{name}", batch_id=name, site=f"SITE-{name[0]}",
                            sponsor="X", process="urn:P1", start="2026-01-01",
                            events={do: do_sd, agitation: agitation_sd})

    def signature(signature_id: str, members: list[BatchProfile]) -> Signature:
        return Signature(iri=f"urn:{signature_id}", signature_id=signature_id,
                         kind="discovered", label="", definition="",
                         events=(DefiningEvent(do), DefiningEvent(agitation)),
                         member_ids=tuple(m.batch_id for m in members))

    oxygen_members = [profile("A1", 30.0, 4.0), profile("C1", 25.0, 3.5)]
    stirring_members = [profile("A2", 4.0, 30.0), profile("C2", 3.5, 28.0)]
    signatures = [signature("b-oxygen", oxygen_members),
                  signature("a-stirring", stirring_members)]
    batch = profile("B1", 22.0, 3.0)
    assert [m.signature.signature_id for m in rank(batch, signatures)] == [
        "a-stirring", "b-oxygen"]  # events alone: a tie
    members = {s.iri: MemberEvidence(tuple(m), DiscoveryOptions())
               for s, m in zip(signatures, [oxygen_members, stirring_members], strict=True)}
    best, other = rank(batch, signatures, members=members)
    assert best.signature.signature_id == "b-oxygen"
    assert best.coverage == other.coverage == 1.0
    assert best.similarity > 0.99 > 0.8 > other.similarity
    assert best.score == pytest.approx((1.0 + best.similarity) / 2, abs=1e-3)


def test_curated_patterns_are_declared_in_rdf_with_words_and_required_events() -> None:
    curated = {s.signature_id: s for s in curated_signatures()}
    hyper = curated["hyper-metabolic-culture-profile"]
    assert hyper.label == "hyper-metabolic culture profile" and hyper.kind == "curated"
    assert {e.key for e in hyper.defining} == {
        EventKey(f"{TFP}oxygen-uptake-rate", None, "high"),
        EventKey(f"{TFP}lactate", None, "high")}
    batch = BatchProfile(batch="b", batch_id="b", site="S", sponsor="X", process="p",
                         start="2026", events={EventKey(f"{TFP}lactate", "decline", "high"): 9})
    half = match(batch, hyper)
    assert (half.score, [e.key.parameter for e in half.missing]) == (
        0.5, [f"{TFP}oxygen-uptake-rate"])


def test_profiles_read_aligned_events_generically(store: Store) -> None:
    [c1] = read_profiles(store, _acme(store), batches=[f"{SITE}SITE-C/batch/C1"])
    assert (c1.batch_id, c1.site, c1.sponsor, c1.outcome) == ("C1", "SITE-C", "SP-ACME", 2.0)
    assert c1.events == {EventKey(*OUR_HIGH): 5.0, EventKey(*LAC_HIGH): 25.0,
                         EventKey(*GLC_LOW): 4.0}


def test_the_matching_signature_question_returns_the_hand_checked_batches(
        store: Store) -> None:
    service = SignatureService(store, "t")
    [run] = service.discover({"SP-ACME"}, NEUTRAL, requested_by="qa")
    metabolic = next(s for s in run.signatures if s.member_ids == ("A1", "C1", "C2"))

    def ask(values: dict[str, str]) -> list[tuple[str, str, str, str]]:
        rows = store.query(question("batches_matching_signature").bind(values),
                           sponsors={"SP-ACME"}, graphs=NEUTRAL + (CURATED_GRAPH,)).bindings()
        return [(r["batchId"].value, r["member"].value, r["matchedEvents"].value,
                 f"{float(r['coverage'].value):.2f}") for r in rows]

    assert ask({}) == [("A1", "false", "2", "1.00"), ("C1", "false", "2", "1.00"),
                       ("C2", "false", "2", "1.00")]
    # the members, whatever their coverage (C2 shows 2 of 3: 0.75), then other matches
    assert ask({"signature": metabolic.iri, "min_coverage": "0.9"}) == [
        ("A1", "true", "3", "1.00"), ("C1", "true", "3", "1.00"), ("C2", "true", "2", "0.75")]
    # a batch with a defining event but no member: listed when it reaches min_coverage
    assert ask({"signature": metabolic.iri, "min_coverage": "0.1"})[3:] == []
    # events under the run's min_magnitude are not evidence (A3's 1-SD pH event), unless
    # the sponsor has no run and min_magnitude says so
    assert [r[0] for r in ask({"signature": metabolic.iri, "min_coverage": "0"})] == [
        "A1", "C1", "C2", "A2", "A3", "A4", "A5", "C3", "C4", "C5"]
    # the evidence names each covered event with the batch's magnitude
    rows = store.query(question("batches_matching_signature").bind({}),
                       sponsors={"SP-ACME"}, graphs=(CURATED_GRAPH,)).bindings()
    assert "lactate high in any phase (25 SD)" in rows[1]["evidence"].value
    # another sponsor's caller gets nothing for SP-ACME's signature
    assert store.query(question("batches_matching_signature").bind(
        {"signature": metabolic.iri, "min_coverage": "0"}), sponsors={"SP-BETA"},
        graphs=NEUTRAL).bindings() == []


# -- HTTP API ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    settings = FederationSettings(data=tmp_path_factory.mktemp("fed"), admin_token=ADMIN)
    app = create_app(settings)
    with serve(app) as url:
        load(app.state.store)
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"},
                             timeout=60)
        users = {}
        for name, roles, sponsors in (("qa-acme", ["quality"], ["SP-ACME"]),
                                      ("eng-beta", ["engineer"], ["SP-BETA"])):
            users[name] = httpx.Client(base_url=url, timeout=60, headers={
                "Authorization": "Bearer " + admin.post("/users", json={
                    "name": name, "roles": roles, "sponsors": sponsors}).json()["token"]})
        yield {"admin": admin, **users}
        for client in (admin, *users.values()):
            client.close()


def test_api_discovers_lists_shows_and_matches_within_the_callers_scope(api: dict) -> None:
    qa = api["qa-acme"]
    response = qa.post("/signatures/discover", json={"min_sites": 2, "phase_weight": 0.5})
    assert response.status_code == 200, response.text
    # every discovery setting can be given over HTTP and is recorded with the run
    assert response.json()["settings"]["phase_weight"] == 0.5
    [run] = response.json()["runs"]  # only the caller's sponsor
    assert run["sponsor"] == "SP-ACME" and len(run["signatures"]) == 2
    listed = qa.get("/signatures").json()
    assert [s["kind"] for s in listed] == ["discovered", "discovered", "curated", "curated"]
    shown = qa.get(f"/signatures/{listed[0]['id']}").json()
    assert [m["batch_id"] for m in shown["member_batches"]] == ["A1", "C1", "C2"]
    assert shown["impact"]["in_words"].startswith("titre 27% below comparable batches")
    assert shown["deviations"][0]["capa"] == [
        {"capa_id": "CAPA-A1", "action": "quarantine lot", "effective": True}]
    matched = qa.get("/signatures/match", params={"batch": "C3"}).json()
    assert matched["matches"][0]["signature"]["id"] == listed[1]["id"]
    # C3 shows both defining events and nothing else (events score 1.0); its similarity to
    # the other member A2: cosine of (-log1p 4, -log1p 20) and (-log1p 6, -log1p 30), 0.9996
    assert matched["matches"][0]["similarity"] == pytest.approx(0.9996, abs=1e-3)
    assert matched["matches"][0]["score"] == pytest.approx((1.0 + 0.9996) / 2, abs=1e-3)
    # SP-BETA's engineer sees only the curated patterns, and SP-ACME's signature is a 404
    beta = api["eng-beta"]
    assert [s["kind"] for s in beta.get("/signatures").json()] == ["curated", "curated"]
    hidden = beta.get(f"/signatures/{listed[0]['id']}")
    assert hidden.status_code == 404


def test_cli_discover_passes_its_settings_and_prints_them(api: dict) -> None:
    from typer.testing import CliRunner

    from twinfed.cli import app

    qa = api["qa-acme"]
    token = qa.headers["Authorization"].removeprefix("Bearer ")
    result = CliRunner().invoke(app, ["federation", "signatures", "discover", "--url",
                                      str(qa.base_url), "--token", token, "--disagreement"])
    assert result.exit_code == 0, result.output
    printed = " ".join(result.output.split())  # the console wraps long lines
    assert "disagreement 1" in printed and "phase_weight 0.25" in printed
    assert "sponsor SP-ACME:" in printed and "SP-BETA" not in printed


def test_api_errors_are_problem_documents(api: dict) -> None:
    qa = api["qa-acme"]
    missing = qa.get("/signatures/sig-does-not-exist")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert "no failure signature 'sig-does-not-exist'" in missing.json()["detail"]
    unknown_batch = qa.get("/signatures/match", params={"batch": "NOPE"})
    assert unknown_batch.status_code == 404 and "no batch 'NOPE'" in unknown_batch.json()[
        "detail"]
    forbidden = api["eng-beta"].post("/signatures/discover")
    # refused by the route (or by the role table in front of it): both name the quality role
    assert forbidden.status_code == 403 and "quality" in forbidden.json()["detail"]
    bad = qa.post("/signatures/discover", json={"distance_threshold": 3})
    assert bad.status_code in (400, 422) and "distance_threshold" in bad.json()["detail"]
    negative = qa.post("/signatures/discover", json={"slope_weight": -1})
    assert negative.status_code in (400, 422) and "slope_weight" in negative.json()["detail"]


def test_the_demo_step_prints_signatures_in_words_and_says_when_none_recur(
        api: dict, capsys: pytest.CaptureFixture[str]) -> None:
    from twinfed.signatures_cli import show_discovered_signatures

    show_discovered_signatures(str(api["admin"].base_url), ADMIN)
    printed = " ".join(capsys.readouterr().out.split())
    assert "sponsor SP-ACME: 10 batches read, 2 recurring signature(s)" in printed
    assert "lactate high during production (3 of 3 batches, typically 20.0 SD" in printed
    assert "sites: SITE-A, SITE-C" in printed and "titre 27% below comparable" in printed
    assert "deviation DEV-A1 (A1, process): root cause media lot; CAPA-A1 quarantine lot " \
        "(effective: True)" in printed
    assert "sponsor SP-BETA: 3 batches read, 0 recurring signature(s)" in printed
    assert "no deviation pattern recurs" in printed


def test_the_matching_signature_question_lists_its_evidence_events(store: Store) -> None:
    SignatureService(store, "t").discover({"SP-ACME"}, NEUTRAL, requested_by="qa")
    asked = question("batches_matching_signature")
    assert [(e.column, e.is_list) for e in asked.evidence] == [("batch", False),
                                                               ("evidenceList", True)]
    rows = store.query(asked.bind({}), sponsors={"SP-ACME"}, graphs=(CURATED_GRAPH,)).bindings()
    c1 = next(r for r in rows if r["batchId"].value == "C1")
    assert sorted(c1["evidenceList"].value.split()) == [
        f"{SITE}SITE-C/batch/C1/event/0", f"{SITE}SITE-C/batch/C1/event/1"]


def test_events_below_the_minimum_magnitude_are_not_evidence(store: Store) -> None:
    # A3's only event is 1 SD beyond its envelope: everyday noise, so nothing matches it
    # and nothing is listed against it.
    profile, matches = SignatureService(store, "t").match(_acme(store), "A3")
    assert list(profile.events.values()) == [1.0]
    assert matches and all(m.score == 0.0 and not m.present and not m.unexplained
                           for m in matches)


def test_a_failure_seen_in_different_phases_at_two_sites_is_one_signature() -> None:
    # SITE-A's two batches show lactate high + glucose low in production, SITE-C's two in
    # decline (another phase plan): the phase counts only softly, so they recur together;
    # on the phase-specific vector alone they would be two one-site groups (no signature).
    def profile(site: str, n: int, phase: str) -> BatchProfile:
        return BatchProfile(batch=f"{site}/{n}", batch_id=f"{site[-1]}{n}", site=site,
                            sponsor="X", process=f"{site}/P1", start=f"2026-01-0{n}",
                            events={EventKey(f"{TFP}lactate", phase, "high"): 20.0 + n,
                                    EventKey(f"{TFP}glucose", phase, "low"): 5.0 + n})

    profiles = [profile("SITE-A", 1, "production"), profile("SITE-A", 2, "production"),
                profile("SITE-C", 3, "decline"), profile("SITE-C", 4, "decline"),
                BatchProfile(batch="SITE-A/5", batch_id="A5", site="SITE-A", sponsor="X",
                             process="SITE-A/P1", start="2026-01-05",
                             events={EventKey(f"{TFP}dissolved-oxygen", "growth", "low"): 9.0})]
    [group] = discover(profiles)
    assert [m.batch_id for m in group.members] == ["A1", "A2", "C3", "C4"]
    assert group.sites == ("SITE-A", "SITE-C")
    assert discover(profiles, DiscoveryOptions(phase_weight=1e6, distance_threshold=0.7)) == []


def test_a_slopes_sign_does_not_split_a_failure_and_slopes_alone_group_nothing() -> None:
    # Four batches at two sites with the same level deviations (agitation low, DO output
    # high); the fault began inside the phase at A1 and C3 (slope down) and ended inside it
    # at A2 and C4 (slope up). X5 and X6 deviate only in a slope: no direction to compare.
    def profile(site: str, n: int, slope: float, level: bool = True) -> BatchProfile:
        z = {(f"{TFP}agitation", "production", "slope"): slope}
        if level:
            z[(f"{TFP}agitation", "production", "mean")] = -12.0 - n
            z[(f"{TFP}dissolved-oxygen-controller-output", "production", "max")] = 8.0 + n
        return BatchProfile(batch=f"{site}/{n}", batch_id=f"{site[-1]}{n}", site=site,
                            sponsor="X", process=f"{site}/P1", start=f"2026-01-0{n}",
                            feature_z=z)

    profiles = [profile("SITE-A", 1, -30.0), profile("SITE-A", 2, 30.0),
                profile("SITE-C", 3, -25.0), profile("SITE-C", 4, 28.0),
                profile("SITE-A", 5, 20.0, level=False), profile("SITE-C", 6, 22.0, level=False)]
    [group] = discover(profiles)
    assert [m.batch_id for m in group.members] == ["A1", "A2", "C3", "C4"]
    # Counting the slope as much as the levels, the two timings fall apart.
    apart = discover(profiles, DiscoveryOptions(slope_weight=1.0))
    assert all(len({m.batch_id for m in g.members} & {"A1", "A2"}) < 2 for g in apart)
