"""Reference envelopes of good batches and the deviation events of a batch against them."""

from __future__ import annotations

import numpy as np
import pytest

from bioprocess.analysis import (
    BatchTrajectories,
    DeviationEvent,
    EventRule,
    InsufficientReferenceError,
    PhaseSegmentation,
    PhaseSpan,
    ReferenceEnvelope,
    find_deviation_events,
    recipe_phases,
    segment_batches,
)
from bioprocess.analysis.synthetic import (
    InjectedFault,
    SyntheticProcess,
    make_batch,
    make_batches,
)

PROCESS = SyntheticProcess(n_online=4, n_offline=1, seed=7)
TAGS = PROCESS.tags


@pytest.fixture(scope="module")
def reference() -> list[BatchTrajectories]:
    return make_batches(PROCESS, 25, seed=10)


@pytest.fixture(scope="module")
def envelopes(reference: list[BatchTrajectories]) -> dict[str, ReferenceEnvelope]:
    return {tag: ReferenceEnvelope().fit(reference, tag) for tag in TAGS}


Envelopes = dict[str, ReferenceEnvelope]


def _events(batch: BatchTrajectories, envelopes: Envelopes,
            rule: EventRule | None = None) -> list[DeviationEvent]:
    seg = recipe_phases(batch)
    return [e for env in envelopes.values()
            for e in find_deviation_events(batch, env, seg, rule or EventRule())]


def _sd_at(envelope: ReferenceEnvelope, batch: BatchTrajectories, t_h: float) -> float:
    return float(envelope.band(np.asarray([t_h]), recipe_phases(batch)).sd[0])


def test_new_good_batches_stay_inside_the_envelope(envelopes: Envelopes) -> None:
    held_out = make_batches(PROCESS, 60, seed=11, prefix="G")
    pairs_with_event = sum(
        bool(find_deviation_events(b, env, recipe_phases(b)))
        for b in held_out for env in envelopes.values()
    )
    rate = pairs_with_event / (len(held_out) * len(TAGS))
    print(f"false-event rate: {rate:.2%} of (batch, tag) pairs")
    assert rate <= 0.03


def test_an_injected_step_is_found_in_the_right_tag_phase_and_direction(
    envelopes: Envelopes,
) -> None:
    rng = np.random.default_rng(1)
    probe = make_batch(PROCESS, "P", rng, latent=np.zeros(2))
    start_h = probe.phases[1].start_h + 20.0  # inside "production"
    sd = _sd_at(envelopes["online_2"], probe, start_h + 4.0)
    batch = make_batch(PROCESS, "F", np.random.default_rng(1), latent=np.zeros(2),
                       faults=[InjectedFault("online_2", start_h, 8.0, -8.0 * sd)])
    events = _events(batch, envelopes)
    assert [(e.tag, e.phase, e.direction) for e in events] == [
        ("online_2", "production", "low")]
    event = events[0]
    assert event.start_h == pytest.approx(start_h, abs=1.0)
    assert event.duration_h == pytest.approx(8.0, abs=1.5)
    assert event.magnitude == pytest.approx(8.0 - 3.0, abs=1.0)  # beyond the 3-sd band
    assert event.peak_excess == pytest.approx(event.magnitude * sd, rel=0.3)
    assert event.unit == "unit_online_2" and event.envelope_id == envelopes["online_2"].envelope_id_


def test_a_drift_is_found_high_after_it_starts(envelopes: Envelopes) -> None:
    rng = np.random.default_rng(2)
    probe = make_batch(PROCESS, "P", rng, latent=np.zeros(2))
    start_h = probe.phases[0].start_h + 10.0
    sd = _sd_at(envelopes["online_0"], probe, start_h + 10.0)
    batch = make_batch(PROCESS, "D", np.random.default_rng(2), latent=np.zeros(2),
                       faults=[InjectedFault("online_0", start_h, 20.0, 10 * sd, "drift")])
    events = _events(batch, envelopes)
    assert {(e.tag, e.phase, e.direction) for e in events} == {("online_0", "growth", "high")}
    assert start_h + 4.0 < events[0].start_h < start_h + 12.0  # crosses 3 sd at ~6 h


def test_a_single_lab_sample_outside_is_an_event_of_one_sampling_interval(
    envelopes: Envelopes,
) -> None:
    rng = np.random.default_rng(3)
    sd = _sd_at(envelopes["lab_0"], make_batch(PROCESS, "P", rng, latent=np.zeros(2)), 48.0)
    batch = make_batch(PROCESS, "L", np.random.default_rng(3), latent=np.zeros(2),
                       faults=[InjectedFault("lab_0", 47.5, 1.0, 10 * sd)])
    events = [e for e in _events(batch, envelopes) if e.tag == "lab_0"]
    assert len(events) == 1
    assert events[0].n_samples == 1 and events[0].start_h == 48.0
    assert events[0].duration_h == PROCESS.offline_interval_h


def test_short_blips_are_not_events_but_merge_when_close(envelopes: Envelopes) -> None:
    rng = np.random.default_rng(4)
    probe = make_batch(PROCESS, "P", rng, latent=np.zeros(2))
    t0 = probe.phases[1].start_h + 30.0
    sd = _sd_at(envelopes["online_1"], probe, t0)
    blip = [InjectedFault("online_1", t0, 0.3, 20 * sd)]
    assert not [e for e in _events(make_batch(PROCESS, "B", np.random.default_rng(4),
                                              latent=np.zeros(2), faults=blip), envelopes)
                if e.tag == "online_1"]
    rule = EventRule(min_duration_h=3.0, merge_gap_h=1.0)
    split = [InjectedFault("online_1", t0, 2.0, 10 * sd),
             InjectedFault("online_1", t0 + 2.5, 2.0, 10 * sd)]
    merged = [e for e in _events(make_batch(PROCESS, "M", np.random.default_rng(4),
                                            latent=np.zeros(2), faults=split), envelopes, rule)
              if e.tag == "online_1"]
    assert len(merged) == 1 and merged[0].duration_h == pytest.approx(4.5, abs=1.0)


def test_irregular_sampling_and_gaps_work() -> None:
    irregular = make_batches(PROCESS, 20, seed=20, irregular=True,
                             gaps=[("online_3", 30.0, 36.0)])
    env = ReferenceEnvelope().fit(irregular, "online_3")
    assert env.n_batches_.min() < 20 <= env.n_batches_.max()  # the gap is missing data
    assert np.isfinite(env.mean_).all()
    held_out = make_batches(PROCESS, 20, seed=21, prefix="I", irregular=True,
                            gaps=[("online_3", 50.0, 60.0)])
    flagged = sum(bool(find_deviation_events(b, env, recipe_phases(b))) for b in held_out)
    assert flagged <= 1


def test_batches_of_different_lengths_align_by_phase() -> None:
    jittery = SyntheticProcess(n_online=4, n_offline=1, seed=7, phase_jitter=0.25)
    rng = np.random.default_rng(30)
    reference = [make_batch(jittery, f"R{i}", rng) for i in range(20)]
    held_out = [make_batch(jittery, f"H{i}", rng) for i in range(30)]
    lengths = [b.end_h for b in reference]
    assert max(lengths) > 1.4 * min(lengths)

    def one_phase(b: BatchTrajectories) -> PhaseSegmentation:
        return PhaseSegmentation((PhaseSpan("all", 0.0, b.end_h),), "inferred", "test")

    widths = {"phase": 0.0, "whole": 0.0}
    for tag in jittery.tags:
        by_phase = ReferenceEnvelope().fit(reference, tag)
        whole = ReferenceEnvelope().fit(reference, tag, segmentations={
            b.batch_id: one_phase(b) for b in reference})
        assert by_phase.phase_names_ == jittery.phase_names
        widths["phase"] += float(np.nanmedian(by_phase.sd_))
        widths["whole"] += float(np.nanmedian(whole.sd_))
        flagged = sum(bool(find_deviation_events(b, by_phase, recipe_phases(b)))
                      for b in held_out)
        assert flagged <= 2, tag
    # aligning phases removes the spread that misaligned phases add to the band
    assert widths["phase"] < 0.8 * widths["whole"]


def test_a_running_batch_is_compared_with_the_start_of_its_open_phase(envelopes: Envelopes) -> None:
    full = make_batch(PROCESS, "RUN", np.random.default_rng(5))
    now = full.phases[1].start_h + 25.0
    running = BatchTrajectories(
        "RUN", {tag: (t[t <= now], v[t <= now]) for tag, (t, v) in full.series.items()},
        [PhaseSpan(p.name, p.start_h, None) for p in full.phases[:2]],
    )
    seg = recipe_phases(running)
    assert seg.open_end
    assert not [e for env in envelopes.values()
                for e in find_deviation_events(running, env, seg)]


def test_a_flat_set_point_gets_a_band_of_nonzero_width() -> None:
    t = np.arange(0, 48.0, 0.5)
    flat = [BatchTrajectories(f"F{i}", {"sp": (t, np.full(t.size, 37.0))},
                              [PhaseSpan("all", 0, 48)]) for i in range(5)]
    env = ReferenceEnvelope(sd_floor=0.01).fit(flat, "sp")
    assert env.sd_floor_abs_ == pytest.approx(0.37)
    assert np.all(env.upper_ - env.lower_ > 0)
    shifted = BatchTrajectories("S", {"sp": (t, np.where(t > 20, 39.0, 37.0))},
                                [PhaseSpan("all", 0, 48)])
    events = find_deviation_events(shifted, env, recipe_phases(shifted))
    assert len(events) == 1 and events[0].direction == "high"
    assert np.isfinite(events[0].magnitude) and events[0].start_h == pytest.approx(20, abs=1)


def test_too_few_reference_batches_is_a_clear_error(reference: list[BatchTrajectories]) -> None:
    with pytest.raises(InsufficientReferenceError,
                       match=r"must be at least min_batches=3; got 2 instead"):
        ReferenceEnvelope().fit(reference[:2], "online_0")
    with pytest.raises(ValueError, match="got 0 instead"):
        ReferenceEnvelope().fit(reference, "no_such_tag")


def test_inferred_phases_work_end_to_end() -> None:
    bare = make_batches(PROCESS, 12, seed=40, recipe_phases=False)
    segs = segment_batches(bare)
    env = ReferenceEnvelope().fit(bare, "online_0", segmentations=segs)
    assert all(n.startswith("inferred-") for n in env.phase_names_)
    assert sum(bool(find_deviation_events(b, env, segs[b.batch_id])) for b in bare) <= 1
