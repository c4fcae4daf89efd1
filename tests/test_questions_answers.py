"""Each named question answers hand-checked small graphs (tests/question_graphs.py) in a real
Oxigraph store, with its evidence; scoping by sponsor narrows the answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from federation.questions.catalogue import ParameterError, questions
from federation.questions.service import ask
from federation.scope import Scope
from federation.store.base import Store
from tests.question_graphs import A, B, C, memory_store

TFP = "https://w3id.org/twinfed/parameter/"
TFFM = "https://w3id.org/twinfed/failure-mode/"


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    opened = memory_store()
    yield opened
    opened.close()


def _scope(store: Store, *sponsors: str) -> Scope:
    return Scope(frozenset(sponsors),
                 tuple(i for i in store.graph_names() if i.endswith("/meta")))


def _rows(store: Store, name: str, sponsors: tuple[str, ...] = ("SP-X", "SP-Y"),
          **params: str) -> list[dict]:
    return ask(store, _scope(store, *sponsors), name, params).rows


#: The questions this suite answers (others, e.g. signatures', have their own tests).
ANSWERED = ("our_titre", "deviations_by_category", "deviation_events_by_parameter",
            "site_differences", "capa_by_failure_mode", "out_of_spec")


def test_every_question_declares_title_description_and_evidence() -> None:
    catalogue = questions()
    for named in (catalogue[name] for name in ANSWERED):
        assert named.title and named.description, named.name
        assert named.evidence, f"{named.name} names no evidence columns"
        assert "$" not in named.bind().split("SELECT", 1)[1], named.name


def test_our_titre_returns_the_batch_with_its_events_envelope_and_titre(store: Store) -> None:
    # A1: OUR event, titre 4.0 < 0.9 x 5.0 (A2, A3), set-point event 1 SD (nominal).
    # B1: OUR event and titre 4.0 but a pH set-point excursion of 6 SDs (> 5): not nominal.
    # C1: OUR event, titre 1.0 < 0.9 x 3.0 (C2).
    rows = _rows(store, "our_titre")
    assert [(r["site"], r["batchId"]) for r in rows] == [("SITE-A", "A1"), ("SITE-C", "C1")]
    a1 = rows[0]
    assert (a1["titre"], a1["referenceTitre"], a1["ourEvents"], a1["maxMagnitude"]) == \
        (4.0, 5.0, 1, 4.0)
    assert a1["ourEventList"] == [A + "batch/A1/event/0"]
    assert a1["envelopeList"] == [A + "envelope/P1/1/OUR"]
    assert a1["titreResult"] == A + "batch/A1/quality/final_titre"
    assert a1["batch"] == A + "batch/A1"


def test_our_titre_parameters_change_the_answer(store: Store) -> None:
    assert [r["batchId"] for r in _rows(store, "our_titre", setpoint_tolerance="0.5")] == \
        ["C1"]  # A1's 1-SD set-point event now counts as a non-nominal profile
    assert [r["batchId"] for r in _rows(store, "our_titre", setpoint_tolerance="10")] == \
        ["A1", "B1", "C1"]  # B1's 6-SD pH set-point event is now tolerated
    assert [r["batchId"] for r in _rows(store, "our_titre", reduction="0.25")] == \
        ["C1"]  # 4.0 is not below 0.75 x 5.0; 1.0 is below 0.75 x 3.0


def test_our_titre_is_scoped_to_the_callers_sponsors(store: Store) -> None:
    assert [r["batchId"] for r in _rows(store, "our_titre", ("SP-X",))] == ["A1"]
    assert [r["batchId"] for r in _rows(store, "our_titre", ("SP-Y",))] == ["C1"]
    assert _rows(store, "our_titre", ()) == []


def test_deviations_by_category_per_site_per_month(store: Store) -> None:
    rows = _rows(store, "deviations_by_category")
    got = [(r["site"], r["period"], r["category"], r["records"]) for r in rows]
    # "equipment" and "Equipment" (A1, A2) count together.
    assert got == [("SITE-A", "2026-01", "equipment", 2), ("SITE-A", "2026-02", "process", 1),
                   ("SITE-B", "2026-01", "equipment", 1), ("SITE-C", "2026-01", "equipment", 1)]
    assert rows[0]["recordList"] == [A + "batch/A1/deviation/DEV-1",
                                     A + "batch/A2/deviation/DEV-2"]
    assert rows[0]["failureModeList"] == [TFFM + "do-probe-drift"]  # DEV-2 has none


def test_deviations_by_category_granularity_window_and_category(store: Store) -> None:
    yearly = _rows(store, "deviations_by_category", ("SP-X",), granularity="year",
                   category="EQUIPMENT")
    assert [(r["site"], r["period"], r["records"]) for r in yearly] == \
        [("SITE-A", "2026", 2), ("SITE-B", "2026", 1)]
    window = _rows(store, "deviations_by_category", ("SP-X",), **{"from": "2026-01-16",
                                                                  "to": "2026-02-03"})
    assert [r["recordList"] for r in window] == [[A + "batch/A2/deviation/DEV-2"]]
    daily = _rows(store, "deviations_by_category", ("SP-Y",), granularity="day")
    assert [r["period"] for r in daily] == ["2026-01-10"]


def test_deviation_events_by_parameter(store: Store) -> None:
    rows = _rows(store, "deviation_events_by_parameter", ("SP-X",), min_magnitude="2.5")
    got = [(r["site"], r["parameter"][len(TFP):], r["direction"], r["events"],
            r["maxMagnitude"]) for r in rows]
    assert got == [("SITE-A", "oxygen-uptake-rate", "low", 1, 4.0),
                   ("SITE-B", "oxygen-uptake-rate", "low", 1, 3.0),
                   ("SITE-B", "ph-set-point", "high", 1, 6.0)]
    assert rows[1]["eventList"] == [B + "batch/B1/event/0"]
    assert rows[1]["envelopeList"] == [B + "envelope/P1/1/OUR"]
    assert _rows(store, "deviation_events_by_parameter", process="P9") == []


def test_site_differences_rank_parameters_in_pooled_sds(store: Store) -> None:
    # temperature/growth: A 36.9 37.0 37.1, B 36.4 36.5 36.6 -> difference 0.5, pooled SD
    # sqrt((0.02 + 0.02) / (6 - 2)) = 0.1 -> 5.0 SDs. pH/growth: 7.0-7.2 vs 7.05-7.25 ->
    # 0.05 / 0.1 = 0.5. temperature/production: B has 2 batches < min_batches 3 -> no row.
    rows = _rows(store, "site_differences", process="P1")
    got = [(r["parameter"][len(TFP):], r["phase"], round(r["separation"], 6),
            round(r["difference"], 6), round(r["pooledSd"], 6), r["highSite"], r["lowSite"])
           for r in rows]
    assert got == [("temperature", "growth", 5.0, 0.5, 0.1, "SITE-A", "SITE-B"),
                   ("ph", "growth", 0.5, 0.05, 0.1, "SITE-B", "SITE-A")]
    assert rows[0]["highSiteIri"] == A and rows[0]["lowSiteIri"] == B
    with_two = _rows(store, "site_differences", process="P1", min_batches="2", top="1")
    assert [(r["phase"], round(r["separation"], 4)) for r in with_two] == [("growth", 5.0)]
    # production with 2 B batches: (35.5 - 34.25) / sqrt((0.5 + 0.125) / 3) = 2.7386
    production = [r for r in _rows(store, "site_differences", process="P1", min_batches="2")
                  if r["phase"] == "production"]
    assert round(production[0]["separation"], 4) == 2.7386
    assert _rows(store, "site_differences", process="P2") == []  # one site only
    assert all(r["constantWithinSites"] is False for r in rows)
    assert sorted(rows[0]["siteMeans"].split()) == [f"36.5|3|{B}", f"37|3|{A}"]


def test_capa_by_failure_mode(store: Store) -> None:
    rows = _rows(store, "capa_by_failure_mode")
    got = [(r["failureMode"][len(TFFM):], r["site"], r["records"], r["capas"], r["effective"],
            r["ineffective"], r["notAssessed"]) for r in rows]
    assert got == [("do-probe-drift", "SITE-A", 1, 1, 1, 0, 0),
                   ("do-probe-drift", "SITE-B", 1, 1, 0, 0, 1),
                   ("do-probe-drift", "SITE-C", 1, 0, 0, 0, 0),
                   ("media-lot", "SITE-A", 1, 1, 0, 1, 0)]
    assert rows[0]["capaList"] == [A + "batch/A1/capa/CAPA-1"]
    assert rows[0]["actions"] == "action CAPA-1"
    only = _rows(store, "capa_by_failure_mode", failure_mode=TFFM + "media-lot")
    assert [r["recordList"] for r in only] == [[A + "batch/A3/deviation/DEV-3"]]


def test_out_of_spec(store: Store) -> None:
    rows = _rows(store, "out_of_spec")
    assert [(r["site"], r["batchId"], r["value"], r["unit"], r["specLow"], r["broken"])
            for r in rows] == [("SITE-A", "A1", 4.0, "g/L", 4.5, "below lower limit"),
                               ("SITE-B", "B1", 4000.0, "mg/L", 4500.0, "below lower limit"),
                               ("SITE-C", "C1", 1.0, "g/L", 2.0, "below lower limit")]
    assert rows[2]["result"] == C + "batch/C1/quality/final_titre"
    assert [r["batchId"] for r in _rows(store, "out_of_spec", process="P2")] == ["C1"]


@pytest.mark.parametrize(("name", "params", "message"), [
    ("deviations_by_category", {"granularity": "week"},
     "parameter 'granularity' of question 'deviations_by_category' must be one of 'year', "
     "'month', 'day'; got 'week' instead"),
    ("deviations_by_category", {"from": "2026-13-01"},
     "must be a date YYYY-MM-DD; got '2026-13-01' instead"),
    ("site_differences", {"top": "ten"}, "must be an integer; got 'ten' instead"),
    ("site_differences", {"sites": "A"}, "has no parameter(s) ['sites']"),
])
def test_bad_parameters_are_named(store: Store, name: str, params: dict, message: str) -> None:
    with pytest.raises(ParameterError) as caught:
        ask(store, _scope(store, "SP-X"), name, params)
    assert message in str(caught.value)


def test_string_parameters_cannot_inject_sparql(store: Store) -> None:
    hostile = '") || true || ("'
    assert _rows(store, "out_of_spec", process=hostile) == []
