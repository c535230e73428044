"""Tasks: what a model learns to predict and how it is measured (`conf/task/`: classification, regression,
language_model).

A task of your own subclasses `Task` (loss, metrics, baselines, figures) and is chosen with `task._target_`.
"""

from sweepwise.tasks.classification import Classification
from sweepwise.tasks.language_model import LanguageModel
from sweepwise.tasks.regression import Regression
from sweepwise.tasks.task import Baseline, Task

__all__ = ["Baseline", "Classification", "LanguageModel", "Regression", "Task"]
