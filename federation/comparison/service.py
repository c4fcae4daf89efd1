"""Compare sites on one process: what the dashboard draws and the CLI prints.

:func:`compare` reads, within the caller's scope, the process's batches at each site, their
aligned per-phase features, quality results with limits, envelopes, equipment and which
shared parameters each site measures, and returns one plot-ready, JSON-ready dict:

- ``parameters``: per (shared parameter, phase, statistic), per site the feature values
  (one per batch, canonical unit, aligned with ``batches``), a summary (n, mean, SD,
  quartiles) and an envelope band; ``separation`` ranks them (largest site-to-site
  difference in pooled SDs, as in the ``site_differences`` question).
- ``outcomes``: per aligned quality attribute (titre, viability, ...), per site the values,
  summary, specification limits in the canonical unit and Cpk (see :func:`stats.cpk`);
  "no spec" where the export carries no limit.
- ``envelopes``: each site's envelopes for the process (k, reference batches). The export
  carries no envelope trajectories, so the band drawn per phase is ``mean +/- k SD`` of the
  feature over the envelope's reference batches, from the same exported features.
- ``equipment``: every literal property the sites export for the equipment the process's
  unit operations used (working volume, kind, and anything a site adds such as kLa);
  ``sensors``: which shared parameters each site measures and how (online, offline, set
  point); ``differences``: the gaps, in words.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from bioprocess.errors import NotFoundError, ValidationError
from federation.comparison import queries
from federation.comparison.stats import (
    constant_within_groups,
    cpk,
    separation,
    summary,
)
from federation.questions.service import json_value
from federation.scope import Scope
from federation.store.base import DEFAULT_MAX_RESULTS, DEFAULT_TIMEOUT_S, GraphReader

#: Separations (pooled SDs) above this are listed among the differences in words.
NOTABLE_SEPARATION = 2.0


def _local(iri: str) -> str:
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


class _Reader:
    def __init__(self, store: GraphReader, scope: Scope, process: str, sites: Sequence[str],
                 statistics: Sequence[str], timeout_s: float, max_results: int) -> None:
        self.store, self.scope = store, scope
        self.process, self.sites, self.statistics = process, sites, statistics
        self.timeout_s, self.max_results = timeout_s, max_results

    def rows(self, template: str) -> list[dict[str, Any]]:
        sparql = queries.bind(template, self.process, self.sites, self.statistics)
        result = self.store.query(sparql, graphs=self.scope.graphs,
                                  sponsors=self.scope.sponsors, timeout_s=self.timeout_s,
                                  max_results=self.max_results)
        return [{k: json_value(v) for k, v in zip(result.variables, row, strict=True)}
                for row in result.rows]


def compare(store: GraphReader, scope: Scope, process: str, sites: Sequence[str] = (), *,
            statistics: Sequence[str] = ("mean",), timeout_s: float = DEFAULT_TIMEOUT_S,
            max_results: int = DEFAULT_MAX_RESULTS) -> dict[str, Any]:
    """Compare ``sites`` (site codes; empty: every site that ran it) on process code
    ``process`` over what ``scope`` may see. See the module docstring for the result.

    Raises NotFoundError when no batch of the process is visible at a requested site (or at
    all), ValidationError when fewer than one site remains or a statistic is malformed."""
    if not process.strip():
        raise ValidationError("process must be a process code such as 'P-mAb-101-FB'; "
                              "got an empty value instead")
    for stat in statistics:
        if not stat.replace("_", "").isalnum():
            raise ValidationError(f"statistics must be feature statistic names (mean, max, "
                                  f"slope, ...); got '{stat}' instead")
    reader = _Reader(store, scope, process, list(sites), list(statistics), timeout_s,
                     max_results)
    batches = _batches(reader.rows(queries.BATCHES))
    missing = [s for s in sites if s not in batches]
    if not batches or missing:
        where = f" at {', '.join(missing)}" if missing else ""
        raise NotFoundError(f"no batch of process '{process}'{where} is visible to you; "
                            f"sites with batches of it: {sorted(batches) or 'none'}")
    order = list(sites) or sorted(batches)
    envelopes = _envelopes(reader.rows(queries.ENVELOPES))
    parameters = _parameters(reader.rows(queries.FEATURES), batches, envelopes, order)
    outcomes = _outcomes(reader.rows(queries.QUALITY), batches, order)
    equipment = _equipment(reader.rows(queries.EQUIPMENT))
    sensors = _sensors(reader.rows(queries.SENSORS))
    result = {
        "process": process, "sites": order, "statistics": list(statistics),
        "sponsors_in_scope": sorted(scope.sponsors),
        "batches": {site: batches[site] for site in order},
        "parameters": parameters, "outcomes": outcomes,
        "envelopes": [e for site in order for e in envelopes.get(site, [])],
        "equipment": {site: equipment.get(site, []) for site in order},
        "sensors": {site: sensors.get(site, {}) for site in order},
    }
    result["differences"] = differences(result)
    return result


def _batches(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = found.setdefault(row["site"], {"site_iri": row["siteIri"], "batches": [],
                                               "batch_ids": [], "scale_l": [],
                                               "processes": []})
        if row["batch"] in entry["batches"]:
            continue
        entry["batches"].append(row["batch"])
        entry["batch_ids"].append(row.get("batchId"))
        entry["scale_l"].append(row.get("scale"))
        if row["process"] not in entry["processes"]:
            entry["processes"].append(row["process"])
    for entry in found.values():
        entry["count"] = len(entry["batches"])
    return found


def _envelopes(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = merged.setdefault(row["envelope"], {
            "site": row["site"], "envelope": row["envelope"], "tag": row["tag"],
            "parameter": row.get("parameter"), "k": row.get("k"),
            "reference_batch_count": row.get("referenceCount"), "reference_batches": []})
        if row.get("reference") and row["reference"] not in entry["reference_batches"]:
            entry["reference_batches"].append(row["reference"])
    by_site: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in sorted(merged.values(), key=lambda e: (e["site"], e["envelope"])):
        entry["reference_batches"].sort()
        by_site[entry["site"]].append(entry)
    return by_site


def _parameters(rows: list[dict[str, Any]], batches: dict[str, dict[str, Any]],
                envelopes: dict[str, list[dict[str, Any]]],
                order: list[str]) -> list[dict[str, Any]]:
    values: dict[tuple[str, str, str], dict[str, dict[str, float]]] = defaultdict(
        lambda: defaultdict(dict))
    units: dict[tuple[str, str, str], str] = {}
    for row in rows:
        key = (row["parameter"], row["phase"], row["statistic"])
        values[key][row["site"]][row["batch"]] = float(row["value"])
        if row.get("unit"):
            units[key] = row["unit"]
    out = []
    for key in sorted(values):
        parameter, phase, statistic = key
        per_site = {}
        for site in order:
            by_batch = values[key].get(site, {})
            ordered = [b for b in batches[site]["batches"] if b in by_batch]
            per_site[site] = {
                "batches": ordered, "values": [by_batch[b] for b in ordered],
                "summary": summary([by_batch[b] for b in ordered]),
                "envelope": _band(envelopes.get(site, []), parameter, by_batch)}
        groups = [s["values"] for s in per_site.values()]
        out.append({"parameter": parameter, "phase": phase, "statistic": statistic,
                    "unit": units.get(key), "separation": separation(groups),
                    "constant_within_sites": constant_within_groups(groups),
                    "sites": per_site})
    # Constant within each site but different between sites first (a recipe difference),
    # then by separation.
    out.sort(key=lambda p: (not p["constant_within_sites"], p["separation"] is None,
                            -(p["separation"] or 0.0), p["parameter"], p["phase"],
                            p["statistic"]))
    return out


def _band(envelopes: list[dict[str, Any]], parameter: str,
          by_batch: dict[str, float]) -> dict[str, Any] | None:
    """mean +/- k SD of the feature over the envelope's reference batches (None if < 2)."""
    for envelope in envelopes:
        if envelope["parameter"] != parameter:
            continue
        reference = [by_batch[b] for b in envelope["reference_batches"] if b in by_batch]
        stats = summary(reference)
        k = envelope.get("k")
        if stats["n"] < 2 or k is None or stats["sd"] is None:
            return {"envelope": envelope["envelope"], "k": k, "reference_values": len(reference),
                    "low": None, "centre": stats["mean"], "high": None}
        centre, sd = float(stats["mean"]), float(stats["sd"])
        return {"envelope": envelope["envelope"], "k": k, "reference_values": len(reference),
                "low": centre - k * sd, "centre": centre, "high": centre + k * sd}
    return None


def _canonical_limits(row: dict[str, Any]) -> tuple[float | None, float | None, str | None]:
    """The row's limits in the canonical unit, or a reason they cannot be converted."""
    low, high = row.get("specLow"), row.get("specHigh")
    if low is None and high is None:
        return None, None, None
    multiplier, offset = row.get("multiplier"), row.get("offset") or 0.0
    if multiplier is None:
        if row.get("unit") is not None and row.get("unit") == row.get("alignedUnit"):
            multiplier = 1.0
        else:
            return None, None, (f"limits are in the site's unit {row.get('unit')} and the "
                                "site's alignment has no conversion for them")
    convert = [None if v is None else multiplier * v + offset for v in (low, high)]
    if multiplier < 0:
        convert.reverse()
    return convert[0], convert[1], None


def _outcomes(rows: list[dict[str, Any]], batches: dict[str, dict[str, Any]],
              order: list[str]) -> list[dict[str, Any]]:
    grouped: dict[str, dict[str, dict[str, dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(dict))
    for row in rows:
        if row.get("parameter") is None or row.get("aligned") is None:
            continue  # site-local attribute: no common unit to compare in
        grouped[row["parameter"]][row["site"]][row["batch"]] = row
    out = []
    for parameter in sorted(grouped):
        per_site = {}
        unit = None
        for site in order:
            by_batch = grouped[parameter].get(site, {})
            ordered = [b for b in batches[site]["batches"] if b in by_batch]
            results = [by_batch[b] for b in ordered]
            values = [float(r["aligned"]) for r in results]
            unit = unit or next((r.get("alignedUnit") for r in results), None)
            limits = Counter()
            problems = set()
            for r in results:
                low, high, problem = _canonical_limits(r)
                if problem:
                    problems.add(problem)
                elif low is not None or high is not None:
                    limits[(low, high)] += 1
            if limits:
                (low, high), _ = limits.most_common(1)[0]
                capability = cpk(values, low, high).as_dict()
                if len(limits) > 1:
                    capability["note"] += (f"; limits differ between batches ({len(limits)} "
                                           "sets), the most common is used")
            else:
                low = high = None
                capability = {"cpk": None,
                              "note": "; ".join(sorted(problems)) if problems else "no spec"}
            per_site[site] = {
                "batches": ordered, "values": values,
                "results": [r["result"] for r in results],
                "attributes": sorted({r["attribute"] for r in results}),
                "summary": summary(values), "spec_low": low, "spec_high": high,
                "capability": capability}
        out.append({"parameter": parameter, "unit": unit, "sites": per_site,
                    "separation": separation([s["values"] for s in per_site.values()])})
    return out


def _equipment(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        entry = merged.setdefault((row["site"], row["equipment"]), {
            "equipment": row["equipment"], "unit_operations": [], "properties": {}})
        kind = row.get("unitOperationKind")
        if kind and kind not in entry["unit_operations"]:
            entry["unit_operations"].append(kind)
        if row.get("property") is not None:
            entry["properties"][_local(row["property"])] = row["value"]
    by_site: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (site, _), entry in sorted(merged.items()):
        by_site[site].append(entry)
    return by_site


def _sensors(rows: list[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        kinds = found[row["site"]][row["parameter"]]
        if row["kind"] not in kinds:
            kinds.append(row["kind"])
    return {site: dict(params) for site, params in found.items()}


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def differences(comparison: dict[str, Any]) -> list[str]:
    """The gaps between the sites, in words a tech-transfer team can check."""
    sites = comparison["sites"]
    notes = []
    scales = {s: sorted({v for v in comparison["batches"][s]["scale_l"] if v is not None})
              for s in sites}
    if len({tuple(v) for v in scales.values()}) > 1:
        notes.append("scale (L): " + "; ".join(f"{s} {', '.join(_fmt(v) for v in scales[s])}"
                                               for s in sites))
    props: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for site in sites:
        for item in comparison["equipment"][site]:
            for name, value in item["properties"].items():
                if name != "equipmentId":
                    props[name][site].add(_fmt(value))
    for name in sorted(props):
        known = props[name]
        if len(known) < len(sites):
            notes.append(f"equipment {name}: known for {', '.join(s for s in sites if s in known)}"
                         f" only")
        elif len({tuple(sorted(v)) for v in known.values()}) > 1:
            notes.append(f"equipment {name}: " + "; ".join(
                f"{s} {', '.join(sorted(known[s]))}" for s in sites))
    sensors = comparison["sensors"]
    for parameter in sorted({p for s in sites for p in sensors[s]}):
        how = {s: sorted(sensors[s].get(parameter, [])) for s in sites}
        if len({tuple(v) for v in how.values()}) > 1:
            notes.append(f"measurement of {_local(parameter)}: " + "; ".join(
                f"{s} {'/'.join(how[s]) or 'not measured'}" for s in sites))
    constant: dict[tuple[str, str, str], list[str]] = {}
    separated = []
    for item in comparison["parameters"]:
        means = "; ".join(f"{s} {_fmt(item['sites'][s]['summary']['mean'])}"
                          for s in sites if item["sites"][s]["summary"]["n"])
        unit = f" {item['unit']}" if item["unit"] else ""
        if item["constant_within_sites"]:  # one line per parameter and per-site values
            constant.setdefault((_local(item["parameter"]), item["statistic"],
                                 f"{means}{unit}"), []).append(item["phase"])
        elif item["separation"] is not None and item["separation"] >= NOTABLE_SEPARATION:
            separated.append(f"{_local(item['parameter'])} {item['statistic']} in "
                             f"{item['phase']}: {item['separation']:.1f} pooled SDs apart "
                             f"({means}{unit})")
    notes += [f"{name} {stat} in {', '.join(phases)}: constant within each site, different "
              f"between sites ({values})" for (name, stat, values), phases in constant.items()]
    notes += separated
    for item in comparison["outcomes"]:
        parts = []
        for s in sites:
            site = item["sites"][s]
            if site["summary"]["n"]:
                cap = site["capability"]
                parts.append(f"{s} mean {_fmt(site['summary']['mean'])}, Cpk "
                             f"{_fmt(cap['cpk']) if cap['cpk'] is not None else cap['note']}")
        notes.append(f"outcome {_local(item['parameter'])} ({item['unit']}): "
                     + "; ".join(parts))
    return notes
