"""The analytics benchmark's labels-known figures, on hand-made evidence."""

from benchmarks.analytics import separability
from federation.signatures.discovery import DiscoveryOptions
from federation.signatures.model import BatchProfile, EventKey

# Three fault types, each far off in its own parameter: any grouping should tell them apart.
SHOWS = {"stuck-valve": ("urn:p/oxygen", "low"), "hot-jacket": ("urn:p/temperature", "high"),
         "weak-feed": ("urn:p/glucose", "low")}


def profile(seed: int, n: int, fault: str, magnitude: float) -> BatchProfile:
    parameter, direction = SHOWS[fault]
    return BatchProfile(batch=f"urn:{seed}-{n}", batch_id=f"{seed}-{n}", site=f"S{n % 3}",
                        sponsor="X", process="urn:P", start="2026-01-01",
                        events={EventKey(parameter, "production", direction): magnitude})


def campaign(seed: int) -> list[tuple[BatchProfile, str]]:
    return [(profile(seed, n, fault, 4.0 + n), fault)
            for n, fault in enumerate(f for f in SHOWS for _ in range(3))]


def test_labels_known_figures_group_separable_faults_and_count_silent_batches_alone() -> None:
    signal = {1: campaign(1), 2: campaign(2)}
    truth = {seed: {p.batch_id: fault for p, fault in items} for seed, items in signal.items()}
    # Seed 2 also had two weak-feed batches that left no signal: they are in its truth only.
    truth[2] |= {"2-silent-a": "weak-feed", "2-silent-b": "weak-feed"}

    figures = separability(signal, DiscoveryOptions(), truth)

    assert (figures["nn_within_right"], figures["nn_within_n"]) == (18, 18)
    assert (figures["forest_right"], figures["across_n"]) == (18, 18)
    assert figures["supervised_ari"][1] == 1.0
    # Seed 2: 11 batches, perfectly grouped except the 2 silent ones, each alone.
    # Pairs together in truth: 3+3+5 choose 2 = 3+3+10 = 16; in the grouping: 3+3+3 = 9,
    # all of them true. Expected index 16*9/55 = 2.618; ARI = (9 - 2.618)/((16+9)/2 - 2.618)
    # = 6.382/9.882 = 0.6458.
    assert round(figures["supervised_ari"][2], 4) == 0.6458
