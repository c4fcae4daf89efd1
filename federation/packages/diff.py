"""What changed between two versions of a knowledge package (same or different transfer).

Both archives are verified first (a tampered one is refused, naming its part). Then:
ranges by (parameter, phase) — added, removed, changed limits, classification or batch
count; equipment comparisons by aspect — gap opened or closed, values changed; risks by
title — new, resolved, severity changed; what-if scenarios by name — predicted titre
changed; and for every part, whether its bytes changed and its statement counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Dataset, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS

from bioprocess.errors import ValidationError
from ontology import TF
from protocol.package import PackageArchive, PackageArchiveError, read_archive

TFP = "https://w3id.org/twinfed/parameter/"


@dataclass
class PackageDiff:
    old: str
    new: str
    same_transfer: bool
    parts: list[tuple[str, str]] = field(default_factory=list)  # (part, what changed)
    ranges: list[str] = field(default_factory=list)
    equipment: list[str] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)
    whatif: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        return not (self.parts or self.ranges or self.equipment or self.risks or self.whatif)

    def render(self) -> str:
        lines = [f"package diff: {self.old} -> {self.new}"]
        if not self.same_transfer:
            lines.append("note: the two packages are for different transfers")
        if self.unchanged:
            lines.append("no change")
        for title, items in (("parts", [f"{p}: {w}" for p, w in self.parts]),
                             ("proven acceptable ranges", self.ranges),
                             ("equipment comparison", self.equipment), ("risks", self.risks),
                             ("what-if", self.whatif)):
            if items:
                lines.append(f"{title}:")
                lines.extend(f"  {item}" for item in items)
        return "\n".join(lines)


def _dataset(archive: PackageArchive) -> Dataset:
    dataset = Dataset(default_union=True)
    for text in archive.rdf_parts().values():
        if text.strip():
            dataset.parse(data=text, format="trig")
    return dataset


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, Literal) else None


def _ranges(ds: Dataset) -> dict[tuple[str, str], dict[str, object]]:
    out = {}
    for node in ds.subjects(RDF.type, TF.TransferredParameter):
        parameter = str(ds.value(node, TF.parameter)).removeprefix(TFP)
        phase = str(ds.value(node, TF.phaseLabel))
        out[(parameter, phase)] = {
            "lower": _num(ds.value(node, TF.lowerLimit)),
            "upper": _num(ds.value(node, TF.upperLimit)),
            "class": str(ds.value(node, TF.classification)),
            "batches": len(set(ds.objects(node, URIRef("http://www.w3.org/ns/prov#"
                                                       "wasDerivedFrom")))),
            "unit": str(ds.value(node, TF.alignedUnit) or ""),
        }
    return out


def _by_label(ds: Dataset, kind: URIRef, key: URIRef) -> dict[str, URIRef]:
    return {str(ds.value(n, key)): n for n in ds.subjects(RDF.type, kind)}


def diff_archives(old: PackageArchive, new: PackageArchive) -> PackageDiff:
    result = PackageDiff(old=f"{old.manifest.package} (built {old.manifest.built_at})",
                         new=f"{new.manifest.package} (built {new.manifest.built_at})",
                         same_transfer=old.manifest.transfer == new.manifest.transfer)
    old_parts = {p.name: p for p in old.manifest.parts}
    new_parts = {p.name: p for p in new.manifest.parts}
    for name in sorted(set(old_parts) | set(new_parts)):
        a, b = old_parts.get(name), new_parts.get(name)
        if a is None or b is None:
            result.parts.append((name, "added" if a is None else "removed"))
        elif name != "report" and a.sha256 != b.sha256 and (a.statements != b.statements):
            result.parts.append((name, f"{a.statements} -> {b.statements} statements"))
        elif (a.empty_reason is None) != (b.empty_reason is None):
            result.parts.append((name, "now empty: " + str(b.empty_reason)
                                 if b.empty_reason else "no longer empty"))
    a_ds, b_ds = _dataset(old), _dataset(new)
    a_ranges, b_ranges = _ranges(a_ds), _ranges(b_ds)
    for key in sorted(set(a_ranges) | set(b_ranges)):
        label = f"{key[0]} in {key[1]}"
        a, b = a_ranges.get(key), b_ranges.get(key)
        if a is None:
            result.ranges.append(f"+ {label}: {b['lower']:.4g} – {b['upper']:.4g} {b['unit']} "
                                 f"[{b['class']}]")
        elif b is None:
            result.ranges.append(f"- {label}: was {a['lower']:.4g} – {a['upper']:.4g} "
                                 f"{a['unit']} [{a['class']}]")
        else:
            changes = []
            if a["lower"] != b["lower"] or a["upper"] != b["upper"]:
                changes.append(f"range {a['lower']:.4g} – {a['upper']:.4g} -> "
                               f"{b['lower']:.4g} – {b['upper']:.4g} {b['unit']}")
            if a["class"] != b["class"]:
                changes.append(f"classification {a['class']} -> {b['class']}")
            if a["batches"] != b["batches"]:
                changes.append(f"batches {a['batches']} -> {b['batches']}")
            if changes:
                result.ranges.append(f"~ {label}: " + "; ".join(changes))
    a_eq = _by_label(a_ds, TF.EquipmentComparison, TF.aspect)
    b_eq = _by_label(b_ds, TF.EquipmentComparison, TF.aspect)
    for aspect in sorted(set(a_eq) | set(b_eq)):
        if aspect not in a_eq or aspect not in b_eq:
            result.equipment.append(f"{'+' if aspect in b_eq else '-'} {aspect}")
            continue
        x, y = a_eq[aspect], b_eq[aspect]
        gap_a, gap_b = a_ds.value(x, TF.gap).toPython(), b_ds.value(y, TF.gap).toPython()
        if gap_a != gap_b:
            result.equipment.append(f"~ {aspect}: gap {'opened' if gap_b else 'closed'} "
                                    f"({b_ds.value(y, DCTERMS.description)})")
        for prop, side in ((TF.sendingValue, "S"), (TF.receivingValue, "R")):
            if a_ds.value(x, prop) != b_ds.value(y, prop):
                result.equipment.append(f"~ {aspect} ({side}): {a_ds.value(x, prop)} -> "
                                        f"{b_ds.value(y, prop)}")
    a_risk = _by_label(a_ds, TF.TransferRisk, RDFS.label)
    b_risk = _by_label(b_ds, TF.TransferRisk, RDFS.label)
    for title in sorted(set(a_risk) | set(b_risk)):
        if title not in a_risk:
            result.risks.append(f"+ {title} [{b_ds.value(b_risk[title], TF.severity)}]")
        elif title not in b_risk:
            result.risks.append(f"- {title} (no longer raised)")
        else:
            sa = a_ds.value(a_risk[title], TF.severity)
            sb = b_ds.value(b_risk[title], TF.severity)
            if sa != sb:
                result.risks.append(f"~ {title}: severity {sa} -> {sb}")
    a_w = _by_label(a_ds, TF.WhatIfScenario, RDFS.label)
    b_w = _by_label(b_ds, TF.WhatIfScenario, RDFS.label)
    for name in sorted(set(a_w) | set(b_w)):
        if name not in a_w or name not in b_w:
            result.whatif.append(f"{'+' if name in b_w else '-'} {name}")
            continue
        ta = _num(a_ds.value(a_w[name], TF.predictedTitre))
        tb = _num(b_ds.value(b_w[name], TF.predictedTitre))
        if ta is not None and tb is not None and abs(ta - tb) > 1e-9:
            result.whatif.append(f"~ {name}: predicted titre {ta:.3g} -> {tb:.3g} g/L")
    return result


def verified_archive(source: bytes | Path) -> PackageArchive:
    """A verified archive, or a :class:`ValidationError` naming the part that failed."""
    try:
        return read_archive(source)
    except PackageArchiveError as exc:
        raise ValidationError(str(exc)) from None


def diff_files(old: Path, new: Path) -> PackageDiff:
    """Verify and compare two package files."""
    return diff_archives(verified_archive(old), verified_archive(new))
