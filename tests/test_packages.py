"""Technology-transfer knowledge packages, end to end on real parts.

One module-scoped network: SITE-A (sending) and SITE-C (receiving) in real Neo4j databases
with the session campaign ingested and analysed, synced over HTTP to a real federation. A
tech-transfer user builds the package through the API; the receiving site imports it.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from neo4j import Driver
from rdflib import Dataset, URIRef
from rdflib.namespace import PROV, RDF

from bioprocess.errors import ValidationError
from federation.api.app import create_app
from federation.config import FederationSettings
from federation.packages.diff import diff_archives
from ontology import TF
from protocol.package import PackageArchiveError, read_archive
from shapes import validate
from site_node.analysis.service import analyse
from site_node.ingest.writer import delete_batch
from site_node.packages.importer import import_package
from site_node.sync.client import FederationClient, sync_site
from tests.conftest import load_campaign_site
from twinfed.serving import serve

pytestmark = [
    pytest.mark.filterwarnings("ignore:Dataset.default_context is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning"),
]

ADMIN = "admin-token-for-package-tests"
SITES = {"SITE-A": "site_a", "SITE-C": "site_c"}
PROCESS = "P-mAb-101-FB"
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "packages"
TFP = "https://w3id.org/twinfed/parameter/"


def _sync(net: dict, site: str) -> None:
    client = FederationClient(net["url"], net["tokens"][site])
    try:
        sync_site(net["drivers"][site], client, site_code=site,
                  api_base=f"http://{site.lower()}.example:8701", software_version="t")
    finally:
        client.close()


@pytest.fixture(scope="module")
def net(_drivers: dict[str, Driver], campaign_dir: Path,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    for site, db in SITES.items():
        driver = _drivers[db]
        load_campaign_site(driver, campaign_dir, site)
    settings = FederationSettings(data=tmp_path_factory.mktemp("federation"), admin_token=ADMIN)
    with serve(create_app(settings)) as url:
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"},
                             timeout=300)
        tokens = {site: admin.post("/sites", json={"code": site}).json()["token"]
                  for site in SITES}

        def user(name: str, roles: list[str], sponsors: list[str]) -> str:
            response = admin.post("/users", json={"name": name, "roles": roles,
                                                  "sponsors": sponsors})
            assert response.status_code in (200, 201), response.text
            return response.json()["token"]

        users = {"tt-acme": user("tt-acme", ["tech_transfer"], ["SP-ACME"]),
                 "tt-beta": user("tt-beta", ["tech_transfer"], ["SP-BETA"]),
                 "qa-acme": user("qa-acme", ["quality"], ["SP-ACME"])}
        network = {"url": url, "admin": admin, "tokens": tokens, "users": users,
                   "drivers": {site: _drivers[db] for site, db in SITES.items()}}
        for site in SITES:
            _sync(network, site)
        yield network
        admin.close()


def _build(net: dict, user: str = "tt-acme", **body: str) -> httpx.Response:
    payload = {"process": PROCESS, "from_site": "SITE-A", "to_site": "SITE-C", **body}
    return httpx.post(f"{net['url']}/packages", json=payload, timeout=600,
                      headers={"Authorization": f"Bearer {net['users'][user]}"})


@pytest.fixture(scope="module")
def package(net: dict) -> bytes:
    response = _build(net)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    return response.content


def _dataset(archive_bytes: bytes) -> Dataset:
    dataset = Dataset(default_union=True)
    for text in read_archive(archive_bytes).rdf_parts().values():
        if text.strip():
            dataset.parse(data=text, format="trig")
    return dataset


def _select(net: dict, query: str) -> list[dict[str, str]]:
    response = httpx.post(f"{net['url']}/sparql", data={"query": query}, timeout=120,
                          headers={"Authorization": f"Bearer {net['users']['qa-acme']}",
                                   "Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in row.items()}
            for row in response.json()["results"]["bindings"]]


# ---------------------------------------------------------------------------------------------
# Build: the package validates and every range traces back to its batches
# ---------------------------------------------------------------------------------------------


def test_the_package_validates_against_its_shapes_and_lists_every_part(package: bytes) -> None:
    archive = read_archive(package)
    manifest = archive.manifest
    assert (manifest.process, manifest.from_site, manifest.to_site) == (PROCESS, "SITE-A",
                                                                        "SITE-C")
    assert manifest.built_by == "tt-acme" and manifest.sponsor == "SP-ACME"
    assert manifest.federation_state["graphs"] > 0
    assert len(manifest.federation_state["graphs_sha256"]) == 64
    names = {p.name for p in manifest.parts}
    assert names == {"package", "process", "parameters", "equipment", "signatures", "models",
                     "whatif", "risks", "report"}
    report = validate(_dataset(package), "knowledge-package")
    assert report.conforms, report.text
    # an empty section says why, in the manifest and in the package itself
    dataset = _dataset(package)
    for part in manifest.parts:
        if part.empty_reason:
            iri = URIRef(f"{manifest.package}/{part.name}")
            assert str(dataset.value(iri, TF.emptyReason)) == part.empty_reason


def test_the_build_is_in_the_audit_log_with_its_part_hashes(net: dict, package: bytes) -> None:
    manifest = read_archive(package).manifest
    entries = net["admin"].get("/audit", params={"action": "package.build",
                                                 "subject": manifest.package}).json()
    assert [e["actor"] for e in entries] == ["tt-acme"]
    assert entries[0]["details"]["manifest_parts"] == {p.name: p.sha256
                                                       for p in manifest.parts}


def test_every_range_traces_back_to_the_good_batches_it_came_from(net: dict,
                                                                  package: bytes) -> None:
    dataset = _dataset(package)
    ranges = list(dataset.subjects(RDF.type, TF.TransferredParameter))
    assert len(ranges) >= 10
    good = {row["b"] for row in _select(net, f"""
        PREFIX tf: <{TF}> PREFIX prov: <http://www.w3.org/ns/prov#>
        SELECT DISTINCT ?b WHERE {{ ?e a tf:Envelope ; prov:wasDerivedFrom ?b .
          ?b tf:atSite <https://w3id.org/twinfed/site/SITE-A/> }}""")}
    assert len(good) >= 3
    for node in ranges:
        batches = {str(b) for b in dataset.objects(node, PROV.wasDerivedFrom)}
        assert batches <= good, f"{node} names batches that are not S's good batches"
        assert len(batches) == dataset.value(node, TF.batchCount).toPython() >= 3
        assert "min, max" in str(dataset.value(node, TF.rangeMethod))
    # recompute three ranges (the titre first) from the federation's aligned features
    titre_first = sorted(ranges, key=lambda n: (str(dataset.value(n, TF.parameter))
                                                != TFP + "titre", str(n)))[:3]
    for node in titre_first:
        parameter = dataset.value(node, TF.parameter)
        phase = str(dataset.value(node, TF.phaseLabel))
        batches = " ".join(f"<{b}>" for b in dataset.objects(node, PROV.wasDerivedFrom))
        values = [float(r["v"]) for r in _select(net, f"""PREFIX tf: <{TF}>
            SELECT ?b ?v WHERE {{ VALUES ?b {{ {batches} }}
              ?f tf:ofBatch ?b ; tf:parameter <{parameter}> ; tf:statistic "mean" ;
                 tf:alignedValue ?v ; tf:inPhase ?ph . ?ph tf:phaseName "{phase}" }}""")]
        assert min(values) == pytest.approx(dataset.value(node, TF.lowerLimit).toPython())
        assert max(values) == pytest.approx(dataset.value(node, TF.upperLimit).toPython())


def test_the_package_compares_equipment_and_ranks_risks_with_evidence(package: bytes) -> None:
    dataset = _dataset(package)
    aspects = {str(dataset.value(n, TF.aspect)): dataset.value(n, TF.gap).toPython()
               for n in dataset.subjects(RDF.type, TF.EquipmentComparison)}
    assert set(aspects) == {"scale", "kLa", "mixing", "sensors", "instruments"}
    assert aspects["scale"] is True  # 2,000 L to 200 L
    risks = sorted((dataset.value(n, TF.rank).toPython(), n)
                   for n in dataset.subjects(RDF.type, TF.TransferRisk))
    assert [r for r, _ in risks] == list(range(1, len(risks) + 1))
    assert str(dataset.value(risks[0][1], TF.severity)) == "high"
    for _, node in risks:
        assert any(dataset.objects(node, PROV.wasDerivedFrom))
    scenarios = list(dataset.subjects(RDF.type, TF.WhatIfScenario))
    assert len(scenarios) >= 2
    assert all(dataset.value(s, TF.predictedTitre).toPython() > 0 for s in scenarios)


# ---------------------------------------------------------------------------------------------
# Access: sponsor scope and role
# ---------------------------------------------------------------------------------------------


def test_a_user_without_the_sponsor_in_scope_cannot_build_its_package(net: dict) -> None:
    response = _build(net, user="tt-beta")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    detail = response.json()["detail"]
    assert "belongs to sponsor 'SP-ACME'" in detail and "tt-beta" in detail


def test_building_a_package_needs_the_tech_transfer_role(net: dict) -> None:
    response = _build(net, user="qa-acme")
    assert response.status_code == 403
    detail = response.json()["detail"]  # said by the trust layer or by the package service
    assert "tech_transfer" in detail and "quality" in detail


def test_a_package_to_the_sending_site_itself_is_refused(net: dict) -> None:
    response = _build(net, to_site="SITE-A")
    assert response.status_code == 422
    assert "receiving site must differ" in response.json()["detail"]


# ---------------------------------------------------------------------------------------------
# Integrity: a one-byte change is refused, naming the part
# ---------------------------------------------------------------------------------------------


def _tamper(archive: bytes, path: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(archive))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == path:
                at = data.index(b"tf:lowerLimit") + 20 if b"tf:lowerLimit" in data else 10
                data = data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]
            target.writestr(info.filename, data)
    return buffer.getvalue()


def test_a_one_byte_change_is_refused_naming_the_part(package: bytes, tmp_path: Path,
                                                      net: dict,
                                                      neo4j_uris: dict[str, str]) -> None:
    tampered = _tamper(package, "parts/parameters.trig")
    with pytest.raises(PackageArchiveError, match=r"part 'parameters' \(parts/parameters.trig\) "
                                              r"was changed after the package was built"):
        read_archive(tampered)
    # what the receiving site's admin sees: one line naming the part, nothing imported
    path = tmp_path / "tampered.zip"
    path.write_bytes(tampered)
    env = {**os.environ, "TWINFED_SITE_NEO4J_URI": neo4j_uris["site_c"],
           "TWINFED_SITE_CODE": "SITE-C"}
    result = subprocess.run([sys.executable, "-c", "from twinfed.cli import main; main()",
                             "site", "package", "import", str(path)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "part 'parameters'" in result.stderr and "Traceback" not in result.stderr
    found = net["drivers"]["SITE-C"].execute_query("MATCH (k:Knowledge) RETURN count(k) AS n")
    assert found[0][0]["n"] == 0


def test_a_report_change_is_refused_too(package: bytes) -> None:
    with pytest.raises(PackageArchiveError, match=r"part 'report' \(report.html\)"):
        read_archive(_tamper(package, "report.html"))


# ---------------------------------------------------------------------------------------------
# Import at the receiving site: idempotent, knowledge beside the site's own data
# ---------------------------------------------------------------------------------------------


def test_import_at_the_receiving_site_is_idempotent_and_queryable(net: dict,
                                                                  package: bytes) -> None:
    driver = net["drivers"]["SITE-C"]
    batches_before = driver.execute_query("MATCH (b:Batch) RETURN count(b) AS n")[0][0]["n"]
    first = import_package(driver, package, site_code="SITE-C")
    assert first.outcome == "imported"
    counted = driver.execute_query("MATCH (k:Knowledge) RETURN count(k) AS n")[0][0]["n"]
    again = import_package(driver, package, site_code="SITE-C")
    assert again.outcome == "unchanged"
    assert driver.execute_query("MATCH (k:Knowledge) RETURN count(k) AS n")[0][0]["n"] == counted
    assert driver.execute_query("MATCH (b:Batch) RETURN count(b) AS n")[0][0]["n"] == \
        batches_before
    assert driver.execute_query("MATCH (b:Knowledge:Batch) RETURN count(b) AS n")[0][0]["n"] == 0
    # beside R's own data: each transferred range on R's own tag, with R's own batches' values
    rows = driver.execute_query("""
        MATCH (pkg:KnowledgePackage)-[:ABOUT_PROCESS]->(:Process {code: $code})
        MATCH (pkg)-[:HAS_KNOWLEDGE]->(k:TransferredParameter)-[:FOR_TAG]->(t:Tag)
        MATCH (b:Batch)-[:HAS_FEATURE]->(f:Feature {tag: t.name, phase: k.phase, stat: 'mean'})
        RETURN k.parameter_name AS parameter, k.phase AS phase, t.name AS tag,
               k.receiving_lower AS low, k.receiving_upper AS high,
               count(b) AS batches, sum(CASE WHEN f.value < k.receiving_lower
                 OR f.value > k.receiving_upper THEN 1 ELSE 0 END) AS outside""",
                              code=PROCESS)[0]
    assert len(rows) >= 10
    assert all(r["batches"] >= 1 and r["low"] <= r["high"] for r in rows)
    assert sum(r["batches"] for r in rows) > sum(r["outside"] for r in rows)


def test_a_package_for_another_site_is_refused(net: dict, package: bytes) -> None:
    with pytest.raises(ValidationError, match="addressed to site 'SITE-C'; this site is "
                                              "'SITE-A'"):
        import_package(net["drivers"]["SITE-A"], package, site_code="SITE-A")


# ---------------------------------------------------------------------------------------------
# Diff: a new version after S's data changed shows the changed range
# ---------------------------------------------------------------------------------------------


def test_diff_shows_a_changed_range_in_the_next_version(net: dict, package: bytes,
                                                       tmp_path: Path) -> None:
    first = read_archive(package)
    dataset = _dataset(package)
    node = next(n for n in dataset.subjects(RDF.type, TF.TransferredParameter)
                if str(dataset.value(n, TF.parameter)) == TFP + "titre")
    dropped = sorted(str(b) for b in dataset.objects(node, PROV.wasDerivedFrom))[0]
    delete_batch(net["drivers"]["SITE-A"], "SITE-A", dropped.rsplit("/", 1)[-1],
                 "test: withdrawn")
    analyse(net["drivers"]["SITE-A"], site_code="SITE-A")
    _sync(net, "SITE-A")
    response = _build(net)
    assert response.status_code == 200, response.text
    second = read_archive(response.content)
    assert second.manifest.version == first.manifest.version + 1
    change = diff_archives(first, second)
    assert any(line.startswith("~ titre in ") and "batches" in line for line in change.ranges), \
        change.render()
    assert not diff_archives(first, first).ranges
    # the same through the CLI, on the two files
    from typer.testing import CliRunner

    from twinfed.cli import app

    old_file, new_file = tmp_path / "v1.zip", tmp_path / "v2.zip"
    old_file.write_bytes(package)
    new_file.write_bytes(response.content)
    result = CliRunner().invoke(app, ["federation", "package", "diff", str(old_file),
                                      str(new_file)])
    assert result.exit_code == 0, result.output
    assert "proven acceptable ranges:" in result.output and "~ titre in" in result.output


def test_a_package_that_breaks_its_shapes_is_not_released(net: dict,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import federation.packages.service as service

    real = service.section_graphs

    def without_lineage(*args: object, **kwargs: object) -> dict:
        graphs = real(*args, **kwargs)
        node = next(graphs["parameters"].subjects(RDF.type, TF.TransferredParameter))
        graphs["parameters"].remove((node, PROV.wasDerivedFrom, None))
        return graphs

    monkeypatch.setattr(service, "section_graphs", without_lineage)
    response = _build(net)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "does not conform to the knowledge-package shapes and was not released" in detail
    assert "source batch (prov:wasDerivedFrom)" in detail


# ---------------------------------------------------------------------------------------------
# The HTML report in a real browser
# ---------------------------------------------------------------------------------------------


def test_the_report_opens_in_headless_chromium(package: bytes, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("TWINFED_CHROMIUM") or shutil.which("chromium")
    assert chromium, "Debian's chromium is needed (deploy/install-system-deps.sh)"
    report = tmp_path / "report.html"
    report.write_bytes(read_archive(package).files["report"])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri())
            assert "from SITE-A to SITE-C" in page.locator("h1").inner_text()
            headings = page.locator("h2").all_inner_texts()
            assert "Open risks" in headings and "Equipment comparison" in headings
            assert page.locator("img").evaluate_all(
                "imgs => imgs.every(i => i.complete && i.naturalWidth > 0)")
            assert page.locator("svg").count() >= 1
            assert all(u.startswith(("file:", "data:")) for u in requests), requests
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
