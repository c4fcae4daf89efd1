"""Site profiles: how one facility runs, instruments and records the shared process.

A profile is a readable TOML file (see ``bioprocess/profiles/*.toml``): scale and vessel
physics, controller tuning, set points, sampling intervals, the site's own tag names,
units and lab codes, sensor noise and lag, the Raman instrument, the QMS vocabulary
(deviation categories, failure-mode codes, root-cause wording) and how often each fault
kind happens there. :func:`parse_site_profile` turns TOML text into a frozen
:class:`SiteProfile`; :func:`builtin_site_profiles` loads the profiles shipped inside the
package (the only resource read in ``bioprocess``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from typing import Any

from bioprocess.control import ControllerTuning, VesselHardware
from bioprocess.faults import FaultType
from bioprocess.gas import kla_per_h
from bioprocess.kinetics import KineticParameters
from bioprocess.plant import FINE_SIGNALS, SensorSpec
from bioprocess.raman import RamanSpec
from bioprocess.recipe import Recipe
from bioprocess.twin import VesselCapacity
from bioprocess.units import converter

#: Quantity of each recordable online signal (for unit conversion).
SIGNAL_QUANTITY: dict[str, str] = {
    "temp_pv": "temperature",
    "temp_sp": "temperature",
    "temp_out": "percent",
    "do_pv": "dissolved_oxygen",
    "do2_pv": "dissolved_oxygen",
    "do_sp": "dissolved_oxygen",
    "do_out": "percent",
    "rpm_pv": "agitation",
    "rpm_sp": "agitation",
    "air_lpm": "gas_flow",
    "o2_lpm": "gas_flow",
    "co2_lpm": "gas_flow",
    "ph_pv": "ph",
    "ph_sp": "ph",
    "ph_out": "percent",
    "base_lph": "liquid_flow",
    "base_total_l": "liquid_volume",
    "feed_sp_lph": "liquid_flow",
    "feed_total_l": "liquid_volume",
    "weight_kg": "mass",
    "our_pv": "uptake_rate",
    "cer_pv": "uptake_rate",
}

#: Quantity of each offline (lab) analyte.
ANALYTE_QUANTITY: dict[str, str] = {
    "vcd": "cell_density",
    "viability": "percent",
    "glc": "glucose",
    "lac": "lactate",
    "gln": "glutamine",
    "amm": "ammonium",
    "titre": "titre",
    "ph": "ph",
    "pco2": "pco2",
    "osmolality": "osmolality",
}

TAG_KINDS = ("online", "setpoint", "controller_output")


@dataclass(frozen=True)
class TagSpec:
    """One online tag of a site: which simulator signal it records and how."""

    signal: str
    name: str
    unit: str
    kind: str
    description: str
    every_min: float
    decimals: int


@dataclass(frozen=True)
class AnalyteSpec:
    """One offline analyte of a site's lab (LIMS code, unit, assay noise)."""

    analyte: str
    code: str
    unit: str
    description: str
    cv: float  # relative assay error (1 sd)
    sd: float  # absolute assay error (1 sd), canonical units
    decimals: int
    from_day: float = 0.0
    every_days: float = 1.0


@dataclass(frozen=True)
class QmsCode:
    """How a site's QMS records one fault kind when it opens a deviation."""

    category: str
    failure_mode: str
    description: str
    root_cause: str
    capa_action: str
    detect_probability: float = 1.0
    root_cause_found: float = 0.8


@dataclass(frozen=True)
class SiteProfile:
    """Everything that makes one facility different from another."""

    code: str
    name: str
    utc_offset: str
    scale_l: float
    initial_volume_fraction: float
    bioreactors: tuple[str, ...]
    bioreactor_attributes: Mapping[str, Any]
    turnaround_days: float
    batch_id_format: str
    deviation_id_format: str
    capa_id_format: str
    first_seq: int
    recipe: Mapping[str, float]
    recipe_sd: Mapping[str, float]
    hardware: VesselHardware
    tuning: ControllerTuning
    sensors: SensorSpec
    online_interval_min: float
    lab_hour_local: float
    tags: tuple[TagSpec, ...]
    analytes: tuple[AnalyteSpec, ...]
    raman: RamanSpec
    variability: Mapping[str, float]
    kinetics: Mapping[str, float]
    qms: Mapping[FaultType, QmsCode]
    fault_weights: Mapping[FaultType, float]
    alarms: Mapping[str, float] = field(default_factory=dict)

    def tag(self, signal: str) -> TagSpec | None:
        """The tag recording ``signal`` at this site, if any."""
        for t in self.tags:
            if t.signal == signal:
                return t
        return None


def _dataclass_from(cls: type, table: Mapping[str, Any], where: str) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(table) - names
    if unknown:
        raise ValueError(f"{where}: keys must be among {sorted(names)}; got {sorted(unknown)}")
    return cls(**{k: float(v) for k, v in table.items()})


def _require(table: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise ValueError(f"{where}.{key}: required field is missing")
    return table[key]


def parse_site_profile(text: str, source: str = "<profile>") -> SiteProfile:
    """Parse and check a site profile written in TOML.

    Raises
    ------
    ValueError
        With the TOML path of the first problem ("what must hold; what was found").
    """
    doc = tomllib.loads(text)
    site = _require(doc, "site", source)
    tags = []
    for i, t in enumerate(_require(doc, "tags", source)):
        where = f"{source} tags[{i}]"
        signal = _require(t, "signal", where)
        if signal not in SIGNAL_QUANTITY or signal not in FINE_SIGNALS:
            raise ValueError(
                f"{where}.signal must be one of {sorted(SIGNAL_QUANTITY)}; got {signal!r}"
            )
        kind = _require(t, "kind", where)
        if kind not in TAG_KINDS:
            raise ValueError(f"{where}.kind must be one of {TAG_KINDS}; got {kind!r}")
        unit = _require(t, "unit", where)
        converter(SIGNAL_QUANTITY[signal], unit)  # raises on an unknown unit
        every = t.get("every_min", site.get("online_interval_min", 1))
        if not float(every).is_integer() or float(every) < 1:
            raise ValueError(
                f"{where}.every_min must be a whole number of minutes >= 1; got {every!r}"
            )
        tags.append(
            TagSpec(
                signal=signal,
                name=_require(t, "name", where),
                unit=unit,
                kind=kind,
                description=t.get("description", ""),
                every_min=float(every),
                decimals=int(t.get("decimals", 3)),
            )
        )
    names = [t.name for t in tags]
    if len(set(names)) != len(names):
        raise ValueError(f"{source} tags: names must be unique; got duplicates in {names}")
    analytes = []
    for i, a in enumerate(_require(doc, "lab", source)):
        where = f"{source} lab[{i}]"
        analyte = _require(a, "analyte", where)
        if analyte not in ANALYTE_QUANTITY:
            raise ValueError(
                f"{where}.analyte must be one of {sorted(ANALYTE_QUANTITY)}; got {analyte!r}"
            )
        converter(ANALYTE_QUANTITY[analyte], _require(a, "unit", where))
        analytes.append(
            AnalyteSpec(
                analyte=analyte,
                code=_require(a, "code", where),
                unit=a["unit"],
                description=a.get("description", ""),
                cv=float(a.get("cv", 0.0)),
                sd=float(a.get("sd", 0.0)),
                decimals=int(a.get("decimals", 3)),
                from_day=float(a.get("from_day", 0.0)),
                every_days=float(a.get("every_days", 1.0)),
            )
        )
    raman = _require(doc, "raman", source)
    qms = {}
    for kind_name, q in _require(doc, "qms", source).items():
        qms[FaultType(kind_name)] = QmsCode(**q)
    missing = set(FaultType) - set(qms)
    if missing:
        raise ValueError(f"{source} qms: every fault kind needs a code; missing {sorted(missing)}")
    weights = {FaultType(k): float(v) for k, v in doc.get("fault_weights", {}).items()}
    return SiteProfile(
        code=_require(site, "code", f"{source} site"),
        name=site.get("name", site["code"]),
        utc_offset=site.get("utc_offset", "Z"),
        scale_l=float(_require(site, "scale_l", f"{source} site")),
        initial_volume_fraction=float(site.get("initial_volume_fraction", 0.7)),
        bioreactors=tuple(_require(site, "bioreactors", f"{source} site")),
        bioreactor_attributes=dict(site.get("bioreactor_attributes", {})),
        turnaround_days=float(site.get("turnaround_days", 16.0)),
        batch_id_format=_require(site, "batch_id_format", f"{source} site"),
        deviation_id_format=_require(site, "deviation_id_format", f"{source} site"),
        capa_id_format=_require(site, "capa_id_format", f"{source} site"),
        first_seq=int(site.get("first_seq", 1)),
        recipe={k: float(v) for k, v in _require(doc, "recipe", source).items()},
        recipe_sd={k: float(v) for k, v in doc.get("recipe_sd", {}).items()},
        hardware=_dataclass_from(VesselHardware, doc.get("hardware", {}), f"{source} hardware"),
        tuning=_dataclass_from(ControllerTuning, doc.get("tuning", {}), f"{source} tuning"),
        sensors=_dataclass_from(SensorSpec, doc.get("sensors", {}), f"{source} sensors"),
        online_interval_min=float(site.get("online_interval_min", 1)),
        lab_hour_local=float(site.get("lab_hour_local", 8)),
        tags=tuple(tags),
        analytes=tuple(analytes),
        raman=RamanSpec(**{k: (v if isinstance(v, str) else float(v)) for k, v in raman.items()}),
        variability={k: float(v) for k, v in doc.get("variability", {}).items()},
        kinetics={k: float(v) for k, v in doc.get("kinetics", {}).items()},
        qms=qms,
        fault_weights=weights or dict.fromkeys(FaultType, 1.0),
        alarms={k: float(v) for k, v in doc.get("alarms", {}).items()},
    )


def builtin_site_profiles() -> tuple[SiteProfile, ...]:
    """The site profiles shipped in ``bioprocess/profiles``, in file-name order."""
    folder = resources.files("bioprocess").joinpath("profiles")
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            out.append(parse_site_profile(entry.read_text(encoding="utf-8"), entry.name))
    return tuple(out)


def nominal_recipe(profile: SiteProfile, days: float = 14.0) -> Recipe:
    """The site's set points of the process as a recipe (no batch-to-batch variation)."""
    r = {k: float(v) for k, v in profile.recipe.items()}
    r["initial_volume_l"] = profile.scale_l * profile.initial_volume_fraction
    return Recipe(duration_h=days * 24.0, **r)


def nominal_kinetics(profile: SiteProfile) -> KineticParameters:
    """The clone's kinetics as seen at the site (site multipliers, no variation)."""
    base = KineticParameters()
    return base.with_values(**{k: float(getattr(base, k)) * m for k, m in profile.kinetics.items()})


def vessel_capacity(profile: SiteProfile) -> VesselCapacity:
    """What the site's vessel can deliver, for the ideal-control twin."""
    hw = profile.hardware
    kla_max = kla_per_h(
        hw.kla_ref_per_h, hw.rpm_max, hw.rpm_ref, hw.air_vvm_max + hw.o2_vvm_max, hw.vvm_ref
    )
    return VesselCapacity(
        kla_max_per_h=float(kla_max), co2_strip_per_h=float(hw.co2_strip_ref_per_h)
    )
