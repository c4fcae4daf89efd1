"""The mechanistic twin's forecast of final titre, as one input of the early-yield model.

For each batch and cut-off, the live twin (``bioprocess.live``: an ensemble Kalman filter over
the kinetic model) follows the batch's own records up to the cut-off and forecasts its final
titre, starting from a *site prior* (clone and batch-to-batch spread) learned from finished
batches. Which batches teach the prior is the whole point, and it is the same in production
and in validation (:class:`TwinForecaster`, a ``bioprocess.models.yield_prediction.Forecaster``):

- asked for ``train`` and ``predict`` batches, it learns from ``train`` only;
- a batch to predict (a running batch, or a held-out batch in validation) gets the prior of
  all of ``train``;
- a training batch gets the prior of ``train`` without its own block (``train`` cut into
  :data:`INNER_FOLDS` contiguous blocks): its forecast is out-of-sample like a running
  batch's, and forecasts of one block are followed together (one filter per block).

Each teacher's parameter estimates come from one wide-prior filter over the ``train`` batches
(``site_prior``'s first step; columns never mix data), so a prior of any subset is the mean
and spread of its members' estimates. The twin reads the site's data through its reviewed
alignment (``site_node.live.reader``); a site or batch the twin cannot read gets no forecast
and the yield model stays data-driven for it (a missing forecast is imputed, never invented).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from neo4j import Driver

from bioprocess.errors import TwinfedError
from bioprocess.kinetics import KineticParameters
from bioprocess.live.ensemble import ESTIMATED_PARAMETERS, EnsembleTwin, FilterSettings
from bioprocess.live.replay import HybridTwin, follow
from site_node.live.reader import SiteBatch, batch_process, read_process_batches
from site_node.live.vocabulary import site_vocabulary, to_canonical

#: The forecast's name in the yield model (its drivers and card say this in words).
FORECAST_NAME = "mechanistic twin forecast"
#: Members of each filter. The forecast's *mean* is what the yield model uses; with 24
#: members its Monte-Carlo noise alone cost ~1 point of accuracy at 50 % (twin forecast alone,
#: seeds 1-3: 94.7 % with 24 members, 95.9 % with 64; ~2.5x the time).
MEMBERS = 64
MIN_TEACHERS = 3
#: Blocks of the training batches for their own (out-of-block) forecasts.
INNER_FOLDS = 5
#: As ``bioprocess.live.replay.site_prior``: the wide prior the teachers are filtered from,
#: and the floor of the learned spread (log scale).
WIDE_LOG_SD, FLOOR_LOG_SD = 0.3, 0.08
#: A wider floor for the causes of a fault (:data:`FAULT_CAUSES`): they sit at 1 in most teachers
#: and far from it in the few with that fault, so the teachers' spread understates how far a
#: batch can be, and a prior that narrow let the filter reach an overflow culture only after
#: the 50 % cut-off. Chosen on seeds 40-48 (docs/architecture.md, early yield).
FAULT_CAUSE_FLOOR_LOG_SD = 0.25
#: What the filter estimates per batch: the live twin's parameters plus two causes of a
#: glucose deficit that decide a batch's end: overflow metabolism (hyper-metabolic culture:
#: glucose uptake up, lactate held in production, productivity down) and the share of the
#: commanded feed actually delivered (a pump delivering short starves glutamine and amino
#: acids too). Apart, the twin read a short feed as overflow; without overflow it
#: over-forecast hyper-metabolic batches by 14-44 % at 50 % (docs/architecture.md). The
#: feed delivered is how the batch departed from its recipe so far: it corrects the states,
#: and the forecast runs the recipe as commanded (``past_only``), as every twin forecast does.
FAULT_CAUSES = ("overflow", "feed_delivery")
PARAMETERS = (*ESTIMATED_PARAMETERS, *FAULT_CAUSES)
PAST_ONLY = ("feed_delivery",)

Forecasts = dict[str, dict[float, dict[str, float]]]


def _blocks(ids: Sequence[str], k: int) -> list[list[str]]:
    """``ids`` (time order) cut into ``min(k, len(ids))`` contiguous blocks."""
    return [list(part) for part in np.array_split(np.asarray(ids, dtype=object),
                                                  min(k, len(ids))) if len(part)]


class TwinForecaster:
    """Final-titre forecasts of the twin at ``fractions``, divided by ``factor`` (canonical
    g/L -> the attribute's unit); results are memoised per (teachers, prior, batches)."""

    def __init__(self, batches: Sequence[SiteBatch], fractions: Sequence[float], *,
                 factor: float = 1.0, members: int = MEMBERS) -> None:
        self.batches = {b.batch_id: b for b in batches}
        self.fractions = sorted(fractions)
        self.factor = factor
        self.settings = FilterSettings(n_members=members, dt_h=1.0, parameters=PARAMETERS,
                                       past_only=PAST_ONLY)
        self._estimates: dict[tuple[str, ...], dict[str, np.ndarray]] = {}
        self._followed: dict[tuple, dict[str, dict[float, float]]] = {}
        #: why some forecasts could not be made (the batches concerned stay data-driven)
        self.problems: list[str] = []

    def _teachers(self, train: Sequence[str]) -> tuple[str, ...]:
        return tuple(i for i in train if (b := self.batches.get(i)) is not None
                     and b.status == "complete" and b.final_titre is not None)

    def _log_estimates(self, teachers: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Each teacher's end-of-batch log-parameter estimates from the wide prior."""
        if teachers not in self._estimates:
            wide = replace(self.settings, prior_log_sd=WIDE_LOG_SD)
            ens = EnsembleTwin([self.batches[i].observations for i in teachers],
                               KineticParameters(), wide)
            ens.advance(float(ens.recipe.duration_h))
            self._estimates[teachers] = {
                i: np.log([ens.parameter_summary(b)[n]["estimate"]
                           for n in self.settings.parameters]) for b, i in enumerate(teachers)}
        return self._estimates[teachers]

    def _prior(self, logs: np.ndarray) -> HybridTwin:
        names = self.settings.parameters
        centre = KineticParameters().with_values(
            **{n: float(np.exp(logs[:, j].mean())) for j, n in enumerate(names)})
        spread = logs.std(axis=0, ddof=1)
        floor = {n: FAULT_CAUSE_FLOOR_LOG_SD if n in FAULT_CAUSES else FLOOR_LOG_SD
                 for n in names}
        sd = {n: float(max(spread[j], floor[n])) for j, n in enumerate(names)}
        return HybridTwin(centre, replace(self.settings, prior_log_sd=sd), None, None)

    def _follow(self, teachers: tuple[str, ...], prior_ids: tuple[str, ...],
                targets: tuple[str, ...]) -> dict[str, dict[float, float]]:
        key = (teachers, prior_ids, targets)
        if key not in self._followed:
            estimates = self._log_estimates(teachers)
            twin = self._prior(np.array([estimates[i] for i in prior_ids]))
            updates = follow([self.batches[i].observations for i in targets], twin,
                             self.fractions)
            self._followed[key] = {i: {f: float(u.hybrid.mechanistic) / self.factor
                                       for f, u in zip(self.fractions, us, strict=True)}
                                   for i, us in updates.items()}
        return self._followed[key]

    def __call__(self, train: Sequence[str], predict: Sequence[str]) -> Forecasts:
        teachers = self._teachers(train)
        groups = [(tuple(t for t in teachers if t not in block), tuple(block))
                  for block in _blocks(list(train), INNER_FOLDS)]
        groups.append((teachers, tuple(predict)))
        out: Forecasts = {}
        for prior_ids, wanted in groups:
            targets = tuple(i for i in wanted if i in self.batches)
            if len(prior_ids) < MIN_TEACHERS or not targets:
                continue
            try:
                made = self._follow(teachers, prior_ids, targets)
            except TwinfedError as exc:
                self.problems.append(f"{', '.join(targets)}: {exc}")
                continue
            for i, by in made.items():
                out[i] = {f: {FORECAST_NAME: v} for f, v in by.items()}
        return out


def site_twin_forecaster(driver: Driver, batch_ids: Sequence[str], attribute: str,
                         unit: str, fractions: Sequence[float],
                         database: str | None = None) -> tuple[TwinForecaster | None, str | None]:
    """A forecaster of ``attribute`` (in ``unit``) over the stored batches, or
    ``(None, reason)`` when the twin cannot read this site's process or the attribute is not
    its titre."""
    try:
        site, process, version = batch_process(driver, batch_ids[0], database)
        vocabulary = site_vocabulary(site)
        if attribute not in set(vocabulary.attributes_for("titre")):
            return None, (f"'{attribute}' is not aligned to the shared titre parameter at "
                          f"{site}; the mechanistic twin forecasts titre only")
        factor = float(to_canonical("titre", unit, f"quality attribute {attribute}")(1.0))
        wanted = set(batch_ids)
        batches = [b for b in read_process_batches(driver, site, process, version, database)
                   if b.batch_id in wanted]
    except TwinfedError as exc:
        return None, f"the mechanistic twin cannot follow this site's batches: {exc}"
    return TwinForecaster(batches, fractions, factor=factor), None
