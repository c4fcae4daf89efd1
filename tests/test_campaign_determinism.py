"""A campaign is the same for the same seed in any process (whatever PYTHONHASHSEED is)."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = (
    "from bioprocess.campaign import CampaignConfig, generate_campaign\n"
    "c = generate_campaign(CampaignConfig(n_sites=2, batches_per_site=2, seed=7,"
    " second_sponsor_batches=1, days=2))\n"
    "print([repr(b.final_titre_g_l) for b in c.batches])\n"
)


def _run(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, check=True, timeout=300).stdout


def test_same_seed_same_campaign_across_processes() -> None:
    assert _run("1") == _run("2")
