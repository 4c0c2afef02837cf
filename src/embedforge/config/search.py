"""The ``search:`` section of a recipe: what ``embedforge tune`` varies and which metric it optimizes.

Example::

    search:
      metric: sts-dev_spearman_cosine      # a metric of the recipe's ``after`` evaluators
      direction: maximize
      space:                               # recipe keys (as in key=value overrides) -> their range
        training.learning_rate: {type: float, low: 1.0e-5, high: 2.0e-4, log: true}
        training.per_device_train_batch_size: {type: categorical, choices: [16, 32]}
        training.warmup_steps: {type: float, low: 0.0, high: 0.2}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PARAMETER_TYPES", "ParameterSpec", "SearchSpec", "search_problems"]

PARAMETER_TYPES = ("float", "int", "categorical")
"""Search distributions: optuna's ``suggest_float``, ``suggest_int`` and ``suggest_categorical``."""


@dataclass
class ParameterSpec:
    """The range of one tuned recipe key.

    Attributes:
        type: ``float``, ``int`` or ``categorical``.
        low: Lower bound (``float``/``int``), inclusive.
        high: Upper bound (``float``/``int``), inclusive.
        log: Sample on a log scale (positive bounds only).
        step: Grid step (``float``/``int``), or None.
        choices: The values of a ``categorical`` parameter.
    """

    type: str = "float"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None

    def suggest(self, trial: Any, name: str) -> Any:
        """Draw this parameter's value for an optuna ``trial``."""
        if self.type == "categorical":
            return trial.suggest_categorical(name, list(self.choices or []))
        if self.type == "int":
            step = int(self.step) if self.step else 1
            return trial.suggest_int(name, int(self.low or 0), int(self.high or 0), step=step, log=self.log)
        return trial.suggest_float(name, float(self.low or 0.0), float(self.high or 0.0), step=self.step, log=self.log)


@dataclass
class SearchSpec:
    """What ``embedforge tune`` searches.

    Attributes:
        metric: The objective: a metric key of the ``after`` evaluation (as in the run report, e.g.
            ``sts-dev_spearman_cosine``).
        direction: ``maximize`` or ``minimize``.
        space: Recipe key (dotted, as in ``key=value`` overrides) → its range.
        seed: Seed of optuna's TPE sampler (default: the recipe's ``training.seed``).
    """

    metric: str = ""
    direction: str = "maximize"
    space: dict[str, ParameterSpec] = field(default_factory=dict)
    seed: int | None = None


def search_problems(spec: SearchSpec | None) -> list[str]:
    """What is wrong with a recipe's ``search`` section for ``embedforge tune`` (empty when it can run)."""
    if spec is None:
        return [
            "the recipe has no 'search' section; add one with 'metric' (an 'after' evaluator metric), 'direction' "
            "and 'space' (recipe key -> {type, low, high} or {type: categorical, choices})"
        ]
    problems = []
    if not spec.metric:
        problems.append("search.metric is empty; name a metric of the 'after' evaluators, e.g. sts-dev_spearman_cosine")
    if spec.direction not in ("maximize", "minimize"):
        problems.append(f"search.direction must be 'maximize' or 'minimize', found {spec.direction!r}")
    if not spec.space:
        problems.append("search.space is empty; give at least one recipe key, e.g. training.learning_rate")
    for key, parameter in spec.space.items():
        problems += [f"search.space.{key}: {problem}" for problem in _parameter_problems(parameter)]
    return problems


def _parameter_problems(parameter: ParameterSpec) -> list[str]:
    if parameter.type not in PARAMETER_TYPES:
        return [f"type must be one of {list(PARAMETER_TYPES)}, found {parameter.type!r}"]
    if parameter.type == "categorical":
        return [] if parameter.choices else ["a categorical parameter needs a non-empty 'choices' list"]
    if parameter.low is None or parameter.high is None:
        return [f"a {parameter.type} parameter needs 'low' and 'high'"]
    problems = []
    if parameter.low > parameter.high:
        problems.append(f"low ({parameter.low}) is above high ({parameter.high})")
    if parameter.log and parameter.low <= 0:
        problems.append(f"log scale needs a positive 'low', found {parameter.low}")
    if parameter.log and parameter.step:
        problems.append("'log' and 'step' cannot be combined (optuna refuses it); drop one")
    return problems
