"""Unstructured kinetic model of a CHO fed-batch culture producing a monoclonal antibody.

The model is a Monod-type, unstructured and unsegregated description of the culture in
the tradition of Xing et al. (2010) and Kontoravdi et al. (2005, 2010): one specific
growth rate limited by glucose, glutamine and a lumped pool of essential amino acids
(Monod terms) and inhibited by lactate and ammonia (non-competitive terms), a death rate
driven by by-products and starvation, Luedeking–Piret product formation, and a lactate
production/consumption switch on the specific growth rate (Mulukutla et al. 2012).
Culture conditions act through multiplicative factors: temperature (a shift to 32–34 °C
slows growth and raises specific productivity; Yoon et al. 2003), dissolved oxygen (Monod
limitation at low DO, mild oxidative stress at high DO; Ozturk & Palsson 1991), pH (a
flat-topped optimum; higher pH raises lactate production; Trummer et al. 2006) and dissolved
CO2 (inhibition above ~90 mmHg, as seen at large scale; Mostafa & Gu 2003). A logistic
crowding term (Verhulst) stands in for the unmodelled limitations (trace nutrients,
osmolality) that stop growth at high density.

Every function here is vectorised: any argument may be a scalar or an array of batches
(broadcasting), so the same code integrates one batch for ``solve_ivp`` or thousands of
stacked virtual batches with a fixed-step scheme.

Units (fixed throughout ``bioprocess``): time in h; cells in 1e6 cells/mL (= 1e9 cells/L);
metabolites in mmol/L (mM); titre in g/L; volume in L; temperature in °C; dissolved
oxygen in % air saturation; pCO2 in mmHg; specific metabolic rates in pmol/cell/h
(= mmol per 1e9 cells per h); specific productivity in pg/cell/h.

References
----------
.. [1] Monod J (1949). The growth of bacterial cultures. Annu Rev Microbiol 3:371–394.
.. [2] Luedeking R, Piret EL (1959). A kinetic study of the lactic acid fermentation.
   J Biochem Microbiol Technol Eng 1(4):393–412.
.. [3] Xing Z, Bishop N, Leister K, Li ZJ (2010). Modeling kinetics of a large-scale
   fed-batch CHO cell culture by Markov chain Monte Carlo method. Biotechnol Prog
   26(1):208–219.
.. [4] Kontoravdi C, Asprey SP, Pistikopoulos EN, Mantalaris A (2005). Application of
   global sensitivity analysis to determine goals for design of experiments: an example
   study on antibody-producing cell cultures. Biotechnol Prog 21(4):1128–1135.
.. [5] Kontoravdi C, Pistikopoulos EN, Mantalaris A (2010). Systematic development of
   predictive mathematical models for animal cell cultures. Comput Chem Eng
   34(8):1192–1198.
.. [6] Mulukutla BC, Gramer M, Hu WS (2012). On metabolic shift to lactate consumption in
   fed-batch culture of mammalian cells. Metab Eng 14(2):138–149.
.. [7] Yoon SK, Song JY, Lee GM (2003). Effect of low culture temperature on specific
   productivity, transcription level, and heterogeneity of erythropoietin in Chinese
   hamster ovary cells. Biotechnol Bioeng 82(3):289–298.
.. [8] Ozturk SS, Palsson BO (1991). Growth, metabolic, and antibody production kinetics
   of hybridoma cell culture: 2. Effects of serum concentration, dissolved oxygen
   concentration, and medium pH in a batch reactor. Biotechnol Prog 7(6):481–494.
.. [9] Trummer E, et al. (2006). Process parameter shifting: Part I. Effect of DOT, pH,
   and temperature on the performance of Epo-Fc expressing CHO cells cultivated in
   controlled batch bioreactors. Biotechnol Bioeng 94(6):1033–1044.
.. [10] Mostafa SS, Gu X (2003). Strategies for improved dCO2 removal in large-scale
   fed-batch cultures. Biotechnol Prog 19(1):45–51.
.. [11] Ozturk SS, Palsson BO (1990). Chemical decomposition of glutamine in cell culture
   media: effect of media type, pH, and serum concentration. Biotechnol Prog 6(2):121–128.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
Value = float | FloatArray

#: Molar masses used to convert mM to g/L (g/mmol).
MOLAR_MASS_G_PER_MMOL: dict[str, float] = {
    "glucose": 0.18016,
    "lactate": 0.09008,
    "glutamine": 0.14615,
    "ammonium": 0.01804,
}

#: Order of the culture state vector shared by the plant simulator and the what-if twin.
CULTURE_STATES: tuple[str, ...] = (
    "xv",  # viable cell density, 1e6 cells/mL
    "xd",  # dead cell density, 1e6 cells/mL
    "glc",  # glucose, mM
    "gln",  # glutamine, mM
    "lac",  # lactate, mM
    "amm",  # ammonium, mM
    "aa",  # lumped essential amino acids, mM
    "titre",  # product, g/L
    "volume",  # broth volume, L
    "feed_added",  # cumulative feed volume delivered, L
)
N_CULTURE = len(CULTURE_STATES)
IX: dict[str, int] = {name: i for i, name in enumerate(CULTURE_STATES)}


@dataclass(frozen=True, eq=False)
class KineticParameters:
    """Kinetic parameters of the CHO model, in physical units.

    Any field may hold an array (one value per stacked batch) instead of a scalar.
    Defaults describe a typical industrial CHO mAb clone at 37 °C.
    """

    # growth
    mu_max: Value = 0.048  # 1/h, at 37 °C and no limitation
    k_glc: Value = 0.5  # mM, Monod constant of growth on glucose
    k_gln: Value = 0.05  # mM
    k_aa: Value = 0.8  # mM, lumped essential amino acids
    ki_lac: Value = 150.0  # mM, non-competitive lactate inhibition
    ki_amm: Value = 25.0  # mM, non-competitive ammonium inhibition
    x_max: Value = 38.0  # 1e6 cells/mL, logistic crowding capacity
    k_do: Value = 1.0  # % air saturation, Monod constant on DO
    do_stress: Value = 90.0  # % air saturation above which oxidative stress acts
    k_do_stress: Value = 0.006  # 1/(% air saturation)
    ph_opt: Value = 7.0
    ph_width: Value = 0.30  # pH units (half-width of the flat-topped optimum)
    pco2_limit: Value = 90.0  # mmHg above which CO2 inhibits growth
    k_pco2: Value = 150.0  # mmHg
    t_ref: Value = 37.0  # °C
    theta_mu: Value = 0.24  # 1/°C, growth slowdown below t_ref
    theta_hot: Value = 0.25  # 1/°C², growth loss above t_ref
    # death and lysis
    kd_min: Value = 0.0004  # 1/h
    kd_amm: Value = 0.012  # 1/h, maximal ammonium-driven death (Hill, n = 4)
    kd_k_amm: Value = 13.0  # mM
    kd_lac: Value = 0.004  # 1/h, maximal lactate-driven death (Hill, n = 2)
    kd_k_lac: Value = 120.0  # mM
    kd_crowd: Value = 0.008  # 1/h, density-dependent apoptosis at x_max
    kd_starve: Value = 0.04  # 1/h, death when glucose or amino acids run out
    kd_k_glc: Value = 0.3  # mM
    kd_k_aa: Value = 0.3  # mM
    theta_kd: Value = 0.10  # 1/°C, lower death rate at lower temperature
    theta_kd_hot: Value = 0.6  # 1/°C, heat stress above t_ref
    k_lysis: Value = 0.004  # 1/h
    # glucose and lactate
    y_x_glc: Value = 0.30  # 1e9 cells/mmol glucose
    m_glc: Value = 0.035  # pmol/cell/h maintenance
    k_m_glc: Value = 0.3  # mM, uptake saturation
    theta_glc: Value = 0.08  # 1/°C
    y_lac_glc: Value = 1.0  # mol lactate per mol glucose at full overflow
    mu_switch: Value = 0.013  # 1/h, growth rate at the lactate production/consumption switch
    switch_hill: Value = 3.0
    q_lac_up: Value = 0.045  # pmol/cell/h, maximal lactate uptake
    k_lac_up: Value = 4.0  # mM
    k_ph_lac: Value = 1.5  # 1/pH unit, lactate production sensitivity to pH
    ki_lac_prod: Value = 60.0  # mM, product inhibition of lactate production
    # glutamine, ammonium, amino acids
    y_x_gln: Value = 2.5  # 1e9 cells/mmol
    m_gln: Value = 0.002  # pmol/cell/h
    k_m_gln: Value = 0.1  # mM
    k_gln_deg: Value = 0.003  # 1/h, spontaneous decomposition (Ozturk & Palsson 1990)
    y_amm_gln: Value = 0.55  # mol/mol
    y_x_aa: Value = 0.55  # 1e9 cells/mmol
    m_aa: Value = 0.007  # pmol/cell/h
    k_m_aa: Value = 0.3  # mM
    y_amm_aa: Value = 0.10  # mol/mol
    # product (Luedeking–Piret)
    qp_alpha: Value = 8.0  # pg/cell per unit of specific growth (growth-associated)
    qp_beta: Value = 1.05  # pg/cell/h (non-growth-associated) at t_ref
    theta_p: Value = 0.07  # 1/°C, productivity gain per °C below t_ref
    k_p_aa: Value = 0.8  # mM
    k_p_glc: Value = 0.2  # mM
    # oxygen and CO2
    a_o2: Value = 2.2  # pmol/cell per unit of specific growth
    b_o2: Value = 0.16  # pmol/cell/h maintenance respiration
    o2_per_lac: Value = 1.5  # mol O2 per mol lactate taken up
    rq: Value = 0.95  # respiratory quotient (CER/OUR)
    # overflow metabolism (hyper-metabolic culture profile)
    overflow: Value = 1.0  # glucose uptake multiplier; 1 = normal clone behaviour
    # feed actually delivered / commanded: 1 in the plant, whose pump faults act on the feed
    # itself; the ideal-control twin (bioprocess.twin) may estimate it (pump calibration)
    feed_delivery: Value = 1.0

    def with_values(self, **values: Any) -> KineticParameters:
        """Return a copy with some fields replaced (scalars or per-batch arrays)."""
        return replace(self, **values)


@dataclass(frozen=True, eq=False)
class SpecificRates:
    """Specific rates of one time point (arrays over batches).

    ``mu``, ``kd`` in 1/h; ``q_*`` metabolic rates in pmol/cell/h (positive =
    consumption for glucose, glutamine, amino acids and O2; positive = production for
    lactate, ammonium and CO2); ``q_p`` in pg/cell/h.
    """

    mu: FloatArray
    kd: FloatArray
    q_glc: FloatArray
    q_gln: FloatArray
    q_lac: FloatArray
    q_amm: FloatArray
    q_aa: FloatArray
    q_p: FloatArray
    q_o2: FloatArray
    q_co2: FloatArray


def _monod(s: Value, k: Value) -> FloatArray:
    s = np.maximum(s, 0.0)
    return s / (k + s)


def temperature_factor(temp_c: Value, t_ref: Value, theta_cold: Value, theta_hot: Value) -> Value:
    """Exponential slowdown below ``t_ref`` and a Gaussian penalty above it."""
    dt = np.asarray(temp_c) - t_ref
    return np.where(
        dt <= 0.0, np.exp(theta_cold * np.minimum(dt, 0.0)), np.exp(-theta_hot * dt * dt)
    )


def specific_rates(
    xv: Value,
    glc: Value,
    gln: Value,
    lac: Value,
    amm: Value,
    aa: Value,
    temp_c: Value,
    do_pct: Value,
    ph: Value,
    pco2_mmhg: Value,
    p: KineticParameters,
) -> SpecificRates:
    """Specific growth, death, uptake, production and respiration rates.

    Parameters
    ----------
    xv : float or ndarray
        Viable cell density, 1e6 cells/mL.
    glc, gln, lac, amm, aa : float or ndarray
        Glucose, glutamine, lactate, ammonium and lumped amino acids, mM.
    temp_c : float or ndarray
        Broth temperature, °C.
    do_pct : float or ndarray
        True dissolved oxygen, % air saturation.
    ph : float or ndarray
        True broth pH.
    pco2_mmhg : float or ndarray
        Dissolved CO2 partial pressure, mmHg.
    p : KineticParameters
        Parameters (scalars or per-batch arrays).

    Returns
    -------
    SpecificRates

    Notes
    -----
    Growth (Monod limitations and non-competitive inhibitions, [3]_ [4]_)::

        mu = mu_max f_T f_DO f_pH f_CO2 (1 - Xv/Xmax)
             * Glc/(Kglc+Glc) * Gln/(Kgln+Gln) * AA/(Kaa+AA)
             * KIlac/(KIlac+Lac) * KIamm/(KIamm+Amm)

    Lactate switches from production to consumption as growth slows ([6]_)::

        phi   = mu^h / (mu^h + mu_sw^h)
        q_lac = Y_lac/glc q_glc phi e^{k_pH (pH-7)} - q_lac,up Lac/(K+Lac) (1 - phi)

    A hyper-metabolic (overflow) culture has ``overflow > 1``: glucose uptake rises by that
    factor, the lactate switch is held in production, respiration rises and specific
    productivity falls.

    References
    ----------
    .. [3] Xing et al. (2010) Biotechnol Prog 26(1):208–219.
    .. [4] Kontoravdi et al. (2005) Biotechnol Prog 21(4):1128–1135.
    .. [6] Mulukutla et al. (2012) Metab Eng 14(2):138–149.
    """
    g = growth_potential(xv, glc, gln, lac, amm, aa, temp_c, ph, p)
    mu = g * do_factor(do_pct, p) * co2_factor(pco2_mmhg, p)
    return rates_at_growth(mu, xv, glc, gln, lac, amm, aa, temp_c, do_pct, ph, p)


def growth_potential(
    xv: Value,
    glc: Value,
    gln: Value,
    lac: Value,
    amm: Value,
    aa: Value,
    temp_c: Value,
    ph: Value,
    p: KineticParameters,
) -> FloatArray:
    """Specific growth rate (1/h) before the DO and dissolved-CO2 factors are applied."""
    xv = np.maximum(xv, 0.0)
    lac = np.maximum(lac, 0.0)
    amm = np.maximum(amm, 0.0)
    f_t_mu = temperature_factor(temp_c, p.t_ref, p.theta_mu, p.theta_hot)
    f_ph = np.exp(-(((ph - p.ph_opt) / p.ph_width) ** 4))  # flat-topped optimum
    crowd = np.maximum(1.0 - xv / p.x_max, 0.0)
    limit = _monod(glc, p.k_glc) * _monod(gln, p.k_gln) * _monod(aa, p.k_aa)
    inhibit = p.ki_lac / (p.ki_lac + lac) * p.ki_amm / (p.ki_amm + amm)
    return p.mu_max * f_t_mu * f_ph * crowd * limit * inhibit


def do_factor(do_pct: Value, p: KineticParameters) -> FloatArray:
    """Growth factor of dissolved oxygen: Monod limitation, mild stress above ``do_stress``."""
    return _monod(do_pct, p.k_do) * np.exp(-p.k_do_stress * np.maximum(do_pct - p.do_stress, 0.0))


def co2_factor(pco2_mmhg: Value, p: KineticParameters) -> FloatArray:
    """Growth factor of dissolved CO2 (inhibition above ``pco2_limit``)."""
    return 1.0 / (1.0 + np.maximum(pco2_mmhg - p.pco2_limit, 0.0) / p.k_pco2)


def _hyper(p: KineticParameters) -> FloatArray:
    return np.minimum(np.maximum((p.overflow - 1.0) / 0.5, 0.0), 1.0)


def _lactate_switch(mu: FloatArray, hyper: FloatArray, p: KineticParameters) -> FloatArray:
    mu_h = np.maximum(mu, 0.0) ** p.switch_hill
    phi = mu_h / (mu_h + p.mu_switch**p.switch_hill)
    return phi + (1.0 - phi) * 0.85 * hyper


def specific_oxygen_uptake(
    mu: Value, lac: Value, temp_c: Value, p: KineticParameters
) -> FloatArray:
    """Specific O2 uptake rate (pmol/cell/h) at growth rate ``mu``.

    Growth-associated plus maintenance respiration (Luedeking–Piret form), raised in
    an overflow culture, plus the oxidation of lactate taken up.
    """
    hyper = _hyper(p)
    f_t_glc = np.exp(p.theta_glc * np.minimum(np.asarray(temp_c) - p.t_ref, 0.0))
    phi = _lactate_switch(mu, hyper, p)
    lac_up = p.q_lac_up * _monod(lac, p.k_lac_up) * (1.0 - phi) * f_t_glc
    return (p.a_o2 * mu + p.b_o2 * f_t_glc) * (1.0 + 1.0 * hyper) + p.o2_per_lac * lac_up


def rates_at_growth(
    mu: FloatArray,
    xv: Value,
    glc: Value,
    gln: Value,
    lac: Value,
    amm: Value,
    aa: Value,
    temp_c: Value,
    do_pct: Value,
    ph: Value,
    p: KineticParameters,
) -> SpecificRates:
    """All specific rates once the specific growth rate ``mu`` is known."""
    xv = np.maximum(xv, 0.0)
    lac = np.maximum(lac, 0.0)
    amm = np.maximum(amm, 0.0)
    dt_cold = np.minimum(np.asarray(temp_c) - p.t_ref, 0.0)
    dt_hot = np.maximum(np.asarray(temp_c) - p.t_ref, 0.0)
    starve = p.kd_starve * (p.kd_k_glc / (p.kd_k_glc + np.maximum(glc, 0.0))) ** 2
    starve = starve + p.kd_starve * (p.kd_k_aa / (p.kd_k_aa + np.maximum(aa, 0.0))) ** 2
    kd = (
        p.kd_min
        + p.kd_amm / (1.0 + (p.kd_k_amm / np.maximum(amm, 1e-6)) ** 4)
        + p.kd_lac * lac**2 / (p.kd_k_lac**2 + lac**2)
        + p.kd_crowd * (xv / p.x_max) ** 4
    ) * np.exp(p.theta_kd * dt_cold + p.theta_kd_hot * dt_hot) + starve

    hyper = _hyper(p)
    f_t_glc = np.exp(p.theta_glc * dt_cold)
    q_glc = (mu / p.y_x_glc + p.m_glc * f_t_glc) * _monod(glc, p.k_m_glc) * p.overflow
    phi = _lactate_switch(mu, hyper, p)
    low_do = 1.0 + 2.0 * 5.0 / (5.0 + np.maximum(do_pct, 0.0)) * (do_pct < 15.0)
    lac_prod = p.y_lac_glc * q_glc * phi * np.exp(p.k_ph_lac * (ph - 7.0)) * low_do
    lac_prod = lac_prod * p.ki_lac_prod / (p.ki_lac_prod + lac)
    lac_up = p.q_lac_up * _monod(lac, p.k_lac_up) * (1.0 - phi) * f_t_glc
    q_lac = lac_prod - lac_up

    q_gln = (mu / p.y_x_gln + p.m_gln) * _monod(gln, p.k_m_gln)
    q_aa = (mu / p.y_x_aa + p.m_aa * f_t_glc) * _monod(aa, p.k_m_aa)
    q_amm = p.y_amm_gln * q_gln + p.y_amm_aa * q_aa

    f_t_p = np.exp(-p.theta_p * dt_cold - 0.3 * dt_hot)
    q_p = (
        (p.qp_alpha * mu + p.qp_beta)
        * f_t_p
        * _monod(aa, p.k_p_aa)
        * _monod(glc, p.k_p_glc)
        * (1.0 - 0.35 * hyper)
    )
    q_o2 = (p.a_o2 * mu + p.b_o2 * f_t_glc) * (1.0 + 1.0 * hyper) + p.o2_per_lac * lac_up
    q_co2 = p.rq * q_o2
    return SpecificRates(
        mu=mu,
        kd=kd,
        q_glc=q_glc,
        q_gln=q_gln,
        q_lac=q_lac,
        q_amm=q_amm,
        q_aa=q_aa,
        q_p=q_p,
        q_o2=q_o2,
        q_co2=q_co2,
    )


@dataclass(frozen=True)
class FeedMedium:
    """Composition of the concentrated nutrient feed (mM)."""

    glc: float = 600.0
    gln: float = 30.0
    aa: float = 210.0


@dataclass(frozen=True)
class BasalMedium:
    """Initial (basal medium) composition, mM."""

    glc: float = 36.0
    gln: float = 4.0
    aa: float = 22.0
    lac: float = 0.5
    amm: float = 0.3


def culture_derivatives(
    y: FloatArray,
    rates: SpecificRates,
    p: KineticParameters,
    feed_l_per_h: Value,
    other_in_l_per_h: Value,
    feed: FeedMedium,
) -> FloatArray:
    """Time derivatives of the culture states (mass balances of a fed-batch reactor).

    Parameters
    ----------
    y : ndarray, shape (N_CULTURE, n_batches)
        Culture states in the order of :data:`CULTURE_STATES`.
    rates : SpecificRates
        From :func:`specific_rates` at ``y``.
    p : KineticParameters
        Parameters (for glutamine decomposition and lysis).
    feed_l_per_h : float or ndarray
        Delivered nutrient feed, L/h.
    other_in_l_per_h : float or ndarray
        Other liquid additions (base, antifoam), L/h; they only dilute.
    feed : FeedMedium
        Feed composition.

    Returns
    -------
    ndarray, shape like ``y``
        dy/dt per hour.
    """
    xv, xd, glc, gln, lac, amm, aa, titre, vol, _ = y
    vol = np.maximum(vol, 1e-9)
    dil = (feed_l_per_h + other_in_l_per_h) / vol
    f_in = feed_l_per_h / vol
    xv_pos = np.maximum(xv, 0.0)
    gln_deg = p.k_gln_deg * np.maximum(gln, 0.0)
    dy = np.empty_like(y)
    dy[0] = (rates.mu - rates.kd - dil) * xv
    dy[1] = rates.kd * xv_pos - (p.k_lysis + dil) * xd
    dy[2] = -rates.q_glc * xv_pos + f_in * feed.glc - dil * glc
    dy[3] = -rates.q_gln * xv_pos - gln_deg + f_in * feed.gln - dil * gln
    dy[4] = rates.q_lac * xv_pos - dil * lac
    dy[5] = rates.q_amm * xv_pos + gln_deg - dil * amm
    dy[6] = -rates.q_aa * xv_pos + f_in * feed.aa - dil * aa
    dy[7] = rates.q_p * xv_pos * 1e-3 - dil * titre
    dy[8] = feed_l_per_h + other_in_l_per_h
    dy[9] = feed_l_per_h
    return dy


def initial_culture_state(
    seed_density: Value, volume_l: Value, medium: BasalMedium, n: int
) -> FloatArray:
    """Culture state at inoculation, shape (N_CULTURE, n)."""
    y = np.zeros((N_CULTURE, n))
    y[0] = seed_density
    y[1] = np.asarray(seed_density) * 0.03  # ~97 % viability at inoculation
    y[2] = medium.glc
    y[3] = medium.gln
    y[4] = medium.lac
    y[5] = medium.amm
    y[6] = medium.aa
    y[8] = volume_l
    return y
