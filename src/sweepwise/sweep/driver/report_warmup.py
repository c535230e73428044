"""The end-of-sweep report's imports, made while the trials run: matplotlib, Optuna's plots and (for the
importances) scikit-learn, which Optuna's importance module loads, cost a small sweep's end two to three seconds;
the best model's export (torch, TorchDynamo and `torch.export`, in a process that has not trained) four more."""

import contextlib
import importlib
import threading

# Optuna's importances (PED-ANOVA) set the best 10 % of the trials against the rest and need two in that group:
# from fewer trials the plot is noise (and it costs the import of scikit-learn, ~1 s per sweep)
MIN_TRIALS_FOR_IMPORTANCE = 20
MODEL_EXPORT = ["sweepwise.sweep.driver.best_model", "torch.export._trace"]


def warm_up_report(n_trials: int, logs_model: bool) -> None:
    """Import what the report needs in a background thread: the importances' modules only where the sweep can
    reach enough trials for them, the model's export only where the sweep logs its best model. A failed import is
    left for the report itself to raise, in its own words."""
    modules = ["sweepwise.sweep.driver.study_plots"]
    modules += ["optuna.importance"] if n_trials >= MIN_TRIALS_FOR_IMPORTANCE else []
    modules += MODEL_EXPORT if logs_model else []
    threading.Thread(target=_import_all, args=(modules,), name="sweepwise-report-imports", daemon=True).start()


def _import_all(modules: list[str]) -> None:
    with contextlib.suppress(Exception):
        for module in modules:
            importlib.import_module(module)
