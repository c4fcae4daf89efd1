"""Text and distribution similarity used to suggest mappings (no I/O, no graphs).

Text: a site term (tag name, description, failure-mode code, deviation text) and a shared
concept (preferred and alternative labels, definition) are compared as sets of normalised
words. Names are split at punctuation, case changes and digits (``BR5_TT101_SP`` -> ``br``,
``tt``, ``set``, ``point``), short symbols are also kept whole (``pCO2``, ``NH4``); plurals
are folded; the usual instrument suffixes are read as words (``SP`` set point;
``OUT``/``CV``/``MV``/``OP`` controller output; ``PV`` dropped) and a few plant synonyms are
folded (``sensor`` -> ``probe``, ``temp`` -> ``temperature``, ...).

Distribution: the values of a site tag (converted to the candidate's canonical unit) and the
aligned values of the candidate parameter are compared per phase by the distance of their
medians in units of their spread (with a floor of 5 % of the level), mapped to (0, 1] by a
Gaussian kernel.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

_STOP = frozenset({"the", "of", "a", "an", "and", "or", "to", "in", "on", "at", "for", "by",
                   "with", "from", "per", "as", "is", "be", "not", "no", "than", "its"})
_EXPAND: Mapping[str, tuple[str, ...]] = {
    "sp": ("set", "point"),
    "setpoint": ("set", "point"),
    "out": ("controller", "output"),
    "cv": ("controller", "output"),
    "mv": ("controller", "output"),
    "op": ("controller", "output"),
    "pv": (),
    "temp": ("temperature",),
    "sensor": ("probe",),
    "agitator": ("agitation",),
    "stirrer": ("agitation",),
    "agit": ("agitation",),
    "titer": ("titre",),
    "added": ("addition",),
    "blocked": ("fouling",),
}
_SPLIT = re.compile(r"[^0-9A-Za-z]+")
_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def words(*texts: str | None) -> frozenset[str]:
    """Normalised content words of ``texts`` (see the module docstring)."""
    found: set[str] = set()
    for text in texts:
        for chunk in _SPLIT.split(text or ""):
            parts = _PARTS.findall(chunk)
            if len(parts) > 1 and len(chunk) <= 5:
                parts.append(chunk)  # pH, pCO2, NH4, O2: keep the symbol whole as well
            for part in parts:
                word = part.lower()
                if word.isdigit() or len(word) < 2 or word in _STOP:
                    continue
                if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
                    word = word[:-1]
                found.update(_EXPAND.get(word, (word,)))
    return frozenset(found)


@dataclass(frozen=True)
class TextMatch:
    """How well a site term's words match a shared concept's labels and definition."""

    score: float
    matched_label: str
    label_coverage: float
    definition_overlap: float

    def reason(self) -> str:
        """A few words saying why the score is what it is."""
        if self.label_coverage >= 1.0:
            return f"name matches {self.matched_label!r}"
        if self.label_coverage >= 0.5:
            return f"name partly matches {self.matched_label!r}"
        if self.label_coverage > 0:
            return f"name shares a word with {self.matched_label!r}"
        if self.definition_overlap > 0:
            return "name shares words with the definition"
        return "no words in common"


def text_match(query: frozenset[str], labels: Sequence[str], definition: str) -> TextMatch:
    """Label coverage (share of a label's words found in ``query``, best label) weighted 0.8,
    plus the share of ``query`` words found in the definition, weighted 0.2."""
    best, best_label = 0.0, ""
    for label in labels:
        label_words = words(label)
        if not label_words:
            continue
        coverage = len(label_words & query) / len(label_words)
        if coverage > best:
            best, best_label = coverage, label
    overlap = len(query & words(definition)) / len(query) if query else 0.0
    return TextMatch(0.8 * best + 0.2 * overlap, best_label, best, overlap)


@dataclass(frozen=True)
class DistributionMatch:
    """Similarity of two samples, and the numbers behind it."""

    similarity: float
    candidate_median: float
    reference_median: float
    phases: int
    candidate_n: int
    reference_n: int


def _spread(values: Sequence[float]) -> float:
    return statistics.pstdev(values) if len(values) > 1 else 0.0


def distribution_match(
    candidate: Mapping[str, Sequence[float]], reference: Mapping[str, Sequence[float]]
) -> DistributionMatch | None:
    """Compare values grouped by phase name; pool them when no phase name is shared.

    None when either side has no values.
    """
    common = sorted(set(candidate) & set(reference))
    if common:
        pairs = [(list(candidate[p]), list(reference[p])) for p in common]
    else:
        pooled_x = [v for values in candidate.values() for v in values]
        pooled_y = [v for values in reference.values() for v in values]
        pairs = [(pooled_x, pooled_y)]
    pairs = [(x, y) for x, y in pairs if x and y]
    if not pairs:
        return None
    similarities = []
    for x, y in pairs:
        mx, my = statistics.median(x), statistics.median(y)
        scale = max(_spread(x), _spread(y), 0.05 * max(abs(mx), abs(my)), 1e-12)
        z = abs(mx - my) / scale
        similarities.append(math.exp(-0.5 * z * z))
    all_x = [v for x, _ in pairs for v in x]
    all_y = [v for _, y in pairs for v in y]
    return DistributionMatch(
        similarity=sum(similarities) / len(similarities),
        candidate_median=statistics.median(all_x),
        reference_median=statistics.median(all_y),
        phases=len(pairs),
        candidate_n=len(all_x),
        reference_n=len(all_y),
    )


def combine(parts: Iterable[tuple[float, float | None]]) -> float:
    """Weighted mean of the scores that are known (weight, score or None)."""
    known = [(w, s) for w, s in parts if s is not None]
    total = sum(w for w, _ in known)
    return sum(w * s for w, s in known) / total if total else 0.0
