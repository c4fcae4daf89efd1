"""The sections of a knowledge package as plain records (no RDF yet): computed from the
transfer data, read by the RDF writer, the HTML report and the diff.

Each record keeps the IRIs it was derived from (batches, deviation records, equipment,
tags), so every statement the package makes can name its evidence.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from federation.packages.ranges import ParameterRange, proven_ranges
from federation.packages.source import TFP, TransferData
from federation.packages.whatif import WhatIfSummary, _ordered_phases, demonstrated_kla

#: A scale ratio outside [1/SCALE_GAP, SCALE_GAP] is flagged.
SCALE_GAP = 2.0
#: R's demonstrated kLa below this fraction of S's is flagged.
KLA_GAP = 0.9
SEVERITY_WEIGHT = {"high": 3, "medium": 2, "low": 1}


@dataclass(frozen=True)
class RecipePhase:
    order: int
    name: str
    start_h: float
    end_h: float
    set_points: tuple[tuple[str, float, str, tuple[str, ...]], ...]  # param, value, unit, batches


@dataclass(frozen=True)
class ReceivingTag:
    name: str
    unit: str
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class TransferredParameter:
    range: ParameterRange
    receiving: ReceivingTag | None


@dataclass(frozen=True)
class Comparison:
    aspect: str
    sending: str
    receiving: str
    gap: bool
    explanation: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Risk:
    title: str
    severity: str
    explanation: str
    evidence: tuple[str, ...]
    source: str

    @property
    def score(self) -> tuple[int, int]:
        return (SEVERITY_WEIGHT[self.severity], len(self.evidence))


@dataclass(frozen=True)
class ExternalSection:
    """A section contributed by another capability (signatures, models), or why it is empty."""

    items: tuple[dict, ...] = ()
    empty_reason: str | None = None


@dataclass
class Sections:
    good_batches: tuple[str, ...]
    good_rule: str
    recipe: tuple[RecipePhase, ...]
    parameters: tuple[TransferredParameter, ...]
    equipment: tuple[Comparison, ...]
    whatif: WhatIfSummary | None
    whatif_empty_reason: str | None
    signatures: ExternalSection = field(default_factory=ExternalSection)
    models: ExternalSection = field(default_factory=ExternalSection)
    risks: tuple[Risk, ...] = ()


def good_batches(data: TransferData) -> tuple[list[str], str]:
    """S's good batches and the rule that chose them."""
    sending = [b for b in data.site_batches(data.from_site)]
    references = [b.iri for b in sending if b.iri in set(data.reference_batches)]
    if references:
        return references, ("the sending site's envelope reference batches (its rule: "
                            "complete, no deviation record, quality within specification)")
    complete = [b.iri for b in sending if b.status == "complete"]
    return complete, ("every complete batch of the sending site (it has no envelope reference "
                      "batches for the process)")


def _recipe(data: TransferData, good: list[str]) -> tuple[RecipePhase, ...]:
    phases = []
    for order, (name, start, end) in enumerate(_ordered_phases(data, good), start=1):
        set_points = []
        for parameter in sorted({p for (_, p, ph, _) in data.features
                                 if ph == name and p.endswith("-set-point")}):
            values = {b: data.features[(b, parameter, name, "mean")] for b in good
                      if (b, parameter, name, "mean") in data.features}
            if values:
                set_points.append((parameter, float(np.median(list(values.values()))),
                                   data.units.get(parameter, ""), tuple(sorted(values))))
        phases.append(RecipePhase(order, name, start, end, tuple(set_points)))
    return tuple(phases)


def _parameters(data: TransferData, good: list[str]) -> tuple[TransferredParameter, ...]:
    means: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    sending = {b.iri for b in data.site_batches(data.from_site)}
    for (batch, parameter, phase, stat), value in data.features.items():
        if stat == "mean" and batch in sending:
            means[(parameter, phase)][batch] = value
    complete = {b.iri for b in data.site_batches(data.from_site) if b.status == "complete"}
    quality_parameters = {p for (_, p) in data.quality}
    primary = TFP + "titre" if TFP + "titre" in quality_parameters else (
        sorted(quality_parameters)[0] if quality_parameters else None)
    cqa_values = {b: v for (b, p), v in data.quality.items()
                  if p == primary and b in complete}
    ranges = proven_ranges(means, data.units, good, cqa_values, quality_parameters)
    receiving_tags = {t.parameter: t for t in data.tags
                      if t.site == data.to_site and t.parameter}
    out = []
    for r in ranges:
        tag = receiving_tags.get(r.parameter)
        receiving = None
        if tag is not None:
            lower = upper = None
            if tag.multiplier:
                # canonical = m * site + c, so site = (canonical - c) / m
                ends = sorted(((r.lower - (tag.offset or 0.0)) / tag.multiplier,
                               (r.upper - (tag.offset or 0.0)) / tag.multiplier))
                lower, upper = ends
            receiving = ReceivingTag(tag.name, tag.unit, lower, upper)
        out.append(TransferredParameter(r, receiving))
    order = {"CQA": 0, "CPP": 1, "non-critical": 2, "not assessable": 3}
    return tuple(sorted(out, key=lambda p: (order[p.range.classification], p.range.parameter,
                                            p.range.phase)))


def _fmt(value: float | None, unit: str = "", digits: int = 3) -> str:
    return "unknown" if value is None else f"{value:.{digits}g}{' ' + unit if unit else ''}"


def _equipment(data: TransferData, good: list[str],
               whatif: WhatIfSummary | None) -> tuple[Comparison, ...]:
    s, r = data.from_site, data.to_site
    comparisons = []
    reactors = {site: [e for e in data.equipment if e.site == site and e.kind == "bioreactor"]
                for site in (s, r)}
    volumes = {site: sorted({e.working_volume_l for e in reactors[site] if e.working_volume_l})
               for site in (s, r)}
    vs, vr = (max(volumes[s]) if volumes[s] else None), (max(volumes[r]) if volumes[r] else None)
    ratio = vr / vs if vs and vr else None
    comparisons.append(Comparison(
        "scale", f"{_fmt(vs, 'L', 4)} working volume ({len(reactors[s])} bioreactors)",
        f"{_fmt(vr, 'L', 4)} working volume ({len(reactors[r])} bioreactors)",
        ratio is None or not (1 / SCALE_GAP <= ratio <= SCALE_GAP),
        "receiving bioreactor volume unknown" if ratio is None else
        f"scale ratio R/S = {ratio:.2g}: " + ("within a factor 2" if 0.5 <= ratio <= 2 else
                                              "a scale change; agitation, gassing and "
                                              "mixing time must be re-derived for R"),
        tuple(e.iri for site in (s, r) for e in reactors[site])))
    kla_s, used_s = demonstrated_kla(data, good)
    kla_r, used_r = demonstrated_kla(data, [b.iri for b in data.site_batches(r)])
    if kla_r is None:
        gap, text = True, ("R has no batch of the process with oxygen uptake and dissolved "
                           "oxygen: its oxygen-transfer capacity for this process is not "
                           "demonstrated; verify kLa at R before the first run")
    else:
        gap = kla_s is not None and kla_r < KLA_GAP * kla_s
        text = (f"R/S = {kla_r / kla_s:.2f}" if kla_s else "S's kLa unknown") + (
            "; R has demonstrated less oxygen transfer than the process needed at S"
            if gap else "; R has demonstrated at least the transfer the process needed at S")
    comparisons.append(Comparison(
        "kLa", f"{_fmt(kla_s, '1/h')} demonstrated (peak OUR over O2 driving force)",
        f"{_fmt(kla_r, '1/h')} demonstrated", gap, text, tuple(used_s + used_r)))

    def flow_per_volume(site: str, batches: list[str], volume: float | None) -> float | None:
        peaks = [v for (b, p, _, stat), v in data.features.items()
                 if b in batches and stat == "max"
                 and p in (TFP + "air-flow", TFP + "oxygen-flow")]
        return max(peaks) / volume if peaks and volume else None

    agitation = {site: [v for (b, p, _, stat), v in data.features.items()
                        if p == TFP + "agitation" and stat == "max"
                        and data.batches[b].site == site] for site in (s, r)}
    vvm_s = flow_per_volume(s, good, vs)
    vvm_r = flow_per_volume(r, [b.iri for b in data.site_batches(r)], vr)
    mix_gap = ratio is None or not (1 / SCALE_GAP <= ratio <= SCALE_GAP) or not agitation[r]
    comparisons.append(Comparison(
        "mixing",
        f"agitation up to {_fmt(max(agitation[s]) if agitation[s] else None, 'rpm')}; "
        f"peak gas flow {_fmt(vvm_s, 'vvm')}",
        f"agitation up to {_fmt(max(agitation[r]) if agitation[r] else None, 'rpm')}; "
        f"peak gas flow {_fmt(vvm_r, 'vvm')}", mix_gap,
        ("agitation speed does not transfer across scales (tip speed and power per volume need "
         "impeller data the federation does not hold); R must set agitation by its own "
         "scale-down/up model") if mix_gap else "same scale class and agitation demonstrated "
        "at R", tuple(good[:5])))
    measured = {site: {t.parameter for t in data.tags if t.site == site and t.parameter
                       and t.kind in ("online", "offline")} for site in (s, r)}
    missing = sorted(measured[s] - measured[r])
    comparisons.append(Comparison(
        "sensors", f"{len(measured[s])} shared parameters measured",
        f"{len(measured[r])} shared parameters measured", bool(missing),
        ("R does not measure: " + ", ".join(p.removeprefix(TFP) for p in missing))
        if missing else "R measures every shared parameter S measures",
        tuple(t.iri for t in data.tags if t.site == s and t.parameter in missing)))
    kinds = {site: sorted({e.kind for e in data.equipment if e.site == site
                           and e.kind != "bioreactor"}) for site in (s, r)}
    lacking = sorted(set(kinds[s]) - set(kinds[r]))
    comparisons.append(Comparison(
        "instruments", ", ".join(kinds[s]) or "none", ", ".join(kinds[r]) or "none",
        bool(lacking), ("R has no " + ", ".join(lacking)) if lacking else
        "R has every instrument kind S has",
        tuple(e.iri for e in data.equipment if e.kind != "bioreactor")))
    return tuple(comparisons)


def _risks(data: TransferData, sections: Sections) -> tuple[Risk, ...]:
    risks: list[Risk] = []
    severity_by_aspect = {"kLa": "high", "scale": "high", "sensors": "medium",
                          "mixing": "medium", "instruments": "medium"}
    for c in sections.equipment:
        if c.gap:
            risks.append(Risk(f"equipment gap: {c.aspect}", severity_by_aspect[c.aspect],
                              c.explanation, c.evidence or (data.site_iris[data.to_site],),
                              "equipment comparison"))
    by_mode: dict[str, list] = defaultdict(list)
    for d in data.deviations:
        by_mode[d.failure_mode or d.category or "unclassified"].append(d)
    for mode, records in sorted(by_mode.items()):
        capas = [c for d in records for c in d.capas]
        effective = [c for c in capas if c[2] is True]
        sites = sorted({data.batches[d.batch].site for d in records if d.batch in data.batches})
        open_ = not capas or len(effective) < len(capas)
        causes = sorted({d.root_cause for d in records if d.root_cause})
        severity = "high" if open_ and len(records) >= 2 else ("medium" if open_ else "low")
        risks.append(Risk(
            f"deviation history: {mode.rsplit('/', 1)[-1]}", severity,
            f"{len(records)} deviation record(s) on this process at {', '.join(sites)}; root "
            f"causes: {'; '.join(causes) or 'none recorded'}; CAPA: {len(capas)} "
            f"({len(effective)} proven effective)" + ("; not closed effectively" if open_
                                                       else ""),
            tuple(d.iri for d in records), "deviation records"))
    for p in sections.parameters:
        if p.range.classification == "CPP":
            risks.append(Risk(
                f"critical process parameter: {p.range.parameter.removeprefix(TFP)} in "
                f"{p.range.phase}", "medium",
                f"associated with the primary CQA at S (Spearman rho {p.range.rho:.2f}, "
                f"q {p.range.q_value:.3f}); hold within the proven acceptable range "
                f"{p.range.lower:.4g}–{p.range.upper:.4g} {p.range.unit}",
                p.range.batches, "parameters"))
    if sections.whatif is not None:
        base = sections.whatif.scenarios[0]
        for scenario in sections.whatif.scenarios[1:]:
            loss = 1 - scenario.titre_median / base.titre_median if base.titre_median else 0.0
            if loss > 0.05 or scenario.min_do_pct < 0.8 * sections.whatif.recipe[
                    "do_setpoint_pct"]:
                risks.append(Risk(
                    f"twin predicts a shortfall at R ({scenario.name})",
                    "high" if loss > 0.05 else "medium",
                    f"predicted final titre {scenario.titre_median:.3g} g/L vs "
                    f"{base.titre_median:.3g} g/L at S ({-100 * loss:+.0f} %), lowest "
                    f"dissolved oxygen {scenario.min_do_pct:.0f} % at kLa "
                    f"{scenario.kla_per_h:.2g} 1/h",
                    sections.whatif.calibration_batches or sections.good_batches,
                    "what-if"))
    for item in sections.signatures.items:
        if len(item.get("sites", ())) >= 2:
            risks.append(Risk(f"recurring failure signature: {item['label']}", "high",
                              item.get("definition", ""), (item["iri"],), "signatures"))
    for item in sections.models.items:
        check = str(item.get("facts", {}).get("transfer check on R's data", ""))
        if "outside the training range" in check:
            risks.append(Risk(f"soft sensor may not transfer: {item['label']}", "medium",
                              check, (item["iri"],), "models"))
    if not data.site_batches(data.to_site):
        risks.append(Risk("first run of the process at the receiving site", "medium",
                          "R has run no batch of this process: no envelope, no demonstrated "
                          "capability, no soft-sensor transfer check yet",
                          (data.site_iris[data.to_site],), "receiving site history"))
    return tuple(sorted(risks, key=lambda r: (-r.score[0], -r.score[1], r.title)))


def compute_sections(data: TransferData, whatif: WhatIfSummary | None,
                     whatif_empty_reason: str | None, good: list[str], good_rule: str,
                     signatures: ExternalSection, models: ExternalSection) -> Sections:
    sections = Sections(
        good_batches=tuple(good), good_rule=good_rule, recipe=_recipe(data, good),
        parameters=_parameters(data, good), equipment=_equipment(data, good, whatif),
        whatif=whatif, whatif_empty_reason=whatif_empty_reason, signatures=signatures,
        models=models)
    sections.risks = _risks(data, sections)
    return sections
