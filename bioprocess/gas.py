"""Gas–liquid transfer and acid–base chemistry of a sparged, stirred bioreactor.

Oxygen: ``OTR = kLa (C* - C)`` with the saturation concentration ``C*`` set by the O2
fraction of the sparge gas and the temperature; kLa follows the van't Riet (1979)
correlation ``kLa ∝ (P/V)^0.4 v_s^0.5`` with ungassed power ``P ∝ N^3``, so kLa scales as
``N^1.2 Q^0.5`` around a site's reference point (Garcia-Ochoa & Gomez 2009).

pH: the bicarbonate buffer, ``pH = pK' + log10([HCO3-]/[CO2(aq)])`` (Henderson–
Hasselbalch). Lactic acid converts bicarbonate into dissolved CO2, ammonia and base do
the reverse; CO2 leaves by stripping (Mostafa & Gu 2003).

References
----------
.. [1] van't Riet K (1979). Review of measuring methods and results in nonviscous
   gas-liquid mass transfer in stirred vessels. Ind Eng Chem Process Des Dev
   18(3):357–364.
.. [2] Garcia-Ochoa F, Gomez E (2009). Bioreactor scale-up and oxygen transfer rate in
   microbial processes: an overview. Biotechnol Adv 27(2):153–176.
.. [3] Mostafa SS, Gu X (2003). Strategies for improved dCO2 removal in large-scale
   fed-batch cultures. Biotechnol Prog 19(1):45–51.
.. [4] Royce PN, Thornhill NF (1991). Estimation of dissolved carbon dioxide
   concentrations in aerobic fermentations. AIChE J 37(11):1680–1686.
"""

from __future__ import annotations

import numpy as np

from bioprocess.kinetics import Value

#: O2 mole fraction of air.
AIR_O2_FRACTION = 0.2095
#: CO2 solubility in culture medium at 37 °C, mM per mmHg (Royce & Thornhill 1991).
CO2_SOLUBILITY_MM_PER_MMHG = 0.0307
#: Apparent pK' of the CO2/bicarbonate pair in culture medium at 37 °C.
PK_BICARBONATE = 6.1
#: O2 solubility at air saturation used to convert % air saturation to mg/L at 37 °C.
O2_MG_PER_L_AT_AIR_SATURATION = 6.73


def o2_air_saturation_mM(temp_c: Value) -> Value:
    """Dissolved O2 at air saturation (mM) in medium, decreasing with temperature."""
    return 0.210 * (1.0 + 0.0135 * (37.0 - np.asarray(temp_c)))


def kla_per_h(
    kla_ref: Value,
    rpm: Value,
    rpm_ref: Value,
    gas_vvm: Value,
    vvm_ref: Value,
    surface_kla: Value = 0.3,
) -> Value:
    """Volumetric O2 transfer coefficient (1/h) from agitation and sparge flow.

    ``kLa = kla_ref (N/N_ref)^1.2 (Q/Q_ref)^0.5 + kLa_surface`` (van't Riet 1979).
    """
    n = np.maximum(rpm, 0.0) / rpm_ref
    q = np.maximum(gas_vvm, 0.0) / vvm_ref
    return kla_ref * n**1.2 * np.sqrt(q) + surface_kla * n


def ph_from_carbonate(hco3_mM: Value, co2_mM: Value) -> Value:
    """pH of the bicarbonate buffer (Henderson–Hasselbalch)."""
    return PK_BICARBONATE + np.log10(np.maximum(hco3_mM, 1e-3) / np.maximum(co2_mM, 1e-4))


def co2_for_ph(hco3_mM: Value, ph: Value) -> Value:
    """Dissolved CO2 (mM) in equilibrium with ``hco3_mM`` at ``ph``."""
    return np.asarray(hco3_mM) / 10.0 ** (np.asarray(ph) - PK_BICARBONATE)


def pco2_mmhg(co2_mM: Value) -> Value:
    """Partial pressure (mmHg) of dissolved CO2 (mM)."""
    return np.asarray(co2_mM) / CO2_SOLUBILITY_MM_PER_MMHG
