"""Named questions bind their parameters as checked literals: no SPARQL injection."""

from __future__ import annotations

import pytest

from bioprocess.errors import NotFoundError, ValidationError
from federation.questions.catalogue import question, questions


def test_catalogue_lists_the_questions_with_title_and_parameters() -> None:
    our = questions()["our_titre"]
    assert our.title.startswith("Oxygen-uptake deviations with reduced titre")
    assert [p.name for p in our.parameters] == ["reduction", "setpoint_tolerance"]
    assert "$" not in our.bind().split("SELECT", 1)[1]


def test_parameters_are_bound_as_numbers_only() -> None:
    bound = question("our_titre").bind({"reduction": "0.25"})
    assert "(1 - 0.25) * ?referenceTitre" in bound
    with pytest.raises(ValidationError, match="must be a number; got '0.1\\) \\|\\| true"):
        question("our_titre").bind({"reduction": "0.1) || true || (1"})
    with pytest.raises(ValidationError, match="has no parameter"):
        question("our_titre").bind({"site": "SITE-A"})
    with pytest.raises(NotFoundError, match="no question named 'drop_all'"):
        question("drop_all")
