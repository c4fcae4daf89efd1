"""Linear unit conversions from a site's unit string to a parameter's canonical unit (pint).

The numbers come from `pint <https://pint.readthedocs.io/>`_'s unit definitions, never from a
table kept here. Three things pint cannot know are supplied by the vocabulary or the
alignment file:

- **molar mass** (``tf:molarMass`` on the parameter) to go between amount and mass
  concentration (mmol/L <-> g/L), through pint's ``chemistry`` context;
- **air-saturation concentration** (``tf:airSaturationConcentration``, mg/L at 100 %) to go
  from a dissolved-gas concentration to % air saturation, for parameters whose quantity kind
  is relative partial pressure (dissolved oxygen and its set point);
- **how to read a non-standard unit string** (``tf:unitExpression``), e.g. ``slpm`` read as
  ``L/min`` at the site's standard conditions; pint would read ``slpm`` as a power.

Units pint does not define are added to the registry: ``cell`` (a count), ``osmole``
(``Osm``) and ``pH`` (so that ``pH`` is never read as picohenry).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from functools import cache

import pint

from federation.align.model import UnitConversion

#: QUDT quantity kind of parameters measured as % air saturation.
RELATIVE_PARTIAL_PRESSURE = "http://qudt.org/vocab/quantitykind/RelativePartialPressure"


class UnitConversionError(ValueError):
    """No linear conversion between two units with what is known."""


@cache
def registry() -> pint.UnitRegistry:
    """The shared pint registry, with the few units cell culture needs added."""
    ureg = pint.UnitRegistry()
    ureg.define("cell = count")
    ureg.define("osmole = [osmotic_amount] = Osm = osmol")
    ureg.define("pH_value = [acidity] = pH")
    return ureg


def parse_unit(text: str) -> pint.Quantity:
    """``text`` as a pint quantity of magnitude 1 or a scale (``1e5 cells/mL`` -> 1e5 cell/mL).

    Raises :class:`UnitConversionError` when pint cannot read it.
    """
    ureg = registry()
    try:
        parsed = ureg.parse_expression(text.replace("·", "*").replace("µ", "u"))
    except Exception as exc:  # pint raises several unrelated types for unreadable text
        raise UnitConversionError(f"unit {text!r} is not a unit pint can read ({exc})") from exc
    if not isinstance(parsed, pint.Quantity):
        parsed = ureg.Quantity(float(parsed), ureg.dimensionless)
    return parsed


def _linear(
    convert: Callable[[float], float], from_unit: str, to_unit: str, basis: str
) -> UnitConversion:
    """Fit ``m, c`` from two points of ``convert`` and check a third lies on the line."""
    offset = float(convert(0.0))
    multiplier = float(convert(1.0)) - offset
    probe = float(convert(1000.0))
    expected = multiplier * 1000.0 + offset
    if not (math.isfinite(multiplier) and math.isfinite(offset)) or not math.isclose(
        probe, expected, rel_tol=1e-9, abs_tol=1e-9
    ):
        raise UnitConversionError(f"{from_unit} -> {to_unit} is not a linear conversion")
    return UnitConversion(from_unit, to_unit, multiplier, offset, basis)


def conversion_between(
    from_unit: str,
    to_unit: str,
    *,
    expression: str | None = None,
    molar_mass_g_per_mol: float | None = None,
    air_saturation_mg_per_l: float | None = None,
    quantity_kind: str | None = None,
) -> UnitConversion:
    """The conversion from a site's ``from_unit`` to the canonical ``to_unit``.

    ``expression`` (when given) is how to read ``from_unit``. Raises
    :class:`UnitConversionError` with the reason when there is no conversion with what is known.
    """
    if from_unit == to_unit and expression is None:
        return UnitConversion(from_unit, to_unit, 1.0, 0.0, "same unit")
    ureg = registry()
    source = parse_unit(expression or from_unit)
    target = parse_unit(to_unit)
    read_as = f"{from_unit} read as {expression}; " if expression else ""
    scale, unit = float(source.magnitude), source.units
    target_scale, target_unit = float(target.magnitude), target.units

    def through(*contexts: str, **params: object) -> Callable[[float], float]:
        def convert(value: float) -> float:
            quantity = ureg.Quantity(value * scale, unit)
            with ureg.context(*contexts, **params) if contexts else nullcontext():
                return float(quantity.to(target_unit).magnitude) / target_scale

        return convert

    if source.dimensionality == target.dimensionality:
        return _linear(through(), from_unit, to_unit, f"{read_as}units".strip())
    substance = ureg.parse_expression("mol/L").dimensionality
    mass = ureg.parse_expression("g/L").dimensionality
    if {source.dimensionality, target.dimensionality} == {substance, mass}:
        if molar_mass_g_per_mol is None:
            raise UnitConversionError(
                f"{from_unit} -> {to_unit} needs the parameter's molar mass (tf:molarMass); "
                "the parameter has none"
            )
        convert = through("chemistry", mw=molar_mass_g_per_mol * ureg("g/mol"))
        return _linear(convert, from_unit, to_unit,
                       f"{read_as}molar mass {molar_mass_g_per_mol:g} g/mol")
    if (
        source.dimensionality == mass
        and target.dimensionality == ureg.percent.dimensionality
        and quantity_kind == RELATIVE_PARTIAL_PRESSURE
    ):
        if air_saturation_mg_per_l is None or air_saturation_mg_per_l <= 0:
            raise UnitConversionError(
                f"{from_unit} -> {to_unit} (% air saturation) needs a positive air-saturation "
                "concentration (tf:airSaturationConcentration, mg/L at 100 %) on the alignment "
                "or the conversion; none is declared"
            )
        mg_per_l = float(ureg.Quantity(scale, unit).to("mg/L").magnitude)
        percent = float(ureg.Quantity(1.0, target_unit).to("percent").magnitude) * target_scale
        multiplier = mg_per_l / air_saturation_mg_per_l * 100.0 / percent
        basis = f"{read_as}{air_saturation_mg_per_l:g} mg/L = 100 % air saturation"
        return UnitConversion(from_unit, to_unit, multiplier, 0.0, basis)
    raise UnitConversionError(
        f"{from_unit} ({source.dimensionality}) cannot be converted to {to_unit} "
        f"({target.dimensionality})"
    )


def derived_unit(unit: str, statistic: str) -> str:
    """The unit of a feature ``statistic`` of a tag in ``unit``.

    Same rule as the sites' feature extraction (``bioprocess.analysis.features``): ``count``
    for ``n``, ``h`` for ``t_min``/``t_max``, ``unit/h`` for ``slope`` and ``unit·h`` for
    ``area`` (compound units in parentheses), the unit itself for levels.
    """
    if statistic == "n":
        return "count"
    if statistic in ("t_min", "t_max"):
        return "h"
    wrapped = f"({unit})" if any(c in unit for c in " /·*") else unit
    if statistic == "slope":
        return f"{wrapped}/h"
    if statistic == "area":
        return f"{wrapped}·h"
    return unit
