"""Signature discovery on a generated campaign through the real pipeline.

Three real site nodes (Neo4j) ingest and analyse the session campaign (3 sites x 6 batches,
seed 11, fault rate 0.4), sync to a real federation over HTTP; quality runs discovery, lists,
shows and matches over HTTP, and the CLI talks to the same federation. What is checked is
what ground truth allows on so small a campaign: every signature member really had an
injected fault (fault-free batches have no aligned events here), signatures recur at two or
more sites, their words name the events their members share, and each member matches its
own signature best among the discovered ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from neo4j import Driver
from typer.testing import CliRunner

from federation.api.app import create_app
from federation.config import FederationSettings
from site_node.sync.client import FederationClient, sync_site
from tests.conftest import load_campaign_site
from twinfed.cli import app as cli_app
from twinfed.serving import serve

ADMIN = "admin-token-for-signature-pipeline"
SITES = {"SITE-A": "site_a", "SITE-B": "site_b", "SITE-C": "site_c"}


@pytest.fixture(scope="module")
def federation(_drivers: dict[str, Driver], campaign_dir: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    settings = FederationSettings(data=tmp_path_factory.mktemp("federation"), admin_token=ADMIN)
    with serve(create_app(settings)) as url:
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"},
                             timeout=300)
        for site, db in SITES.items():
            driver = _drivers[db]
            load_campaign_site(driver, campaign_dir, site)
            client = FederationClient(url, admin.post("/sites", json={"code": site}).json()[
                "token"])
            try:
                sync_site(driver, client, site_code=site, api_base="http://site.example",
                          software_version="t")
            finally:
                client.close()
        quality = admin.post("/users", json={"name": "qa-acme", "roles": ["quality"],
                                             "sponsors": ["SP-ACME"]}).json()["token"]
        qa = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {quality}"},
                          timeout=300)
        truth = json.loads((campaign_dir / "ground_truth.json").read_text())
        discovered = qa.post("/signatures/discover", json={})
        assert discovered.status_code == 200, discovered.text
        yield {"url": url, "qa": qa, "token": quality, "truth": truth,
               "run": discovered.json()["runs"]}
        qa.close()
        admin.close()


def _faults(truth: dict) -> dict[str, list[str]]:
    return {b["batch_id"]: [f["type"] for f in b["faults"]] for b in truth["batches"]}


def test_discovery_reads_every_batch_of_the_sponsor_and_keeps_only_recurring_groups(
        federation: dict) -> None:
    [run] = federation["run"]  # the quality user sees SP-ACME only
    truth = federation["truth"]
    acme = [b for b in truth["batches"] if b["sponsor"] == "SP-ACME"]
    assert run["sponsor"] == "SP-ACME" and run["batches_read"] == len(acme)
    faults = _faults(truth)
    for signature in run["signatures"]:
        members = [m["batch_id"] for m in signature["member_batches"]]
        assert len(signature["sites"]) >= 2 and len(members) >= 2
        assert all(faults[m] for m in members), (members, faults)  # no fault-free member
        words = signature["definition"]
        for event in signature["defining_events"]:
            assert event["share"] >= 0.5 and event["in_words"] in words or \
                signature["definition"].endswith("more event kinds.")


def test_each_member_matches_its_own_signature_best(federation: dict) -> None:
    qa = federation["qa"]
    [run] = federation["run"]
    for signature in run["signatures"]:
        member = signature["member_batches"][0]["batch_id"]
        matches = qa.get("/signatures/match", params={"batch": member}).json()["matches"]
        discovered = [m for m in matches if m["signature"]["kind"] == "discovered"]
        assert discovered[0]["signature"]["id"] == signature["id"]
        assert discovered[0]["score"] > 0.5 and "defining events present" in \
            discovered[0]["explanation"]


def test_the_cli_lists_shows_and_matches_over_http(federation: dict) -> None:
    runner = CliRunner()
    env = {"TWINFED_FEDERATION_URL": federation["url"],
           "TWINFED_FEDERATION_TOKEN": federation["token"]}
    listed = runner.invoke(cli_app, ["federation", "signatures", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "hyper-metabolic culture profile" in listed.output
    missing = runner.invoke(cli_app, ["federation", "signatures", "show", "sig-nope"], env=env)
    assert missing.exit_code != 0
    assert "404" in str(missing.exception) and "no failure signature 'sig-nope'" in str(
        missing.exception)
    any_batch = federation["truth"]["batches"][0]["batch_id"]
    matched = runner.invoke(cli_app, ["federation", "signatures", "match", any_batch], env=env)
    assert matched.exit_code == 0, matched.output
    assert "oxygen transfer limitation" in matched.output
