"""Unit conversion from the simulator's canonical units to the units a site reports in.

Sites name their own units (°C or K, % air saturation or mg/L, g/L or mM, ...). The
simulator computes in one canonical unit per quantity (see ``CANONICAL``) and converts on
the way out; a site profile only names the unit it wants.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bioprocess.gas import O2_MG_PER_L_AT_AIR_SATURATION
from bioprocess.kinetics import MOLAR_MASS_G_PER_MMOL

Converter = Callable[[np.ndarray], np.ndarray]

#: Canonical unit per quantity.
CANONICAL: dict[str, str] = {
    "temperature": "degC",
    "dissolved_oxygen": "%",
    "ph": "pH",
    "percent": "%",
    "agitation": "rpm",
    "gas_flow": "L/min",
    "liquid_flow": "L/h",
    "liquid_volume": "L",
    "mass": "kg",
    "uptake_rate": "mmol/L/h",
    "cell_density": "1e6 cells/mL",
    "glucose": "mM",
    "lactate": "mM",
    "glutamine": "mM",
    "ammonium": "mM",
    "titre": "g/L",
    "pco2": "mmHg",
    "osmolality": "mOsm/kg",
}


def _scale(factor: float, offset: float = 0.0) -> Converter:
    return lambda v: np.asarray(v) * factor + offset


_METABOLITE = {"glucose", "lactate", "glutamine", "ammonium"}


def converter(quantity: str, unit: str) -> Converter:
    """Return a function converting canonical values of ``quantity`` into ``unit``.

    Raises
    ------
    ValueError
        When the unit is not known for the quantity.
    """
    if quantity not in CANONICAL:
        raise ValueError(f"quantity must be one of {sorted(CANONICAL)}; got {quantity!r} instead")
    if unit == CANONICAL[quantity]:
        return _scale(1.0)
    table: dict[str, Converter] = {}
    if quantity == "temperature":
        table = {"K": _scale(1.0, 273.15), "degF": _scale(1.8, 32.0)}
    elif quantity == "dissolved_oxygen":
        table = {"mg/L": _scale(O2_MG_PER_L_AT_AIR_SATURATION / 100.0)}
    elif quantity == "ph":
        table = {"1": _scale(1.0)}
    elif quantity == "gas_flow":
        table = {"slpm": _scale(1.0), "m3/h": _scale(0.06), "mL/min": _scale(1000.0)}
    elif quantity == "liquid_flow":
        table = {"mL/min": _scale(1000.0 / 60.0), "kg/h": _scale(1.05)}
    elif quantity == "liquid_volume":
        table = {"mL": _scale(1000.0), "kg": _scale(1.05)}
    elif quantity == "uptake_rate":
        table = {"mM/h": _scale(1.0), "mmol/L/d": _scale(24.0)}
    elif quantity == "cell_density":
        table = {"1e5 cells/mL": _scale(10.0), "cells/mL": _scale(1e6), "1e9 cells/L": _scale(1.0)}
    elif quantity in _METABOLITE:
        mm = MOLAR_MASS_G_PER_MMOL[quantity]
        table = {"mmol/L": _scale(1.0), "g/L": _scale(mm), "mg/L": _scale(mm * 1000.0)}
    elif quantity == "titre":
        table = {"mg/L": _scale(1000.0), "mg/mL": _scale(1.0)}
    elif quantity == "pco2":
        table = {"kPa": _scale(0.133322), "mmHg": _scale(1.0)}
    elif quantity == "percent":
        table = {"1": _scale(0.01)}
    if unit not in table:
        known = sorted([CANONICAL[quantity], *table])
        raise ValueError(f"unit of {quantity} must be one of {known}; got {unit!r} instead")
    return table[unit]
