"""The web dashboard in a real browser: Debian's chromium, driven headless by Playwright.

One module-scoped network: three real site nodes (Neo4j, each serving its site API over
HTTP, so batch pages fetch raw series on demand), synced to a real federation over HTTP;
users of two sponsors log in through the form. Screenshots go to
``test-artifacts/dashboard/`` (git-ignored) for a human to look at.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from neo4j import Driver

from federation.api.app import create_app
from federation.config import FederationSettings
from site_node.api import create_app as create_site_app
from site_node.config import SiteSettings
from site_node.sync.client import FederationClient, sync_site
from tests.conftest import load_campaign_site
from twinfed.serving import serve

ADMIN = "admin-token-for-dashboard-tests"
SITES = {"SITE-A": "site_a", "SITE-B": "site_b", "SITE-C": "site_c"}
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "dashboard"
TF = "https://w3id.org/twinfed/ontology#"


def chromium_path() -> str:
    """Debian's chromium; a clear failure (not a skip) when it is missing."""
    found = os.environ.get("TWINFED_CHROMIUM") or shutil.which("chromium") or \
        shutil.which("chromium-browser")
    if not found or not Path(found).exists():
        pytest.fail("Debian's chromium is not installed (the dashboard tests drive it "
                    "headless): run deploy/install-system-deps.sh as root or with sudo, or "
                    "set TWINFED_CHROMIUM to a chromium binary", pytrace=False)
    return found


@pytest.fixture(scope="module")
def network(_drivers: dict[str, Driver], campaign_dir: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    for site, db in SITES.items():
        driver = _drivers[db]
        load_campaign_site(driver, campaign_dir, site)
    settings = FederationSettings(data=tmp_path_factory.mktemp("federation-ui"),
                                  admin_token=ADMIN)
    with ExitStack() as stack:
        site_urls = {site: stack.enter_context(serve(create_site_app(
            SiteSettings(code=site), driver=_drivers[db]))) for site, db in SITES.items()}
        url = stack.enter_context(serve(create_app(settings)))
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"},
                             timeout=120)
        stack.callback(admin.close)
        for site, db in SITES.items():
            token = admin.post("/sites", json={"code": site}).json()["token"]
            client = FederationClient(url, token)
            try:
                sync_site(_drivers[db], client, site_code=site, api_base=site_urls[site],
                          software_version="t")
            finally:
                client.close()
        users = {name: admin.post("/users", json={
            "name": f"qa-{name}", "roles": ["quality"],
            "sponsors": [sponsor]}).json()["token"]
            for name, sponsor in (("acme", "SP-ACME"), ("beta", "SP-BETA"))}
        users["admin"] = ADMIN
        yield {"url": url, "users": users, "admin": admin}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: .venv/bin/pip install -e '.[dev]' (only the "
                    "Python package; the browser is Debian's chromium)", pytrace=False)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, headless=True,
                                     args=["--no-sandbox", "--disable-gpu",
                                           "--disable-dev-shm-usage"])
        try:
            yield launched
        finally:
            launched.close()


def _login(browser: object, network: dict, user: str) -> object:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{network['url']}/ui/sites")
    assert "/ui/login" in page.url  # not logged in: sent to the form
    page.fill("input[name=token]", network["users"][user])
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/ui/sites$"))
    return page


def _shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _sparql(network: dict, user: str, query: str) -> list[dict[str, str]]:
    response = httpx.post(f"{network['url']}/sparql", data={"query": query}, timeout=60,
                          headers={"Authorization": f"Bearer {network['users'][user]}",
                                   "Accept": "application/sparql-results+json"})
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in row.items()}
            for row in response.json()["results"]["bindings"]]


def _cells(page: object, table: str, column: int) -> list[str]:
    return [c.strip() for c in
            page.locator(f"{table} tbody tr td:nth-child({column})").all_inner_texts()]


@pytest.fixture(scope="module")
def acme(browser: object, network: dict) -> Iterator[object]:
    page = _login(browser, network, "acme")
    yield page
    page.context.close()


def test_bad_token_is_refused_with_a_message(browser: object, network: dict) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{network['url']}/ui/login")
    page.fill("input[name=token]", "not-a-token")
    page.click("button[type=submit]")
    assert "unknown or was revoked" in page.inner_text("p.error")
    assert context.cookies() == []
    context.close()


def test_sites_page_shows_freshness_and_visible_batches(acme: object, network: dict) -> None:
    acme.goto(f"{network['url']}/ui/sites")
    rows = {r.get_attribute("data-site"): r for r in acme.locator("#sites tbody tr").all()}
    assert set(rows) == set(SITES)
    counts = {r["site"]: int(r["n"]) for r in _sparql(network, "acme", f"""
        SELECT ?site (COUNT(DISTINCT ?b) AS ?n) WHERE {{
          ?b a <{TF}Batch> ; <{TF}atSite> ?s . ?s <{TF}siteCode> ?site }} GROUP BY ?site""")}
    for site, row in rows.items():
        cells = row.locator("td").all_inner_texts()
        assert cells[3] == "fresh" and cells[1] != "never"
        assert int(cells[5]) == counts[site]
    cookie = next(c for c in acme.context.cookies() if c["name"] == "twinfed_session")
    assert cookie["httpOnly"] and network["users"]["acme"] not in cookie["value"]
    _shot(acme, "sites")


def test_deviations_filter_by_site_and_category(acme: object, network: dict) -> None:
    acme.goto(f"{network['url']}/ui/deviations")
    everything = _cells(acme, "#deviations", 2)
    assert len(set(everything)) >= 2, "the campaign has deviations at several sites"
    site = max(set(everything), key=everything.count)
    with acme.expect_navigation():
        acme.select_option("select[name=site]", site)  # applies on change (app.js)
    sites = _cells(acme, "#deviations", 2)
    assert set(sites) == {site} and len(sites) == everything.count(site)
    category = _cells(acme, "#deviations", 6)[0]
    with acme.expect_navigation():
        acme.select_option("select[name=category]", category)
    assert set(_cells(acme, "#deviations", 6)) == {category}
    assert set(_cells(acme, "#deviations", 2)) == {site}
    _shot(acme, "deviations-filtered")
    acme.goto(f"{network['url']}/ui/deviations?from=2999-01-01")
    assert "No deviation record matches" in acme.inner_text("#deviations")
    acme.goto(f"{network['url']}/ui/deviations?from=yesterday")
    assert "'from' must be a date (YYYY-MM-DD); got 'yesterday'" in acme.inner_text("p.error")


def test_batch_page_plots_raw_series_against_the_envelope(acme: object, network: dict) -> None:
    acme.goto(f"{network['url']}/ui/batches")
    rows = acme.locator("#batches tbody tr").all()
    with_events = [r for r in rows if int(r.locator("td").nth(6).inner_text()) > 0]
    assert with_events
    with_events[0].locator("td a").click()
    acme.wait_for_selector("figure.trajectory svg")
    figures = acme.locator("figure.trajectory")
    assert figures.count() >= 1
    first = figures.first
    assert first.locator("path.series").get_attribute("d").count("L") > 50  # raw series
    assert first.locator("polygon.band").count() >= 1  # the envelope band
    assert "reference batches" in first.locator("figcaption").inner_text()
    _shot(acme, "batch")


def test_site_api_lays_the_envelope_over_the_batch_phases(network: dict) -> None:
    [row] = _sparql(network, "acme", f"""
        SELECT ?raw ?tag ?start ?end WHERE {{
          ?e a <{TF}DeviationEvent> ; <{TF}ofBatch> ?b ; <{TF}ofTag> ?t ; <{TF}magnitude> ?m .
          ?t <http://www.w3.org/2004/02/skos/core#prefLabel> ?tag .
          ?b <{TF}rawData> ?raw ; <{TF}startTime> ?start ; <{TF}endTime> ?end .
        }} ORDER BY DESC(?m) LIMIT 1""")
    detail = httpx.get(row["raw"], timeout=30).json()
    tag = row["tag"] if row["tag"] in {s["tag"] for s in detail["series"]} \
        else detail["series"][0]["tag"]
    band = httpx.get(f"{row['raw']}/envelope/{tag}", timeout=30).json()
    points = [(t, lo, mid, hi) for t, lo, mid, hi in
              zip(band["t_h"], band["lower"], band["mean"], band["upper"], strict=True)
              if t is not None and lo is not None]
    assert len(points) > 20 and band["reference_batches"] >= 3
    assert all(lo <= mid <= hi for _, lo, mid, hi in points)
    hours = [t for t, *_ in points]
    assert hours == sorted(hours) and hours[0] >= 0
    from datetime import datetime
    duration = (datetime.fromisoformat(row["end"]) -
                datetime.fromisoformat(row["start"])).total_seconds() / 3600
    assert hours[-1] <= duration + 1e-6
    missing = httpx.get(f"{row['raw']}/envelope/no-such-tag", timeout=30)
    assert missing.status_code == 404 and "no envelope for tag 'no-such-tag'" in \
        missing.json()["detail"]


def test_named_question_answers_as_the_sparql_endpoint_does(acme: object,
                                                             network: dict) -> None:
    from federation.questions.catalogue import question

    acme.goto(f"{network['url']}/ui/questions")
    section = acme.locator("#q-our_titre")
    section.locator("input[name=reduction]").fill("0.05")
    section.locator("button[type=submit]").click()
    acme.wait_for_selector("#answer-count")
    expected = _sparql(network, "acme", question("our_titre").bind({"reduction": "0.05"}))
    assert acme.inner_text("#answer-count").startswith(f"{len(expected)} answers")
    shown = acme.locator("#results tbody tr").count()
    assert shown == max(len(expected), 1)
    _shot(acme, "question")


def test_sparql_console_runs_read_only_queries_in_scope(acme: object, network: dict) -> None:
    acme.goto(f"{network['url']}/ui/sparql")
    acme.click("#console button[type=submit]")  # the example query: batches per site
    acme.wait_for_selector("#results")
    shown = dict(zip(_cells(acme, "#results", 1), _cells(acme, "#results", 2), strict=True))
    expected = {r["site"]: r["batches"] for r in _sparql(network, "acme", f"""
        SELECT ?site (COUNT(DISTINCT ?batch) AS ?batches)
        WHERE {{ ?batch a <{TF}Batch> ; <{TF}atSite> ?s . ?s <{TF}siteCode> ?site }}
        GROUP BY ?site""")}
    assert shown == expected
    acme.fill("#console textarea", "DROP ALL")
    acme.click("#console button[type=submit]")
    assert acme.locator("p.error").count() == 1


def _available(page: object, capability: str) -> bool:
    """False (and checked) when this build lacks the capability: the page says so."""
    from federation.web import capabilities

    if capabilities.module(capability) is not None:
        return True
    assert "Not available yet" in page.inner_text("main")
    return False


def test_signature_leads_to_a_batch_plot_and_a_finding_to_its_origins(acme: object,
                                                                      network: dict) -> None:
    acme.goto(f"{network['url']}/ui/signatures")
    if not _available(acme, "signatures.service"):
        return
    acme.click("#discover")  # quality may run discovery
    acme.wait_for_selector("#signatures")
    links = acme.locator("#signatures tbody tr td:first-child a")
    assert links.count() >= 1
    _shot(acme, "signatures")
    pages = [f"{network['url']}{h}" for h in
             (links.nth(i).get_attribute("href") for i in range(links.count()))]
    signature_url = None
    for url in pages:  # the first signature with member or matching batches
        acme.goto(url)
        assert acme.inner_text("#definition").strip()
        # the matching list is the batches_matching_signature question: every member is in
        # it, marked as one (the same batches `signatures show/match` give)
        listed = [row.locator("td").all_inner_texts() for row in
                  acme.locator("#matches tbody tr").all()]
        assert sorted(acme.locator("#members a.member").all_inner_texts()) == sorted(
            cells[1] for cells in listed if len(cells) > 2 and cells[2] == "yes")
        if acme.locator("#members a.member, #matches a.match").count():
            signature_url = url
            break
    assert signature_url, "some batch of the campaign shows a known signature"
    _shot(acme, "signature")
    acme.locator("#members a.member, #matches a.match").first.click()
    acme.wait_for_selector("figure.trajectory svg path.series")
    assert acme.locator("figure.trajectory polygon.band").count() >= 1
    plotted = acme.url
    # a finding (the batch's largest deviation event) traced to the envelope it broke, the
    # reference batches that envelope was built from, the export, the site, the raw signal
    acme.locator("#events a.trace").first.click()
    if not _available(acme, "trace.service"):
        return
    origins = {dt: dd for dt, dd in zip(acme.locator("#origins dt").all_inner_texts(),
                                        acme.locator("#origins dd").all_inner_texts(),
                                        strict=True)}
    assert "/batch/" in origins["batches"] and "/export/" in origins["exports"]
    assert origins["raw data"].startswith("http://127.0.0.1:")
    _shot(acme, "trace")
    acme.locator("#raw li a").first.click()  # from the trace back to the raw signal
    acme.wait_for_selector("figure.trajectory svg path.series")
    assert acme.url == plotted


def test_compare_sites_shows_outcomes_and_parameter_plots(acme: object,
                                                           network: dict) -> None:
    acme.goto(f"{network['url']}/ui/compare")
    if not _available(acme, "comparison.service"):
        return
    outcome_sites = set(_cells(acme, "#outcomes", 2))
    assert outcome_sites == set(SITES)
    assert acme.locator("#parameter-plots figure svg circle.dot").count() > 10
    assert acme.locator("#differences li").count() >= 1
    acme.uncheck("input[name=site][value=SITE-C]")
    acme.click("#compare-form button")
    acme.wait_for_url(re.compile(r".*site=SITE-A.*"))
    assert set(_cells(acme, "#outcomes", 2)) == {"SITE-A", "SITE-B"}
    _shot(acme, "compare")


def test_packages_page_builds_a_package_to_download(browser: object, network: dict) -> None:
    import zipfile

    page = _login(browser, network, "admin")  # building needs tech_transfer or admin
    try:
        page.goto(f"{network['url']}/ui/packages")
        if not _available(page, "packages.service"):
            return
        processes = page.locator("select[name=process] option").all_inner_texts()
        page.select_option("select[name=process]", "P-mAb-101-FB" if "P-mAb-101-FB" in
                           processes else processes[0])
        page.select_option("select[name=from_site]", "SITE-A")
        page.select_option("select[name=to_site]", "SITE-B")
        with page.expect_download(timeout=180_000) as download:
            page.click("#package-form button")
        with zipfile.ZipFile(download.value.path()) as archive:
            names = archive.namelist()
        assert "manifest.json" in names and any(n.endswith(".html") for n in names)
        page.goto(f"{network['url']}/ui/packages")
        assert page.locator("#packages tbody tr").first.locator("td").nth(1).inner_text() \
            == "SITE-A"
        _shot(page, "packages-built")
    finally:
        page.context.close()


def test_every_page_opens(acme: object, network: dict) -> None:
    for key in ("signatures", "compare", "trace", "models", "packages"):
        response = acme.goto(f"{network['url']}/ui/{key}")
        assert response.status == 200, key
        assert acme.locator("h1").count() == 1
        _shot(acme, key)


def test_a_sponsor_never_sees_another_sponsors_batches(browser: object,
                                                       network: dict) -> None:
    beta_ids = {r["id"] for r in _sparql(network, "beta", f"""
        SELECT DISTINCT ?id WHERE {{ ?b a <{TF}Batch> ; <{TF}batchId> ?id }}""")}
    acme_rows = _sparql(network, "acme", f"""
        SELECT DISTINCT ?site ?id WHERE {{ ?b a <{TF}Batch> ; <{TF}batchId> ?id ;
          <{TF}atSite> ?s . ?s <{TF}siteCode> ?site }}""")
    assert beta_ids and acme_rows
    page = _login(browser, network, "beta")
    try:
        page.goto(f"{network['url']}/ui/batches")
        assert set(_cells(page, "#batches", 2)) == beta_ids
        page.goto(f"{network['url']}/ui/deviations")
        assert set(_cells(page, "#deviations", 3)) <= beta_ids
        other = acme_rows[0]
        response = page.goto(f"{network['url']}/ui/batches/{other['site']}/{other['id']}")
        assert response.status == 404
        assert "not among the batches you may see" in page.inner_text("p.error")
        page.goto(f"{network['url']}/ui/sparql")
        page.fill("#console textarea", f"SELECT DISTINCT ?id WHERE {{ GRAPH ?g {{ "
                  f"?b <{TF}batchId> ?id }} }}")
        page.click("#console button[type=submit]")
        page.wait_for_selector("#results")
        assert set(_cells(page, "#results", 1)) <= beta_ids | {"no rows"}
        _shot(page, "beta-batches")
    finally:
        page.context.close()


def test_logging_out_ends_the_session(browser: object, network: dict) -> None:
    page = _login(browser, network, "acme")
    page.click("form.who button")
    page.wait_for_url(re.compile(r".*/ui/login$"))
    page.goto(f"{network['url']}/ui/deviations")
    assert "/ui/login" in page.url
    page.context.close()
