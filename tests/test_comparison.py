"""Site comparison on hand-checked graphs (tests/question_graphs.py): distributions,
envelope bands, outcomes with Cpk worked out by hand, equipment and measurement gaps."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from bioprocess.errors import NotFoundError, ValidationError
from federation.comparison.service import compare
from federation.comparison.stats import (
    constant_within_groups,
    cpk,
    separation,
    summary,
)
from federation.scope import Scope
from federation.store.base import Store
from tests.question_graphs import A, B, memory_store

TFP = "https://w3id.org/twinfed/parameter/"


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    opened = memory_store()
    yield opened
    opened.close()


def _scope(store: Store, *sponsors: str) -> Scope:
    return Scope(frozenset(sponsors),
                 tuple(i for i in store.graph_names() if i.endswith("/meta")))


@pytest.fixture(scope="module")
def p1(store: Store) -> dict:
    return compare(store, _scope(store, "SP-X"), "P1", ["SITE-A", "SITE-B"])


def _parameter(result: dict, name: str, phase: str) -> dict:
    return next(p for p in result["parameters"]
                if p["parameter"] == TFP + name and p["phase"] == phase)


def test_per_phase_distributions_are_plot_ready_arrays(p1: dict) -> None:
    temperature = _parameter(p1, "temperature", "growth")
    assert temperature["sites"]["SITE-A"]["values"] == [36.9, 37.0, 37.1]
    assert temperature["sites"]["SITE-A"]["batches"] == [A + f"batch/A{i}" for i in (1, 2, 3)]
    assert temperature["sites"]["SITE-B"]["values"] == [36.4, 36.5, 36.6]
    assert temperature["sites"]["SITE-B"]["summary"]["median"] == 36.5
    assert temperature["separation"] == pytest.approx(5.0)  # 0.5 / pooled SD 0.1
    # largest separation first: temperature growth 5.0, production 2.74, pH growth 0.5
    assert [(p["parameter"][len(TFP):], p["phase"]) for p in p1["parameters"]] == \
        [("temperature", "growth"), ("temperature", "production"), ("ph", "growth")]


def test_envelope_band_is_mean_plus_minus_k_sd_of_the_reference_batches(p1: dict) -> None:
    # SITE-A's TIC101 envelope: k = 3, reference batches A2, A3 (37.0, 37.1):
    # centre 37.05, SD 0.0707107 -> 37.05 +/- 0.212132
    band = _parameter(p1, "temperature", "growth")["sites"]["SITE-A"]["envelope"]
    assert band["envelope"] == A + "envelope/P1/1/TIC"
    assert band["centre"] == pytest.approx(37.05)
    assert band["low"] == pytest.approx(37.05 - 3 * math.sqrt(0.005))
    assert band["high"] == pytest.approx(37.05 + 3 * math.sqrt(0.005))
    assert _parameter(p1, "temperature", "growth")["sites"]["SITE-B"]["envelope"] is None
    envelopes = {e["envelope"]: e for e in p1["envelopes"]}
    assert envelopes[B + "envelope/P1/1/OUR"]["reference_batches"] == \
        [B + "batch/B2", B + "batch/B3"]
    assert envelopes[B + "envelope/P1/1/OUR"]["parameter"] == TFP + "oxygen-uptake-rate"


def test_outcomes_carry_cpk_against_specs_in_the_canonical_unit(p1: dict) -> None:
    [titre] = p1["outcomes"]
    site_a, site_b = titre["sites"]["SITE-A"], titre["sites"]["SITE-B"]
    # SITE-A: 4.0, 5.0, 5.0 g/L, LSL 4.5: mean 14/3, s = sqrt(1/3);
    # Cpk = (14/3 - 4.5) / (3 sqrt(1/3)) = 0.0962250
    assert site_a["values"] == [4.0, 5.0, 5.0]
    assert site_a["capability"]["cpk"] == pytest.approx((14 / 3 - 4.5) / (3 * math.sqrt(1 / 3)))
    assert site_a["capability"]["cpk"] == pytest.approx(0.0962250, abs=1e-7)
    # SITE-B reports mg/L (4000, 5000, 6000; LSL 4500): the alignment's 0.001 makes it g/L;
    # mean 5, s 1 -> Cpk (5 - 4.5) / 3 = 0.1667
    assert site_b["values"] == [4.0, 5.0, 6.0]
    assert site_b["spec_low"] == pytest.approx(4.5) and site_b["spec_high"] is None
    assert site_b["capability"]["cpk"] == pytest.approx(0.5 / 3)
    assert titre["unit"] == "g/L"
    assert site_b["results"][0] == B + "batch/B1/quality/final_titre"


def test_equipment_and_measurement_differences_in_words(p1: dict) -> None:
    assert p1["equipment"]["SITE-A"][0]["properties"]["workingVolumeLitre"] == 2000.0
    assert p1["equipment"]["SITE-B"][0]["unit_operations"] == ["production_bioreactor"]
    assert p1["sensors"]["SITE-B"][TFP + "ph"] == ["offline"]
    assert "scale (L): SITE-A 2000; SITE-B 500" in p1["differences"]
    assert "equipment kLaPerHour: SITE-A 12; SITE-B 8" in p1["differences"]
    assert "measurement of ph: SITE-A online; SITE-B offline" in p1["differences"]
    assert any(d.startswith("temperature mean in growth: 5.0 pooled SDs apart")
               for d in p1["differences"])


def test_comparison_is_scoped_and_names_what_is_missing(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no batch of process 'P1' is visible to you"):
        compare(store, _scope(store, "SP-Y"), "P1")
    with pytest.raises(NotFoundError, match="at SITE-C"):
        compare(store, _scope(store, "SP-X", "SP-Y"), "P1", ["SITE-A", "SITE-C"])
    with pytest.raises(ValidationError, match="got an empty value instead"):
        compare(store, _scope(store, "SP-X"), " ")
    every = compare(store, _scope(store, "SP-X", "SP-Y"), "P1")
    assert every["sites"] == ["SITE-A", "SITE-B"]  # P2 is SITE-C's only


def test_capability_without_a_spec_says_so() -> None:
    assert cpk([1.0, 2.0], None, None).as_dict() == {"cpk": None, "note": "no spec"}
    assert cpk([1.0], 0.0, None).cpk is None
    assert cpk([2.0, 2.0], 0.0, 4.0).note == "no spread between batches (SD 0)"
    # two-sided: mean 5, s 1, LSL 2, USL 9 -> min(4/3, 3/3) = 1.0
    assert cpk([4.0, 5.0, 6.0], 2.0, 9.0).cpk == pytest.approx(1.0)


def test_summary_and_separation_by_hand() -> None:
    stats = summary([1.0, 2.0, 3.0, 4.0])
    assert (stats["mean"], stats["q1"], stats["median"], stats["q3"]) == (2.5, 1.75, 2.5, 3.25)
    assert stats["sd"] == pytest.approx(math.sqrt(5 / 3))
    assert separation([[1.0, 3.0], [5.0, 7.0]]) == pytest.approx(4 / math.sqrt(2))
    assert separation([[1.0, 3.0]]) is None
    # a set point each site holds at its own value: no ratio, flagged as constant
    assert separation([[40.0, 40.0 + 1e-13], [30.0, 30.0]]) is None
    assert constant_within_groups([[40.0, 40.0 + 1e-13], [30.0, 30.0]])
    assert not constant_within_groups([[40.0, 40.0], [40.0, 40.0]])
    assert separation([[40.0, 40.0], [40.0, 40.0]]) is None
