"""In-line Raman spectra of a CHO culture, as an analyser at 785 nm would record them.

A spectrum is a linear mixture of pure-component spectra weighted by concentration
(glucose, lactate, glutamine, ammonium, antibody, free amino acids, viable cells, dead
cells and debris), on top of the water bands, the medium and the probe's sapphire
window, plus the nuisances that make chemometrics hard on real data: a fluorescence
background that grows with cell mass and culture age, a slowly drifting low-order
baseline, shot and read noise, occasional cosmic-ray spikes, and per-instrument
differences (wavenumber calibration shift, spectral resolution, throughput).

Band positions follow the usual assignments for cell-culture Raman monitoring (glucose
~1125 and 1060 cm⁻¹, lactate ~857 cm⁻¹, phenylalanine 1003 cm⁻¹, amide I ~1660 cm⁻¹,
CH stretches 2850–2940 cm⁻¹, water bending 1640 cm⁻¹; Abu-Absi et al. 2011; Berry et al.
2015); intensities are tuned so that glucose and lactate are predictable by PLS to a few
tenths of a g/L, as reported in practice, and not to a trivial precision.

References
----------
.. [1] Abu-Absi NR, et al. (2011). Real time monitoring of multiple parameters in
   mammalian cell culture bioreactors using an in-line Raman spectroscopy probe.
   Biotechnol Bioeng 108(5):1215–1221.
.. [2] Berry B, et al. (2015). Cross-scale predictive modeling of CHO cell culture growth
   and metabolites using Raman spectroscopy and multivariate analysis. Biotechnol Prog
   31(2):566–577.
.. [3] Movasaghi Z, Rehman S, Rehman IU (2007). Raman spectroscopy of biological tissues.
   Appl Spectrosc Rev 42(5):493–541.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bioprocess.kinetics import MOLAR_MASS_G_PER_MMOL, FloatArray


@dataclass(frozen=True)
class RamanSpec:
    """A Raman analyser: wavenumber axis, calibration shift, resolution, noise."""

    instrument_id: str
    model: str = "generic 785 nm analyser"
    laser_nm: float = 785.0
    wn_start: float = 350.0
    wn_stop: float = 3100.0
    wn_step: float = 1.0
    shift_cm1: float = 0.0  # calibration error: bands appear shifted by this much
    fwhm_scale: float = 1.0  # >1 = lower resolution (broader bands)
    gain: float = 1.0  # throughput relative to the reference analyser
    read_noise: float = 10.0  # counts (1 sd)
    fluorescence: float = 1.0  # relative fluorescence background
    every_h: float = 3.0  # sampling interval, h


#: Components, their canonical concentration unit, and bands (cm⁻¹, height per g/L or
#: per 1e6 cells/mL in counts, FWHM cm⁻¹).
_BANDS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "glucose": (
        (423, 14, 14),
        (518, 18, 14),
        (911, 18, 16),
        (1060, 24, 18),
        (1125, 40, 16),
        (1365, 15, 20),
        (1460, 13, 22),
        (2890, 28, 40),
        (2960, 20, 40),
    ),
    "lactate": (
        (540, 17, 16),
        (857, 60, 14),
        (930, 17, 16),
        (1042, 35, 14),
        (1085, 28, 14),
        (1125, 14, 16),
        (1315, 20, 18),
        (1418, 25, 18),
        (1455, 28, 20),
        (2940, 45, 35),
    ),
    "glutamine": (
        (850, 18, 15),
        (1105, 14, 16),
        (1330, 18, 18),
        (1410, 28, 16),
        (1440, 14, 20),
        (1680, 20, 22),
        (2935, 28, 35),
    ),
    "ammonium": ((1450, 20, 40), (1680, 20, 40), (3040, 60, 60)),
    "product": (
        (621, 4, 10),
        (643, 4, 10),
        (760, 7, 12),
        (830, 7, 12),
        (852, 8, 12),
        (1003, 28, 8),
        (1031, 7, 10),
        (1240, 17, 40),
        (1270, 11, 35),
        (1340, 11, 20),
        (1450, 20, 25),
        (1555, 6, 20),
        (1605, 7, 12),
        (1660, 28, 35),
        (2935, 56, 45),
    ),
    "amino_acids": (
        (760, 10, 12),
        (830, 8, 10),
        (850, 8, 10),
        (1003, 22, 8),
        (1180, 6, 10),
        (1210, 7, 12),
        (1340, 11, 16),
        (1410, 14, 16),
        (1600, 6, 12),
        (2940, 28, 40),
    ),
    "viable_cells": (
        (720, 2, 14),
        (785, 3.5, 14),
        (1003, 4, 8),
        (1095, 3, 18),
        (1300, 5, 25),
        (1340, 3, 20),
        (1440, 8, 25),
        (1660, 7, 35),
        (2850, 10, 35),
        (2885, 10, 35),
        (2935, 12, 45),
    ),
    "dead_cells": (
        (785, 2, 20),
        (1003, 3, 10),
        (1300, 3, 30),
        (1440, 5, 35),
        (1660, 5, 45),
        (2885, 7, 50),
        (2935, 8, 60),
    ),
}

#: Constant background: water bands, sapphire probe window, medium.
_BACKGROUND: tuple[tuple[float, float, float], ...] = (
    (418, 900, 8),
    (578, 250, 10),
    (750, 600, 10),  # sapphire window
    (1640, 2600, 90),
    (3250, 9000, 320),  # water bending and OH-stretch wing
    (1003, 60, 8),
    (1060, 80, 30),
    (1450, 120, 35),
    (2935, 300, 60),  # medium
)

COMPONENTS: tuple[str, ...] = tuple(_BANDS)

#: Amino-acid pool molar mass used to express it in g/L (lumped, g/mmol).
_AA_G_PER_MMOL = 0.13


def wavenumber_axis(spec: RamanSpec) -> FloatArray:
    """The instrument's nominal wavenumber axis (cm⁻¹), strictly increasing."""
    n = int(np.floor((spec.wn_stop - spec.wn_start) / spec.wn_step + 1e-9)) + 1
    return np.round(spec.wn_start + spec.wn_step * np.arange(n), 3)


def _bands(
    wn: FloatArray, bands: tuple[tuple[float, float, float], ...], shift: float, fwhm_scale: float
) -> FloatArray:
    """Sum of pseudo-Voigt bands (50 % Lorentzian) on axis ``wn``."""
    out = np.zeros_like(wn)
    for pos, height, fwhm in bands:
        w = fwhm * fwhm_scale
        x = (wn - pos - shift) / (w / 2.0)
        out += height * (0.5 / (1.0 + x * x) + 0.5 * np.exp(-np.log(2.0) * x * x))
    return out


def pure_component_spectra(spec: RamanSpec) -> tuple[FloatArray, FloatArray]:
    """Pure spectra of :data:`COMPONENTS` on the instrument axis, and its background.

    Returns
    -------
    components : ndarray, shape (len(COMPONENTS), n_channels)
        Counts per g/L (per 1e6 cells/mL for cells).
    background : ndarray, shape (n_channels,)
    """
    wn = wavenumber_axis(spec)
    comps = np.stack([_bands(wn, _BANDS[c], spec.shift_cm1, spec.fwhm_scale) for c in COMPONENTS])
    background = _bands(wn, _BACKGROUND, spec.shift_cm1, spec.fwhm_scale)
    return comps * spec.gain, background * spec.gain


def component_loads(states: Mapping[str, FloatArray]) -> FloatArray:
    """Concentrations the spectrometer sees (g/L or 1e6 cells/mL), shape (n, n_components).

    ``states`` holds canonical simulator states: ``glc``, ``lac``, ``gln``, ``amm``, ``aa``
    (mM), ``titre`` (g/L), ``xv`` and ``xd`` (1e6 cells/mL).
    """
    mm = MOLAR_MASS_G_PER_MMOL
    return np.column_stack(
        [
            np.asarray(states["glc"]) * mm["glucose"],
            np.asarray(states["lac"]) * mm["lactate"],
            np.asarray(states["gln"]) * mm["glutamine"],
            np.asarray(states["amm"]) * mm["ammonium"],
            np.asarray(states["titre"]),
            np.asarray(states["aa"]) * _AA_G_PER_MMOL,
            np.asarray(states["xv"]),
            np.asarray(states["xd"]),
        ]
    )


def simulate_spectra(
    states: Mapping[str, FloatArray],
    t_h: FloatArray,
    spec: RamanSpec,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray]:
    """Spectra of one batch at sample times ``t_h``.

    Parameters
    ----------
    states : mapping of str to ndarray
        True culture states at the sample times (see :func:`component_loads`).
    t_h : ndarray
        Sample times, h since inoculation (drives fluorescence growth).
    spec : RamanSpec
        The analyser.
    rng : numpy.random.Generator
        Noise source.

    Returns
    -------
    wavenumbers : ndarray, shape (n_channels,)
    spectra : ndarray, shape (len(t_h), n_channels), counts (non-negative)
    """
    wn = wavenumber_axis(spec)
    comps, background = pure_component_spectra(spec)
    loads = component_loads(states)
    n = loads.shape[0]
    signal = loads @ comps + background
    # fluorescence: broad, sloping, grows with biomass, debris and culture age
    shape = np.exp(-(wn - wn[0]) / 1400.0) + 0.25
    xv = np.asarray(states["xv"])
    xd = np.asarray(states["xd"])
    level = 1500.0 + 60.0 * xv + 140.0 * xd + 6.0 * np.asarray(t_h)
    level = level * (1.0 + 0.05 * rng.standard_normal(n))
    fluor = spec.fluorescence * spec.gain * level[:, None] * shape[None, :]
    # slowly varying baseline (laser power / focus): random quadratic per spectrum
    u = (wn - wn.mean()) / (wn.max() - wn.min())
    coef = rng.normal(0.0, [60.0, 40.0, 30.0], size=(n, 3))
    baseline = coef[:, :1] + coef[:, 1:2] * u + coef[:, 2:3] * (u * u - 1.0 / 12.0)
    clean = signal + fluor + baseline * spec.gain
    noise = rng.standard_normal(clean.shape) * np.sqrt(np.maximum(clean, 0.0) * 1.5)
    noisy = clean + noise + spec.read_noise * rng.standard_normal(clean.shape)
    spikes = rng.random(n) < 0.03
    for i in np.flatnonzero(spikes):
        j = int(rng.integers(0, wn.size))
        noisy[i, j : j + 2] += rng.uniform(500.0, 3000.0)
    return wn, np.maximum(noisy, 0.0)
