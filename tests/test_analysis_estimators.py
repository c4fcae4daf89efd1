"""The envelope and the batch-evolution model follow scikit-learn's estimator conventions.

They take a list of batches (not a feature matrix), so the full ``parametrize_with_checks``
suite, which feeds tabular arrays, does not apply. The checks below are the ones that do
not assume tabular input: default construction, no work or attributes in ``__init__``,
``get_params``/``set_params``/``clone``, ``repr``, tags, mixin order and declared
parameter validation; plus fitted-state checks, idempotent fits and pickling.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils import estimator_checks as checks
from sklearn.utils._param_validation import InvalidParameterError

from bioprocess.analysis import (
    AnalysisNotFittedError,
    BatchEvolutionModel,
    BatchTrajectories,
    ReferenceEnvelope,
    recipe_phases,
)
from bioprocess.analysis.synthetic import SyntheticProcess, make_batches
from bioprocess.errors import NotFittedError, TwinfedError

ESTIMATORS = [ReferenceEnvelope(), BatchEvolutionModel()]
CHECKS = [
    checks.check_parameters_default_constructible,
    checks.check_no_attributes_set_in_init,
    checks.check_do_not_raise_errors_in_init_or_set_params,
    checks.check_get_params_invariance,
    checks.check_set_params,
    checks.check_estimator_cloneable,
    checks.check_estimator_repr,
    checks.check_estimator_tags_renamed,
    checks.check_valid_tag_types,
    checks.check_mixin_order,
    checks.check_param_validation,
]


@pytest.fixture(scope="module")
def batches() -> list[BatchTrajectories]:
    return make_batches(SyntheticProcess(n_online=3, n_offline=0, seed=5), 8, seed=6)


def _fit(estimator: BaseEstimator, batches: list[BatchTrajectories]) -> BaseEstimator:
    if isinstance(estimator, ReferenceEnvelope):
        return estimator.fit(batches, "online_0")
    return estimator.fit(batches)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_scikit_learn_conventions(
    estimator: BaseEstimator, check: Callable[[str, BaseEstimator], None]
) -> None:
    check(type(estimator).__name__, clone(estimator))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_use_before_fit_raises_not_fitted_in_both_hierarchies(
    estimator: BaseEstimator, batches: list[BatchTrajectories]
) -> None:
    fresh = clone(estimator)
    with pytest.raises(AnalysisNotFittedError, match="must be fitted before use") as caught:
        fresh.summary()
    assert isinstance(caught.value, NotFittedError | TwinfedError)
    assert isinstance(caught.value, SklearnNotFittedError)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_fit_returns_self_is_idempotent_and_pickles(
    estimator: BaseEstimator, batches: list[BatchTrajectories]
) -> None:
    first = clone(estimator)
    assert _fit(first, batches) is first
    second = _fit(clone(estimator), batches)
    restored = pickle.loads(pickle.dumps(first))
    a, b, c = first.summary(), second.summary(), restored.summary()
    for name in ("mean", "upper", "t2_limit_99", "spe_limit_99"):
        if hasattr(a, name):
            np.testing.assert_allclose(getattr(a, name), getattr(b, name))
            np.testing.assert_allclose(getattr(a, name), getattr(c, name))
    assert not hasattr(clone(first), "pca_") and not hasattr(clone(first), "mean_")


def test_set_params_changes_the_fitted_band(batches: list[BatchTrajectories]) -> None:
    narrow = ReferenceEnvelope().set_params(k=1.0).fit(batches, "online_1")
    wide = ReferenceEnvelope(k=3.0).fit(batches, "online_1")
    np.testing.assert_allclose(wide.upper_ - wide.mean_, 3 * (narrow.upper_ - narrow.mean_))
    band = wide.band(batches[0].series["online_1"][0], recipe_phases(batches[0]))
    assert np.isfinite(band.center).all()


def test_invalid_parameters_are_refused_in_the_declared_form(
    batches: list[BatchTrajectories],
) -> None:
    with pytest.raises(InvalidParameterError, match="'k' parameter of ReferenceEnvelope must"):
        ReferenceEnvelope(k=-1.0).fit(batches, "online_0")
    with pytest.raises(InvalidParameterError, match="'spe_limit_method' parameter"):
        BatchEvolutionModel(spe_limit_method="magic").fit(batches)
