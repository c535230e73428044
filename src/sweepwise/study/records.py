"""The names under which a sweep records itself, in one place: Optuna user attributes of the study and its trials,
and the MLflow tags of its runs. Whatever writes or reads a sweep's records uses these names."""

# --- study user attributes ---
PARENT_RUN_ATTR = "mlflow_parent_run_id"  # the sweep's MLflow parent run
PARENT_RUNS_ATTR = "mlflow_parent_run_ids"  # every parent run the study has had, one per MLflow store it used
SWEEP_DIR_ATTR = "sweep_dir"  # a study's folder of trial folders (multirun/<study>)
DEFINITION_ATTR = "definition"  # what the study sweeps (search space, overrides, sampler, ...), see sweep.definition
SWEPT_BY_ATTR = "swept_by"  # {host, pid, started, beat} of the process sweeping the study now, see sweep.study_claim
PREFLIGHT_ATTR = "preflight"  # {fingerprint, status, when} of the last preflight that did not fail, see sweep.preflight
# {trial number: the params a changed search space no longer holds} of interrupted work that is never continued
LEFT_INTERRUPTED_ATTR = "interrupted_left"

# --- trial user attributes ---
RUN_ID_ATTR = "mlflow_run_id"  # the trial's MLflow run, recorded by the process that created it
FAIL_REASON_ATTR = "fail_reason"
PRUNE_REASON_ATTR = "prune_reason"
INTERRUPTED_ATTR = "interrupted"  # True: the trial failed through no fault of its own (a stopped sweep, a lost server)
JOB_ID_ATTR = "job_id"  # the id of the trial's latest job outside the orchestrator (a SLURM job id)
RAN_ATTR = "ran"  # [start, end] of the trial's job, as Unix times
OVERRIDES_ATTR = "overrides"  # the Hydra overrides the trial ran with
ATTEMPTS_ATTR = "attempts"  # how many times the trial's job was started (with retries)
# the interrupted trial this one continues: same params, same folder (so its last checkpoint), same MLflow run
CONTINUES_ATTR = "continues"
# under a schedule: the rung (asha, 0: the first) or generation (pbt, 1: the first) at which the trial paused. It
# ended PRUNED, its work kept; a later trial continues it (`continues`) once the schedule says so
PAUSED_ATTR = "paused_at_rung"
RUNG_ATTR = "rung"  # under the asha schedule: the highest rung the trial's work has reached (-1: none)
# under a schedule: the trial's checkpoint folder (written by its process), where paused work goes on from and which
# an exploiting pbt member copies
CHECKPOINTS_ATTR = "checkpoints"
# under pbt: the generation a continuation trains (2: the second interval), and each generation's decision (on the
# study, as `pbt_generation_<g>`: every member's params, parent and copied checkpoint)
PBT_GENERATION_ATTR = "pbt_generation"
PBT_PARENT_ATTR = "pbt_parent"  # the member whose checkpoint this member copied as it went on (exploit)
PBT_CHECKPOINT_ATTR = "pbt_checkpoint"  # what it copied: the parent's trial, step, folder and each file's sha256
PBT_LINEAGE = (PBT_GENERATION_ATTR, PBT_PARENT_ATTR, PBT_CHECKPOINT_ATTR)  # what a generation's trials all carry

# --- MLflow tags ---
ROLE_TAG = "sweepwise.role"  # "sweep" on a parent run
STUDY_TAG = "sweepwise.study"
TRIAL_NUMBER_TAG = "sweepwise.trial_number"
CONTINUED_AS_TAG = "sweepwise.continued_as"  # on a run whose work a later trial continued: that trial's number
# on a run made for a trial whose recorded run this store lacks (one of another store, or deleted): that run's id
RECORDED_RUN_TAG = "sweepwise.recorded_run_id"
TRIAL_STATE_TAG = "sweepwise.trial_state"
FAIL_REASON_TAG = "sweepwise.fail_reason"
PRUNE_REASON_TAG = "sweepwise.prune_reason"
# on a parent run: the trial whose model is logged there, and the model's URI (a re-run logs it once only)
MODEL_TRIAL_TAG = "sweepwise.model_trial"
MODEL_URI_TAG = "sweepwise.model_uri"
MODEL_ERROR_TAG = "sweepwise.model_error"
