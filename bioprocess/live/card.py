"""The live twin's model card: each part's assumptions, inputs and outputs, made explicit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bioprocess.calibration import FITTABLE_STATES
from bioprocess.live.ensemble import FILTERED_STATES
from bioprocess.live.hybrid import (
    DOMAIN_Z,
    RESIDUAL_FEATURES,
    SURPRISE_P,
    UNKNOWN_WIDEN,
)
from bioprocess.live.recommend import LEVERS
from bioprocess.live.replay import HybridTwin

MODEL_ID = "live-twin"
MODEL_VERSION = "1.0.0"


def model_card(twin: HybridTwin, stress: Mapping[str, Mapping[str, float]] | None = None,
               ) -> dict[str, Any]:
    """A JSON-ready card of the hybrid live twin."""
    s = twin.settings
    r = twin.residual
    return {
        "model_id": MODEL_ID,
        "version": MODEL_VERSION,
        "purpose": "follow a running fed-batch, forecast its final titre with a 90 % "
                   "interval, and recommend set points inside the site's proven ranges",
        "parts": {
            "mechanistic_core": {
                "algorithm": "ideal-control CHO fed-batch twin (bioprocess.twin) + stochastic "
                             "asynchronous ensemble Kalman filter with RTPS inflation",
                "assumptions": [
                    "temperature, pH and DO loops hold their set points (DO falls only when "
                    "the vessel's maximal kLa cannot supply the uptake)",
                    "feed delivered = feed set point (a pump fault shows as surprise)",
                    "one clone: batches differ only in the estimated parameters and inoculum",
                    "assay errors are relative (cv) plus an absolute floor, independent",
                ],
                "inputs": {
                    "offline": list(FITTABLE_STATES),
                    "set_points": ["temperature (growth, production, shift time)",
                                   "dissolved oxygen", "pH", "feed rate and start"],
                },
                "outputs": ["filtered states " + ", ".join(FILTERED_STATES),
                            "estimates of " + ", ".join(s.parameters) + " with 90 % intervals",
                            "forecast trajectories and measured final titre (90 % interval)"],
                "estimated_parameters": list(s.parameters),
                "ensemble_members": s.n_members,
                "step_h": s.dt_h,
                "prior_log_sd": {n: s.log_sd(n) for n in s.parameters},
            },
            "residual_correction": None if r is None else {
                "algorithm": "ridge regression (scikit-learn, standardised inputs, alpha 3)",
                "assumptions": ["the core's error on this site's past batches carries over to "
                                "new batches with inputs inside the training range"],
                "inputs": list(RESIDUAL_FEATURES),
                "output": "final titre minus the core's forecast, g/L",
                "training_batches": list(r.batch_ids),
                "n_examples": r.n_examples,
                "rmse_uncorrected_g_l": r.rmse_uncorrected,
                "rmse_leave_one_batch_out_g_l": r.rmse_cv,
                "applied": r.useful,
                "rmse_by_fraction_g_l": {f"{f:.2f}": {"corrected": c, "uncorrected": u}
                                         for f, c, u in zip(r.fractions, r.rmse_cv_at,
                                                            r.rmse_uncorrected_at, strict=True)},
                "interval": "half-width = max(ensemble 90 % half-width, 1.645 x validated "
                            "RMSE at the batch's fraction)",
                "selection": "applied only if its leave-one-batch-out RMSE beats no correction",
                "applicability": {"feature_low": r.feature_low.tolist(),
                                  "feature_high": r.feature_high.tolist(),
                                  "margin": "10 % of the range"},
            },
        },
        "applicability_domain": {
            "parameters": None if twin.domain is None else {
                "centre_log": dict(twin.domain.centre), "spread_log": dict(twin.domain.spread),
                "batches": list(twin.domain.batch_ids), "z_limit": DOMAIN_Z},
            "surprise_p_limit": SURPRISE_P,
            "when_outside": f"status \"I don't know\", interval widened x{UNKNOWN_WIDEN}, "
                            "no recommendation",
        },
        "recommendation_levers": LEVERS,
        "stress_tests": dict(stress or {}),
    }
