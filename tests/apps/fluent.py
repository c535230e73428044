"""A task that logs through MLflow's own fluent API, as much existing training code does: `mlflow.log_param`
without a run of its own (MLflow starts one); with `behaviour=trial_run`, into the trial's run, as the README shows."""

import hydra
import mlflow
from omegaconf import DictConfig

import sweepwise


@hydra.main(version_base="1.3", config_path="conf", config_name="toy")
def fluent(cfg: DictConfig) -> float:
    if cfg.behaviour == "trial_run":
        with mlflow.start_run(run_id=sweepwise.current_trial().run_id):
            mlflow.log_metric("my/x", cfg.x)
    else:
        mlflow.log_param("my_x", cfg.x)
    return float(cfg.x) ** 2


if __name__ == "__main__":
    fluent()
