"""The MLflow UI's first view of a sweep: its trials' runs, best first, with the objective and the searched params
as columns. MLflow's UI (3.15 on) restores a shared view from an experiment tag that a link names by its
`viewStateShareKey`; a bare experiment link opens the GenAI overview instead, and the runs table would show none
of the params or metrics among its hundreds of columns."""

import json
from collections.abc import Sequence

SHARED_VIEW_TAG = "mlflow.sharedViewState."  # MLflow's UI: the experiment tag a shared view's key names
LOCAL_UI = "http://127.0.0.1:5000/"  # where `make ui` and `mlflow ui` serve by default


def objective_names(count: int) -> list[str]:
    """A trial's objective metrics: `objective` for one objective, `objective/0`, `objective/1`, ... for several."""
    return ["objective"] if count == 1 else [f"objective/{index}" for index in range(count)]


def view_key(parent_run_id: str) -> str:
    return f"sweepwise-{parent_run_id}"


def trials_view(parent_run_id: str, objectives: Sequence[str], minimize: bool, params: Sequence[str]) -> str:
    """The view's state as the UI stores a shared one: the sweep's child runs, best first, with their objective
    metrics and searched params as columns."""
    state = {
        "searchFilter": f"tags.`mlflow.parentRunId` = '{parent_run_id}'",
        "orderByKey": f"metrics.`{objectives[0]}`",
        "orderByAsc": minimize,
        "selectedColumns": [f"metrics.`{name}`" for name in objectives] + [f"params.`{name}`" for name in params],
    }
    return json.dumps(state)


def view_link(experiment_id: str, parent_run_id: str) -> str:
    """The view's address within the UI (after its host)."""
    return f"#/experiments/{experiment_id}/runs?viewStateShareKey={view_key(parent_run_id)}"
