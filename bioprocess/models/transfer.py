"""Transfer check: apply one site's soft sensor to another site's aligned data and say how much
it degrades and whether it must be recalibrated before use there."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bioprocess.models.softsensor import SoftSensor, SpectralDataset
from bioprocess.models.validation import metrics

#: Recalibrate when the receiving site's error exceeds the sending site's hold-out error by
#: this factor, when this share of its spectra is out of domain, or when the mean bias is
#: larger than the model's stated interval half-width.
ERROR_RATIO_LIMIT = 1.5
OUT_OF_DOMAIN_LIMIT = 0.2


@dataclass(frozen=True)
class TransferReport:
    target: str
    unit: str
    n_spectra: int
    n_batches: int
    out_of_domain_share: float
    rmsep_sending: float
    rmsep_receiving: float | None
    bias_receiving: float | None
    r2_receiving: float | None
    error_ratio: float | None
    recalibration_needed: bool
    reasons: tuple[str, ...]

    @property
    def summary(self) -> str:
        if self.rmsep_receiving is None:
            degradation = (f"no lab values to compare; {self.out_of_domain_share:.0%} of "
                           f"{self.n_spectra} spectra are out of the model's domain")
        else:
            degradation = (f"RMSEP {self.rmsep_receiving:.3g} {self.unit} at the receiving "
                           f"site vs {self.rmsep_sending:.3g} {self.unit} at the sending site "
                           f"(x{self.error_ratio:.1f}), bias {self.bias_receiving:+.3g} "
                           f"{self.unit}, {self.out_of_domain_share:.0%} out of domain")
        verdict = ("recalibrate before use: " + "; ".join(self.reasons)
                   if self.recalibration_needed else "usable as is")
        return f"{self.target}: {degradation}; {verdict}"


def transfer_check(sensor: SoftSensor, data: SpectralDataset, *, y_factor: float = 1.0
                   ) -> TransferReport:
    """Apply ``sensor`` to the receiving site's ``data`` (its own wavenumber axis; reference
    values converted to the model's unit with ``y_factor``, or NaN where there are none)."""
    estimates = sensor.apply(data.spectra, data.wavenumbers)
    y = np.asarray(data.y, dtype=float) * y_factor
    sending = float(sensor.card["metrics"]["rmsep"])
    share = estimates.out_of_domain_share
    reasons = []
    if share > OUT_OF_DOMAIN_LIMIT:
        reasons.append(f"{share:.0%} of the spectra are outside the applicability domain "
                       f"(limit {OUT_OF_DOMAIN_LIMIT:.0%})")
    rmsep = bias = r2 = ratio = None
    if np.isfinite(y).any():
        m = metrics(y, estimates.value)
        rmsep, bias, r2 = m.rmse, m.bias, m.r2
        ratio = rmsep / sending if sending > 0 else float("inf")
        if ratio > ERROR_RATIO_LIMIT:
            reasons.append(f"error x{ratio:.1f} the sending site's hold-out error "
                           f"(limit x{ERROR_RATIO_LIMIT})")
        if abs(bias) > sensor.half_width:
            reasons.append(f"bias {bias:+.3g} {sensor.unit} exceeds the stated uncertainty "
                           f"±{sensor.half_width:.3g}")
    return TransferReport(sensor.target, sensor.unit, len(y), int(np.unique(data.groups).size),
                          share, sending, rmsep, bias, r2, ratio, bool(reasons), tuple(reasons))
