"""Errors raised by the analysis core, in the project's hierarchy and scikit-learn's.

Each class also derives from the built-in or scikit-learn exception a scientific Python user
expects (``ValueError``, :class:`sklearn.exceptions.NotFittedError`), so both
``except TwinfedError`` at a service boundary and ``except ValueError`` in a notebook work.
Messages follow the project's form: what must hold; what was found instead.
"""

from __future__ import annotations

from typing import Any

from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.validation import check_is_fitted

from bioprocess.errors import NotFittedError, ValidationError


class InvalidTrajectoryError(ValidationError, ValueError):
    """Batch trajectories or phase spans that break the input model."""


class InsufficientReferenceError(ValidationError, ValueError):
    """Too few reference batches (or tags, or variables) to build a reference model."""


class AnalysisNotFittedError(NotFittedError, SklearnNotFittedError):
    """An estimator was used before ``fit``."""


def ensure_fitted(estimator: Any) -> None:
    """Raise :class:`AnalysisNotFittedError` unless ``estimator`` has been fitted.

    Wraps :func:`sklearn.utils.validation.check_is_fitted` (learned attributes end in ``_``).
    """
    try:
        check_is_fitted(estimator)
    except SklearnNotFittedError as error:
        raise AnalysisNotFittedError(
            f"{type(estimator).__name__} must be fitted before use; "
            "got an unfitted instance instead (call fit first)"
        ) from error
