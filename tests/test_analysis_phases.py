"""Phases: recipe phases are used when recorded, otherwise inferred from the data."""

from __future__ import annotations

import numpy as np
import pytest

from bioprocess.analysis import (
    BatchTrajectories,
    PhaseDetectionOptions,
    PhaseSpan,
    infer_phases,
    resolve_phases,
    segment_batches,
)
from bioprocess.analysis.synthetic import SyntheticProcess, make_batches


def _step_batch(batch_id: str, step_h: float, seed: int, end: float = 100.0
                ) -> BatchTrajectories:
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, end, 0.1)
    series = {
        "level": (t, np.where(t < step_h, 10.0, 14.0) + rng.normal(0, 0.3, t.size)),
        "noise_a": (t, rng.normal(5.0, 1.0, t.size)),
        "noise_b": (t, rng.normal(-3.0, 0.5, t.size)),
        "lab": (np.arange(0.0, end, 24.0), rng.normal(1.0, 0.1, 5)),
    }
    return BatchTrajectories(batch_id, series, duration_h=end)


def test_recipe_phases_are_used_when_given_and_cover_the_batch() -> None:
    batch = BatchTrajectories(
        "R1", {"x": (np.arange(0, 50.0), np.zeros(50))},
        [PhaseSpan("feed", 20.0, 30.0), PhaseSpan("batch", 2.0, 18.0)],  # unsorted, gaps
        duration_h=50.0,
    )
    seg = resolve_phases(batch)
    assert seg.source == "recipe" and seg.method == "recipe"
    assert seg.names == ("batch", "feed")
    assert [(s.start_h, s.end_h) for s in seg.spans] == [(0.0, 20.0), (20.0, 50.0)]
    assert seg.notes  # the adjustments are said


def test_an_open_last_phase_of_a_running_batch_is_flagged() -> None:
    batch = BatchTrajectories("R2", {"x": (np.arange(0, 30.0), np.zeros(30))},
                              [PhaseSpan("a", 0, 10), PhaseSpan("b", 10, None)])
    seg = resolve_phases(batch)
    assert seg.open_end and seg.spans[-1].end_h == 29.0


@pytest.mark.parametrize("step_h", [23.0, 61.5])
def test_inference_finds_a_clear_step_change(step_h: float) -> None:
    seg = infer_phases(_step_batch("S", step_h, seed=1))
    assert seg.source == "inferred" and seg.method == "changepoint"
    assert len(seg.spans) == 2
    assert seg.spans[1].start_h == pytest.approx(step_h, abs=1.0)  # grid: 0.5 h
    assert seg.spans[0].start_h == 0.0 and seg.spans[-1].end_h == 100.0


def test_inference_finds_a_change_of_slope() -> None:
    t = np.arange(0.0, 120.0, 0.25)
    rng = np.random.default_rng(3)
    v = np.where(t < 40, 1.0, 1.0 + 0.2 * (t - 40)) + rng.normal(0, 0.05, t.size)
    seg = infer_phases(BatchTrajectories("S", {"x": (t, v)}, duration_h=120.0))
    assert len(seg.spans) == 2 and seg.spans[1].start_h == pytest.approx(40, abs=2.0)


def test_only_sparse_tags_fall_back_to_equal_parts_flagged_inferred() -> None:
    batch = BatchTrajectories("L", {"lab": (np.arange(0, 96.0, 24.0), [1.0, 2, 3, 4])},
                              duration_h=96.0)
    seg = infer_phases(batch)
    assert seg.source == "inferred" and seg.method == "equal-split"
    assert [s.start_h for s in seg.spans] == [0.0, 32.0, 64.0]
    assert "equal" in seg.notes[0]


def test_inferred_phases_are_made_comparable_across_batches() -> None:
    batches = [_step_batch(f"S{i}", 40.0 + i, seed=i) for i in range(4)]
    segs = segment_batches(batches)
    assert {len(s.spans) for s in segs.values()} == {2}
    assert all(s.names == ("inferred-1", "inferred-2") for s in segs.values())
    fixed = segment_batches(batches, PhaseDetectionOptions(n_phases=3))
    assert {len(s.spans) for s in fixed.values()} == {3}


def test_batches_without_phases_take_the_recipe_names_of_the_others() -> None:
    process = SyntheticProcess(n_online=3, n_offline=0, seed=4)
    batches = make_batches(process, 4, seed=1)
    bare = make_batches(process, 1, seed=2, prefix="X", recipe_phases=False)[0]
    segs = segment_batches([*batches, bare])
    assert segs[bare.batch_id].source == "inferred"
    assert segs[bare.batch_id].names == process.phase_names
    truth = make_batches(process, 1, seed=2, prefix="X")[0].phases
    found = segs[bare.batch_id].spans
    for inferred, recorded in zip(found[1:], truth[1:], strict=True):
        assert inferred.start_h == pytest.approx(recorded.start_h, abs=3.0)
