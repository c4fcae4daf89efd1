"""Named questions and site comparison over real HTTP: a served federation whose store holds
the hand-checked graphs (tests/question_graphs.py); users of sponsor X see only X's rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from federation.api.app import create_app
from federation.config import FederationSettings
from federation.store import open_store
from tests.question_graphs import A, load
from twinfed.cli import app as cli_app
from twinfed.serving import serve

ADMIN = "admin-token-for-question-tests"


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    data: Path = tmp_path_factory.mktemp("federation")
    settings = FederationSettings(data=data, admin_token=ADMIN)
    store = open_store(settings.store_location)
    try:
        load(store)
    finally:
        store.close()
    with serve(create_app(settings)) as url:
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"},
                             timeout=60)
        users = {
            sponsor: admin.post("/users", json={"name": f"qa-{sponsor}", "roles": ["quality"],
                                                "sponsors": [sponsor]}).json()["token"]
            for sponsor in ("SP-X", "SP-Y")}
        site = admin.post("/sites", json={"code": "SITE-A"}).json()["token"]
        yield {"url": url, "users": users, "site": site}
        admin.close()


def _get(federation: dict, path: str, token: str | None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(federation["url"] + path, params=params, headers=headers, timeout=60)


def test_catalogue_lists_questions_with_typed_parameters(federation: dict) -> None:
    response = _get(federation, "/questions", federation["users"]["SP-X"])
    assert response.status_code == 200
    catalogue = {q["name"]: q for q in response.json()}
    assert {"our_titre", "deviations_by_category", "site_differences"} <= set(catalogue)
    granularity = next(p for p in catalogue["deviations_by_category"]["parameters"]
                       if p["name"] == "granularity")
    assert granularity == {"name": "granularity", "type": "choice",
                           "choices": ["year", "month", "day"], "default": "month",
                           "description": "length of one period"}
    assert {"column": "ourEventList", "list": True} in catalogue["our_titre"]["evidence"]


def test_answer_carries_rows_evidence_and_the_bound_query(federation: dict) -> None:
    body = _get(federation, "/questions/our_titre", federation["users"]["SP-X"],
                reduction="0.1").json()
    assert [r["batchId"] for r in body["rows"]] == ["A1"]
    assert body["rows"][0]["ourEventList"] == [A + "batch/A1/event/0"]
    assert body["parameters"] == {"reduction": "0.1", "setpoint_tolerance": "5.0"}
    assert "(1 - 0.1) * ?referenceTitre" in body["query"]
    assert body["sponsors_in_scope"] == ["SP-X"]


def test_users_see_only_their_sponsors_rows(federation: dict) -> None:
    x = _get(federation, "/questions/deviations_by_category", federation["users"]["SP-X"])
    y = _get(federation, "/questions/deviations_by_category", federation["users"]["SP-Y"])
    assert {r["site"] for r in x.json()["rows"]} == {"SITE-A", "SITE-B"}
    assert {r["site"] for r in y.json()["rows"]} == {"SITE-C"}
    as_site = _get(federation, "/questions/deviations_by_category", federation["site"])
    # a site credential sees no sponsor's rows: refused outright, or answered with none
    assert as_site.status_code == 403 or (as_site.status_code == 200
                                          and as_site.json()["rows"] == [])


def test_unknown_question_is_a_404_problem(federation: dict) -> None:
    response = _get(federation, "/questions/drop_all", federation["users"]["SP-X"])
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "no question named 'drop_all'" in response.json()["detail"]


def test_bad_parameter_is_a_400_naming_it(federation: dict) -> None:
    response = _get(federation, "/questions/our_titre", federation["users"]["SP-X"],
                    reduction="a lot")
    assert response.status_code == 400
    assert response.json()["detail"] == ("parameter 'reduction' of question 'our_titre' must "
                                         "be a number; got 'a lot' instead")
    unknown = _get(federation, "/questions/our_titre", federation["users"]["SP-X"], site="A")
    assert unknown.status_code == 400 and "has no parameter(s) ['site']" in \
        unknown.json()["detail"]


def test_questions_need_a_token(federation: dict) -> None:
    assert _get(federation, "/questions", None).status_code == 401


def test_compare_is_scoped(federation: dict) -> None:
    ok = _get(federation, "/compare", federation["users"]["SP-X"], process="P1",
              sites="SITE-A,SITE-B")
    assert ok.status_code == 200
    assert ok.json()["batches"]["SITE-B"]["batch_ids"] == ["B1", "B2", "B3"]
    hidden = _get(federation, "/compare", federation["users"]["SP-Y"], process="P1")
    assert hidden.status_code == 404
    assert "no batch of process 'P1' is visible to you" in hidden.json()["detail"]
    missing = _get(federation, "/compare", federation["users"]["SP-X"], process="P1",
                   sites="SITE-A,SITE-C")
    assert missing.status_code == 404 and "at SITE-C" in missing.json()["detail"]


def test_cli_asks_and_compares_over_http(federation: dict) -> None:
    runner = CliRunner()
    env = {"TWINFED_FED_URL": federation["url"], "TWINFED_FED_TOKEN": federation["users"]["SP-X"]}
    listed = runner.invoke(cli_app, ["federation", "ask"], env=env)
    assert listed.exit_code == 0 and "site_differences" in listed.output
    answered = runner.invoke(cli_app, ["federation", "ask", "our_titre", "--param",
                                       "reduction=0.1"], env=env)
    assert answered.exit_code == 0, answered.output
    assert "A1" in answered.output and A + "batch/A1/event/0" in answered.output
    bad = runner.invoke(cli_app, ["federation", "ask", "our_titre", "-p", "reduction=x"],
                        env=env)
    assert bad.exit_code == 1
    assert "400: parameter 'reduction' of question 'our_titre' must be a number" in bad.output
    compared = runner.invoke(cli_app, ["federation", "compare", "--process", "P1", "--sites",
                                       "SITE-A,SITE-B"], env=env)
    assert compared.exit_code == 0, compared.output
    assert "workingVolumeLitre: SITE-A 2000; SITE-B 500" in compared.output


def test_demo_steps_print_the_answer_with_evidence_and_the_comparison(
        federation: dict, capsys: pytest.CaptureFixture[str]) -> None:
    from twinfed.ask_cli import show_comparison, show_question

    answer = show_question(federation["url"], federation["users"]["SP-X"], "our_titre")
    comparison = show_comparison(federation["url"], federation["users"]["SP-X"])
    printed = capsys.readouterr().out
    assert [r["batchId"] for r in answer["rows"]] == ["A1"]
    assert A + "batch/A1/event/0" in printed and A + "envelope/P1/1/OUR" in printed
    # the process is found with site_differences (P1: the only one run at two sites)
    assert comparison is not None and comparison["process"] == "P1"
    assert "scale (L): SITE-A 2000; SITE-B 500" in printed
