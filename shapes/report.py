"""Validation results in plain words: which node, which property, what was found, what was expected.

:func:`violations_from_report` reads a pyshacl report graph and turns every ``sh:ValidationResult``
into a :class:`Violation` whose :meth:`Violation.sentence` reads like

    Deviation event <https://w3id.org/twinfed/site/SITE-A/batch/B-1/event/3> has no phase
    (tf:inPhase): expected exactly 1 value, found 0.

The words come from the shapes themselves: the ``sh:name`` of the node shape with the same
target says what the focus node is ("deviation event"), the property shape's ``sh:name`` names
the property ("phase"), and the constraint's parameters say what was expected; the data says
what was found (how many values, which types).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, SH, XSD
from rdflib.term import Node

from ontology import PREFIXES

__all__ = ["ValidationReport", "Violation", "term_text", "violations_from_report"]

_SEVERITY_ORDER = {"Violation": 0, "Warning": 1, "Info": 2}
_LOCAL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
#: Bounds at or beyond these are "the value must be a finite number".
_FINITE_BOUND = 1e308
#: How a shape picks its focus nodes; a property shape sharing one with a node shape belongs to it.
_TARGETS = (SH.targetClass, SH.targetNode, SH.targetObjectsOf, SH.targetSubjectsOf)
#: Components whose result only repeats a wrong datatype or node kind on the same value.
_FOLLOW_ON = frozenset(
    {"MinInclusive", "MinExclusive", "MaxInclusive", "MaxExclusive", "Pattern", "MinLength"}
)


def term_text(term: Node | None) -> str:
    """A term as a reader sees it: prefixed name where a shared prefix fits, else ``<iri>``."""
    if term is None:
        return "nothing"
    if isinstance(term, URIRef):
        iri = str(term)
        for prefix, namespace in PREFIXES.items():
            local = iri[len(namespace) :]
            if iri.startswith(namespace) and _LOCAL_NAME.match(local) and not local.endswith("."):
                return f"{prefix}:{local}"
        return f"<{iri}>"
    if isinstance(term, BNode):
        return "a blank node"
    if isinstance(term, Literal):
        if term.datatype is None or term.datatype == XSD.string:
            text = f'"{term}"'
            return f"{text}@{term.language}" if term.language else text
        return str(term)
    return str(term)


def _typed_text(term: Node | None) -> str:
    """A term with what kind of thing it is, for "wrong datatype / kind" sentences."""
    if isinstance(term, Literal):
        if term.language:
            return f'"{term}"@{term.language} (a language-tagged string)'
        datatype = term.datatype or XSD.string
        lexical = f'"{term}"' if datatype == XSD.string else str(term)
        return f"{lexical} ({term_text(datatype)})"
    if isinstance(term, URIRef):
        return f"{term_text(term)} (an IRI)"
    return term_text(term)


def _a(words: str) -> str:
    """``words`` with its indefinite article: "a phase", "an envelope", "an SPE"."""
    first = words.split(" ", 1)[0]
    if first.isupper() and len(first) > 1:
        vowel_sound = first[0] in "AEFHILMNORSX"
    else:
        vowel_sound = first[:1].lower() in "aeiou"
    return f"{'an' if vowel_sound else 'a'} {words}"


def _values(count: int) -> str:
    return f"{count} value" if count == 1 else f"{count} values"


@dataclass(frozen=True)
class Violation:
    """One failed constraint, with the parts of its plain-English sentence.

    ``focus_node``, ``path``, ``value``, ``message``, ``severity`` and ``shape`` are what pyshacl
    reported (``message`` is its own wording; ``severity`` is ``"Violation"``, ``"Warning"`` or
    ``"Info"``). ``subject``, ``problem``, ``expected`` and ``found`` are the plain-English parts
    :meth:`sentence` joins.
    """

    focus_node: Node
    path: Node | None
    value: Node | None
    message: str
    severity: str
    shape: Node
    component: str = ""
    subject: str = "resource"
    problem: str = "does not satisfy its shape"
    expected: str = ""
    found: str = ""

    def sentence(self) -> str:
        """Which node, which property, what was found, what was expected; one line."""
        subject = self.subject[:1].upper() + self.subject[1:]
        text = f"{subject} {term_text(self.focus_node)} {self.problem}"
        if self.path is not None:
            text += f" ({term_text(self.path)})"
        if self.expected:
            text += f": expected {self.expected}, found {self.found}."
        else:
            text += f": {self.message}."
        return text if self.severity == "Violation" else f"{self.severity}: {text}"


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating data against a set of shapes.

    ``conforms`` is False when any result has severity Violation (warnings and infos are listed
    but do not fail the data); ``text`` holds one sentence per result, in ``violations`` order.
    """

    conforms: bool
    violations: list[Violation]
    text: str
    shapes_name: str = "site-export"

    def __str__(self) -> str:
        counts = {severity: 0 for severity in _SEVERITY_ORDER}
        for violation in self.violations:
            counts[violation.severity] = counts.get(violation.severity, 0) + 1
        verdict = "conforms to" if self.conforms else "does not conform to"
        summary = f"The data {verdict} the {self.shapes_name} shapes"
        if not self.violations:
            return summary + "."
        parts = [_plural(counts[s], s.lower()) for s in _SEVERITY_ORDER if counts[s]]
        return f"{summary}: {', '.join(parts)}.\n{self.text}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# ---------------------------------------------------------------------------------------------
# From a pyshacl report graph to Violations
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """What a sentence builder can look at: the result, its shape and the data."""

    shapes: Graph
    data: Graph
    focus: Node
    path: Node | None
    value: Node | None
    shape: Node
    name: str
    severity: str = "Violation"

    def param(self, predicate: URIRef) -> Node | None:
        return self.shapes.value(self.shape, predicate)

    def count(self) -> int:
        return len(_objects(self.data, self.focus, self.path))

    def types_of(self, node: Node | None) -> list[Node]:
        if node is None:
            return []
        return sorted(_objects(self.data, node, RDF.type), key=str)

    def sibling_name(self, path: Node) -> str:
        """The sh:name of the property shape for ``path`` on the same kind of focus node."""
        siblings = set()
        for parent in self.shapes.subjects(SH.property, self.shape):
            siblings |= set(self.shapes.objects(parent, SH.property))
        for target in _TARGETS:
            for value in self.shapes.objects(self.shape, target):
                siblings |= set(self.shapes.subjects(target, value))
        for sibling in sorted(siblings, key=str):
            if self.shapes.value(sibling, SH.path) == path:
                name = self.shapes.value(sibling, SH.name)
                if name is not None:
                    return str(name)
        return term_text(path)


def _objects(data: Graph, subject: Node, predicate: Node | None) -> set[Node]:
    if not isinstance(predicate, URIRef):
        return set()
    if isinstance(data, Dataset):
        return {o for _, _, o, _ in data.quads((subject, predicate, None, None))}
    return set(data.objects(subject, predicate))


#: A builder returns (problem, expected, found) for one constraint component.
_Parts = tuple[str, str, str]
_Builder = Callable[[_Context], _Parts]


def _min_count(ctx: _Context) -> _Parts:
    minimum, maximum = int(ctx.param(SH.minCount)), ctx.param(SH.maxCount)
    found = ctx.count()
    if maximum is not None and int(maximum) == minimum:
        expected = f"exactly {_values(minimum)}"
    else:
        expected = f"at least {_values(minimum)}"
    problem = f"has no {ctx.name}" if found == 0 else f"has too few {ctx.name} values"
    return problem, expected, str(found)


def _max_count(ctx: _Context) -> _Parts:
    maximum, minimum = int(ctx.param(SH.maxCount)), ctx.param(SH.minCount)
    found = ctx.count()
    if minimum is not None and int(minimum) == maximum:
        expected = f"exactly {_values(maximum)}"
    else:
        expected = f"at most {_values(maximum)}"
    problem = f"has more than one {ctx.name}" if maximum == 1 else f"has too many {ctx.name} values"
    return problem, expected, str(found)


def _datatype(ctx: _Context) -> _Parts:
    datatype = ctx.param(SH.datatype)
    return (
        f"has {_a(ctx.name)} of the wrong datatype",
        f"a literal of type {term_text(datatype)}",
        _typed_text(ctx.value),
    )


_NODE_KINDS = {
    SH.IRI: "an IRI",
    SH.Literal: "a literal",
    SH.BlankNode: "a blank node",
    SH.BlankNodeOrIRI: "an IRI or a blank node",
    SH.BlankNodeOrLiteral: "a literal or a blank node",
    SH.IRIOrLiteral: "an IRI or a literal",
}


def _node_kind(ctx: _Context) -> _Parts:
    expected = _NODE_KINDS.get(ctx.param(SH.nodeKind), term_text(ctx.param(SH.nodeKind)))
    if ctx.path is None:
        return "is the wrong kind of node", expected, _typed_text(ctx.value)
    return f"has {_a(ctx.name)} of the wrong kind", expected, _typed_text(ctx.value)


def _in(ctx: _Context) -> _Parts:
    allowed = Collection(ctx.shapes, ctx.param(SH["in"]))
    choices = ", ".join(term_text(item) for item in allowed)
    allowed_or_known = "allowed" if ctx.severity == "Violation" else "known"
    problem = f"has {_a(ctx.name)} outside the {allowed_or_known} values"
    return problem, f"one of {choices}", term_text(ctx.value)


def _class(ctx: _Context) -> _Parts:
    cls = term_text(ctx.param(SH["class"]))
    types = ctx.types_of(ctx.value)
    if ctx.path is None:
        found = "types " + ", ".join(term_text(t) for t in types) if types else "no type"
        return f"is not typed {cls}", f"a resource also typed {cls}", found
    if types:
        found = f"{term_text(ctx.value)}, typed " + ", ".join(term_text(t) for t in types)
    else:
        found = f"{term_text(ctx.value)}, which has no type in the data"
    return f"has {_a(ctx.name)} that is not {_a(cls)}", f"a resource typed {cls}", found


def _bound(predicate: URIRef, words: str) -> _Builder:
    def build(ctx: _Context) -> _Parts:
        bound = ctx.param(predicate)
        number = bound.toPython() if isinstance(bound, Literal) else None
        if isinstance(number, float) and math.isfinite(number) and abs(number) >= _FINITE_BOUND:
            expected = "a finite number (not NaN or infinite)"
        else:
            expected = f"a value {words} {term_text(bound)}"
        return f"has {_a(ctx.name)} out of range", expected, term_text(ctx.value)

    return build


def _pattern(ctx: _Context) -> _Parts:
    pattern = ctx.param(SH.pattern)
    problem = f"has {_a(ctx.name)} in the wrong format"
    return problem, f"text matching {pattern}", term_text(ctx.value)


def _min_length(ctx: _Context) -> _Parts:
    length = int(ctx.param(SH.minLength))
    chars = "1 character" if length == 1 else f"{length} characters"
    empty = str(ctx.value) == ""
    problem = f"has an empty {ctx.name}" if empty else f"has {_a(ctx.name)} that is too short"
    return problem, f"at least {chars}", term_text(ctx.value)


def _compare(predicate: URIRef, relation: str, words: str) -> _Builder:
    def build(ctx: _Context) -> _Parts:
        other = ctx.param(predicate)
        others = sorted(_objects(ctx.data, ctx.focus, other), key=str)
        limit = ", ".join(term_text(o) for o in others) or "nothing"
        other_name = ctx.sibling_name(other) if other is not None else "other value"
        return (
            f"has {_a(ctx.name)} {relation} its {other_name}",
            f"a value {words} {limit} ({term_text(other)})",
            term_text(ctx.value),
        )

    return build


def _disjoint(ctx: _Context) -> _Parts:
    other = ctx.param(SH.disjoint)
    other_name = ctx.sibling_name(other) if other is not None else "other value"
    return (
        f"has {_a(ctx.name)} that is also its {other_name}",
        f"a value different from its {other_name} ({term_text(other)})",
        term_text(ctx.value),
    )


def _or(ctx: _Context) -> _Parts:
    options = []
    for member in Collection(ctx.shapes, ctx.param(SH["or"])):
        if (datatype := ctx.shapes.value(member, SH.datatype)) is not None:
            options.append(f"a literal of type {term_text(datatype)}")
        elif (cls := ctx.shapes.value(member, SH["class"])) is not None:
            options.append(f"a resource typed {term_text(cls)}")
        elif (kind := ctx.shapes.value(member, SH.nodeKind)) is not None:
            options.append(_NODE_KINDS.get(kind, term_text(kind)))
    return f"has {_a(ctx.name)} of the wrong kind", " or ".join(options), _typed_text(ctx.value)


_BUILDERS: dict[str, _Builder] = {
    "MinCount": _min_count,
    "MaxCount": _max_count,
    "Datatype": _datatype,
    "NodeKind": _node_kind,
    "In": _in,
    "Class": _class,
    "MinInclusive": _bound(SH.minInclusive, "of at least"),
    "MinExclusive": _bound(SH.minExclusive, "greater than"),
    "MaxInclusive": _bound(SH.maxInclusive, "of at most"),
    "MaxExclusive": _bound(SH.maxExclusive, "less than"),
    "Pattern": _pattern,
    "MinLength": _min_length,
    "LessThanOrEquals": _compare(SH.lessThanOrEquals, "greater than", "of at most"),
    "LessThan": _compare(SH.lessThan, "not less than", "less than"),
    "Disjoint": _disjoint,
    "Or": _or,
}


def _subject(shapes: Graph, shape: Node) -> str:
    """What the focus node is: the sh:name of the node shape that owns or shares ``shape``'s target.

    A property shape belongs to a node shape either by ``sh:property`` or, as in this package's
    shapes, by carrying the same target (sh:targetClass, ...) as a top-level property shape.
    """
    if shapes.value(shape, SH.path) is None and (name := shapes.value(shape, SH.name)) is not None:
        return str(name)
    owners = set(shapes.subjects(SH.property, shape))
    for target in _TARGETS:
        for value in shapes.objects(shape, target):
            sharing = shapes.subjects(target, value)
            owners |= {s for s in sharing if shapes.value(s, SH.path) is None}
    for owner in sorted(owners, key=str):
        if (name := shapes.value(owner, SH.name)) is not None:
            return str(name)
    return "resource"


def _local(term: Node | None) -> str:
    text = str(term or "")
    return text.rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def _violation(report: Graph, result: Node, shapes: Graph, data: Graph) -> Violation:
    focus = report.value(result, SH.focusNode)
    path = report.value(result, SH.resultPath)
    value = report.value(result, SH.value)
    shape = report.value(result, SH.sourceShape)
    message = str(report.value(result, SH.resultMessage) or "")
    severity = _local(report.value(result, SH.resultSeverity)) or "Violation"
    component = _local(report.value(result, SH.sourceConstraintComponent))
    component = component.removesuffix("ConstraintComponent")
    is_property_shape = shapes.value(shape, SH.path) is not None
    name = shapes.value(shape, SH.name) if is_property_shape else None
    ctx = _Context(shapes, data, focus, path, value, shape, str(name or term_text(path)), severity)
    builder = _BUILDERS.get(component)
    if builder is None:
        described = shapes.value(shape, SH.description)
        problem = f"does not satisfy the {component or 'shape'} constraint"
        expected, found = (str(described), message) if described is not None else ("", "")
    else:
        problem, expected, found = builder(ctx)
    return Violation(
        focus_node=focus,
        path=path,
        value=value,
        message=message,
        severity=severity,
        shape=shape,
        component=component,
        subject=_subject(shapes, shape),
        problem=problem,
        expected=expected,
        found=found,
    )


def _sort_key(violation: Violation) -> tuple[int, str, str, str, str]:
    return (
        _SEVERITY_ORDER.get(violation.severity, 9),
        str(violation.focus_node),
        str(violation.path),
        violation.component,
        str(violation.value),
    )


def violations_from_report(report: Graph, shapes: Graph, data: Graph) -> list[Violation]:
    """Every result of a pyshacl report graph as a :class:`Violation`, most severe first.

    A range, pattern or length result on a value that already has the wrong datatype or node
    kind is left out: "expected an xsd:double" says it all about ``"large"``.
    """
    results: Iterable[Node] = report.subjects(RDF.type, SH.ValidationResult)
    violations = [_violation(report, r, shapes, data) for r in results]
    wrong_kind = {
        (v.focus_node, v.path, v.value)
        for v in violations
        if v.component in {"Datatype", "NodeKind"}
    }
    kept = [
        v
        for v in violations
        if not (v.component in _FOLLOW_ON and (v.focus_node, v.path, v.value) in wrong_kind)
    ]
    return sorted(kept, key=_sort_key)
