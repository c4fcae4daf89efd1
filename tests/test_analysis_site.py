"""A site analyses one process: phases, features, envelopes, events and T²/SPE together."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bioprocess.analysis import (
    AnalysisOptions,
    BatchTrajectories,
    InvalidTrajectoryError,
    PhaseSpan,
    SiteAnalysis,
    analyse_site,
)
from bioprocess.analysis.synthetic import (
    InjectedFault,
    SyntheticProcess,
    make_batch,
    make_batches,
)

PROCESS = SyntheticProcess(n_online=5, n_offline=1, seed=21)


@pytest.fixture(scope="module")
def campaign() -> list[BatchTrajectories]:
    good = make_batches(PROCESS, 12, seed=22, prefix="G")
    rng = np.random.default_rng(23)
    step = make_batch(PROCESS, "STEP", rng, latent=np.zeros(2), faults=[
        InjectedFault("online_3", 60.0, 10.0, 0.5 * PROCESS.scale("online_3"))])
    broken = make_batch(PROCESS, "BROKEN", rng, latent=np.array([1.5, -1.5]),
                        decouple=["online_0", "online_2"])
    full = make_batch(PROCESS, "RUNNING", rng)
    running = BatchTrajectories(
        "RUNNING", {tag: (t[t <= 80.0], v[t <= 80.0]) for tag, (t, v) in full.series.items()},
        [PhaseSpan(p.name, p.start_h, None) for p in full.phases if p.start_h < 80.0],
    )
    return [*good, step, broken, running]


@pytest.fixture(scope="module")
def result(campaign: list[BatchTrajectories]) -> SiteAnalysis:
    return analyse_site(campaign, [b.batch_id for b in campaign if b.batch_id.startswith("G")])


def test_every_batch_gets_phases_features_events_and_t2_spe(
    campaign: list[BatchTrajectories], result: SiteAnalysis
) -> None:
    assert set(result.batches) == {b.batch_id for b in campaign}
    for analysis in result.batches.values():
        assert analysis.phases.source == "recipe"
        assert analysis.features and all(math.isfinite(f.value) for f in analysis.features)
        assert analysis.evolution is not None
        ev = analysis.evolution
        assert all(math.isfinite(x) for x in (ev.t2, ev.spe, ev.t2_limit_99, ev.spe_limit_99))
    assert result.batches["G000"].is_reference and not result.batches["STEP"].is_reference
    assert not result.reference.fallback and result.notes == ()


def test_events_carry_what_the_rdf_export_needs(result: SiteAnalysis) -> None:
    events = [e for a in result.batches.values() for e in a.events]
    assert events
    for analysis in result.batches.values():
        for e in analysis.events:
            assert e.phase in analysis.phases.names and e.tag in result.envelopes
            assert e.direction in ("high", "low")
            assert e.magnitude >= 0 and e.peak_excess >= 0 and e.duration_h > 0
            assert e.start_h >= 0 and e.envelope_id == result.envelopes[e.tag].envelope_id


def test_faults_show_where_they_were_injected(result: SiteAnalysis) -> None:
    step = result.batches["STEP"]
    assert {(e.tag, e.phase, e.direction) for e in step.events} == {
        ("online_3", "production", "high")}
    assert result.batches["BROKEN"].evolution.beyond_99
    good_flagged = [b for b, a in result.batches.items()
                    if b.startswith("G") and (a.events or a.evolution.beyond_99)]
    assert len(good_flagged) <= 1
    running = result.batches["RUNNING"]
    assert running.phases.open_end and not running.evolution.complete
    assert not running.events


def test_envelopes_and_model_name_their_reference_batches(result: SiteAnalysis) -> None:
    good = tuple(f"G{i:03d}" for i in range(12))
    assert set(result.envelopes) == set(PROCESS.tags)
    for envelope in result.envelopes.values():
        assert envelope.reference_batch_ids == good
        assert envelope.k == 3.0 and envelope.mean.shape == (3, 50)
    model = result.evolution
    assert model is not None and model.reference_batch_ids == good
    assert model.n_components >= 1 and model.t2_limit_99 > model.t2_limit_95 > 0
    assert dict(model.excluded_tags)["lab_0"].startswith("sparse")


def test_too_few_good_batches_fall_back_to_all_and_say_so(
    campaign: list[BatchTrajectories],
) -> None:
    result = analyse_site(campaign[:6], ["G000", "G001"])
    assert result.reference.fallback and result.reference.requested_ids == ("G000", "G001")
    assert len(result.reference.batch_ids) == 6
    assert "must number at least 3; got 2 instead" in result.notes[0]
    assert result.envelopes and result.evolution is not None


def test_with_too_few_batches_features_are_still_computed(
    campaign: list[BatchTrajectories],
) -> None:
    result = analyse_site(campaign[:2], ["G000", "G001"])
    assert not result.envelopes and result.evolution is None
    assert any("no envelope for tag" in n for n in result.notes)
    assert any("no batch-evolution model" in n for n in result.notes)
    assert all(a.features and not a.events for a in result.batches.values())


def test_batches_without_recipe_phases_are_analysed_on_inferred_phases() -> None:
    bare = make_batches(PROCESS, 8, seed=24, recipe_phases=False)
    result = analyse_site(bare, [b.batch_id for b in bare],
                          options=AnalysisOptions(mvda_min_batches=5))
    names = {a.phases.names for a in result.batches.values()}
    assert len(names) == 1 and all(a.phases.source == "inferred"
                                   for a in result.batches.values())
    assert result.evolution is not None and result.evolution.phase_names == names.pop()


def test_duplicate_batch_ids_are_refused(campaign: list[BatchTrajectories]) -> None:
    with pytest.raises(InvalidTrajectoryError, match="batch ids must be unique; got duplicates"):
        analyse_site([campaign[0], campaign[0]], [])
