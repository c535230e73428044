"""Sweeps on a real SLURM cluster (`make slurm-up`): GPU jobs, preemption and requeue, cancelled jobs, a killed
orchestrator, plain multiruns and bad launcher settings."""

import signal
import subprocess
from pathlib import Path

import pytest
from helpers import REPO, TINY, mlflow_client, run_script, run_train
from reliability import record
from slurm_helpers import accounting, job_ids_of, start, wait_for
from sweep_helpers import TOY, load_study, run_toy, states, study_so_far, sweep_runs

pytestmark = pytest.mark.slow
ON_SLURM = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.poll_interval_s=2"]
# small trainings; the preflight runs in the sweep's own process, the same on any launcher, and has tests of its own
TRAINING = [*TINY, "recipe.preflight=off"]
SWEEP_ON_GPUS = ["-m", "sweeps=random_lr_wd", *TRAINING, *ON_SLURM, "hydra.launcher.gpus_per_node=1"]


def test_sweep_runs_every_trial_as_a_gpu_job_with_its_own_gpu(slurm, tmp_path: Path):
    args = ["-m", "sweeps=random_lr_wd", *TRAINING, *ON_SLURM, "hydra.sweeper.n_trials=6", "hydra.sweeper.n_jobs=3"]
    done = run_train([*args, "hydra.launcher.gpus_per_node=1"], tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    study = load_study(tmp_path, "random_lr_wd")
    assert states(study) == {"COMPLETE": 6}
    job_of = {trial.number: trial.user_attrs["job_id"] for trial in study.trials}
    assert len(set(job_of.values())) == 6 and f"as SLURM job {job_of[0]}" in done.stdout
    assert set(accounting(list(job_of.values())).values()) == {"COMPLETED"}
    names = accounting(list(job_of.values()), "JobName")
    assert {names[job_of[number]] for number in job_of} == {f"random_lr_wd-trial-{number}" for number in job_of}
    parents, children = sweep_runs(tmp_path, "sweepwise")
    assert len(parents) == 1 and len(children) == 6
    client = mlflow_client(tmp_path)
    gpu_of, ran = {}, {trial.number: trial.user_attrs["ran"] for trial in study.trials}
    for child in children:
        tags = child.data.tags
        number = int(tags["sweepwise.trial_number"])
        assert tags["mlflow.parentRunId"] == parents[0].info.run_id and child.info.status == "FINISHED"
        assert tags["sweepwise.slurm.job_id"] == job_of[number] and tags["sweepwise.slurm.node"]
        assert tags["sweepwise.device"] == "cpu"  # the cluster's GPUs are fake: torch falls back to the CPU
        gpu_of[number] = tags["sweepwise.cuda_visible_devices"]
        artifacts = {artifact.path for artifact in client.list_artifacts(child.info.run_id)}
        assert f"{job_of[number]}_0_log.out" in artifacts and "trial.log" in artifacts
    overlapping = [(a, b) for a in ran for b in ran if a < b and ran[a][0] < ran[b][1] and ran[b][0] < ran[a][1]]
    assert overlapping, ran  # three slots: some trials ran at the same time
    assert all(gpu_of[a] != gpu_of[b] for a, b in overlapping), (gpu_of, overlapping)
    assert set(gpu_of.values()) <= {"0", "1", "2", "3"}


@pytest.mark.reliability
def test_preempted_trial_resumes_from_its_checkpoint_in_the_same_run(slurm, tmp_path: Path):
    args = ["-m", "sweeps=random_lr_wd", *TRAINING, *ON_SLURM, "hydra.sweeper.n_trials=1", "trainer.epochs=40"]
    sweep = start(REPO / "train.py", [*args, "hydra/sweeper/pruner=none"], tmp_path)
    trial_folder = tmp_path / "multirun" / "random_lr_wd" / "0"
    wait_for(lambda: (trial_folder / "checkpoints" / "last.pt").exists(), 180, "the trial's first checkpoint")
    (job_id,) = job_ids_of(trial_folder)
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
    assert sweep.wait(timeout=600) == 0, (tmp_path / "orchestrator.log").read_text()[-3000:]
    (trial,) = load_study(tmp_path, "random_lr_wd").trials
    assert trial.state.name == "COMPLETE" and sorted(trial.intermediate_values) == list(range(1, 41))
    _, children = sweep_runs(tmp_path, "sweepwise")
    (child,) = children
    tags = child.data.tags
    assert child.info.status == "FINISHED" and tags["sweepwise.trial_state"] == "COMPLETE"
    attempts = "".join(path.read_text() for path in sorted((trial_folder / "slurm").glob("*_log.*")))
    assert tags["sweepwise.slurm.job_id"] == job_id, attempts
    assert tags.get("sweepwise.slurm.restart_count") == "1", (tags, attempts, accounting([job_id]))
    resumed_from = int(tags["sweepwise.resumed_from_epoch"])
    assert 1 <= resumed_from < 40
    steps = [metric.step for metric in mlflow_client(tmp_path).get_metric_history(child.info.run_id, "val/acc")]
    assert sorted(steps) == list(range(1, 41))  # every epoch once: nothing lost, nothing duplicated
    log = (trial_folder / "trial.log").read_text()
    _, after = log.split(f"resumed from the checkpoint of epoch {resumed_from}\n")
    assert after.startswith(f"epoch {resumed_from + 1}/40 ")  # training continues at the next epoch
    record(
        "fault",
        "SLURM preemption: `scancel --signal=USR2` on a running trial's job",
        f"job {job_id} was requeued (restart count 1) and resumed from its epoch-{resumed_from} checkpoint in the "
        "same MLflow run; the trial ended COMPLETE",
        "nothing: val/acc steps 1..40, each once; 40 reports",
    )


@pytest.mark.reliability
def test_cancelled_job_fails_its_trial_and_the_sweep_goes_on(slurm, tmp_path: Path):
    args = ["-m", *ON_SLURM, "hydra.sweeper.n_trials=4", "hydra.sweeper.max_failure_rate=0.5", "short_sleep=0.5"]
    sweep = start(TOY, [*args, "long_trials=[0]", "long_sleep=600"], tmp_path)
    trial_folder = tmp_path / "multirun" / "toy" / "0"
    (job_id,) = wait_for(lambda: job_ids_of(trial_folder), 120, "trial 0's job")
    subprocess.run(["scancel", job_id], check=True)
    assert sweep.wait(timeout=300) == 0, (tmp_path / "orchestrator.log").read_text()[-3000:]
    trials = load_study(tmp_path, "toy").trials
    assert [trial.state.name for trial in trials] == ["FAIL", "COMPLETE", "COMPLETE", "COMPLETE"]
    assert f"SLURM job {job_id} ended CANCELLED" in trials[0].user_attrs["fail_reason"]
    _, children = sweep_runs(tmp_path, "toy")
    failed = next(child for child in children if child.data.tags["sweepwise.trial_number"] == "0")
    assert failed.info.status == "FAILED" and "CANCELLED" in failed.data.tags["sweepwise.fail_reason"]
    record(
        "fault",
        "a trial's SLURM job cancelled (`scancel`), `retries=0`",
        f"the trial is FAIL (`{trials[0].user_attrs['fail_reason']}`), its run FAILED; the other 3 trials COMPLETE",
        "the cancelled trial only",
    )


@pytest.mark.reliability
def test_job_cancelled_by_the_cluster_is_retried_as_a_new_job(slurm, tmp_path: Path):
    sweep = start(
        TOY, ["-m", *ON_SLURM, "hydra.sweeper.n_trials=1", "hydra.sweeper.retries=1", "behaviour=hang_once"], tmp_path
    )
    trial_folder = tmp_path / "multirun" / "toy" / "0"
    (first_job,) = wait_for(lambda: job_ids_of(trial_folder), 120, "the trial's job")
    wait_for(lambda: (trial_folder / "hung-once").exists(), 120, "the job to start")
    subprocess.run(["scancel", first_job], check=True)
    assert sweep.wait(timeout=300) == 0, (tmp_path / "orchestrator.log").read_text()[-3000:]
    (trial,) = load_study(tmp_path, "toy").trials
    assert trial.state.name == "COMPLETE" and trial.user_attrs["attempts"] == 2
    jobs = job_ids_of(trial_folder)
    assert len(jobs) == 2 and trial.user_attrs["job_id"] != first_job
    assert accounting([first_job])[first_job].startswith("CANCELLED")
    record(
        "fault",
        "a trial's SLURM job cancelled (`scancel`), `retries=1`",
        f"job {first_job} ended CANCELLED; the trial was resubmitted as job {trial.user_attrs['job_id']} and "
        "ended COMPLETE",
        "nothing",
    )


@pytest.mark.reliability
@pytest.mark.parametrize("packing", [[], ["hydra.launcher.trials_per_gpu=3"]], ids=["a job each", "packs of 3"])
def test_sweep_whose_orchestrator_was_killed_adopts_its_running_jobs(slurm, tmp_path: Path, packing: list[str]):
    args = ["-m", *ON_SLURM, "hydra.sweeper.n_trials=6", "hydra.sweeper.n_jobs=3", "short_sleep=8", *packing]
    sweep = start(TOY, args, tmp_path)

    def complete_trials() -> list[int]:
        study = study_so_far(tmp_path, "toy")
        return [t.number for t in study.trials if t.state.name == "COMPLETE"] if study else []

    done_before = wait_for(complete_trials, 180, "a complete trial")
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    left_running = [t for t in load_study(tmp_path, "toy").trials if t.state.name == "RUNNING"]
    assert left_running  # the kill left jobs in the cluster
    # a trial asked just before the kill may have had no job yet: it is failed as interrupted and run again
    jobs_of = {t.number: t.user_attrs["job_id"] for t in left_running if "job_id" in t.user_attrs}
    assert jobs_of  # the kill left jobs in the cluster

    again = run_toy(args, tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    trials = load_study(tmp_path, "toy").trials
    finished = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(finished) == 6 and set(done_before) <= {t.number for t in finished}
    adopted = [number for number, job in jobs_of.items() if f"adopted SLURM job {job}" in again.stdout]
    assert adopted == sorted(jobs_of), again.stdout  # each job still queued or running was watched again
    for number in adopted:  # and its own result made the trial COMPLETE: the same job, not a new one
        assert trials[number].state.name == "COMPLETE" and trials[number].user_attrs["job_id"] == jobs_of[number]
    cluster_jobs = {job.split("_")[0] for job in jobs_of.values()}  # a packed trial's is `<job>_<task>`
    assert set(accounting(sorted(cluster_jobs)).values()) == {"COMPLETED"}  # none cancelled
    _, children = sweep_runs(tmp_path, "toy")
    numbers = [child.data.tags["sweepwise.trial_number"] for child in children]
    # one run per trial, none twice; a trial asked just before the kill goes on in its run as a new trial
    assert sorted(numbers) == sorted(str(t.number) for t in trials if "continues" not in t.user_attrs)
    continued_as = {c.data.tags["sweepwise.trial_number"]: c.data.tags.get("sweepwise.continued_as") for c in children}
    for trial in [t for t in trials if "continues" in t.user_attrs]:
        assert continued_as[str(trial.user_attrs["continues"])] == str(trial.number)
    record(
        "fault",
        f"the orchestrator SIGKILLed while SLURM jobs run (6 trials, 3 at once{', 3 to a job' if packing else ''})",
        f"the re-run adopted the {len(adopted)} jobs still queued or running (none cancelled), watched them to "
        "their end and ended with 6 COMPLETE",
        f"nothing: every trial COMPLETE before the kill ({len(done_before)}) was kept, and no running job's work "
        "was lost; one MLflow run per trial",
    )


def test_a_slurm_trial_runs_under_the_sweeps_own_warning_options(slurm, tmp_path: Path):
    """`python -W error train.py -m ... hydra/launcher=slurm`: a task that warns fails on SLURM as it does in a
    local worker; without the option it completes."""
    strict = ["-m", *ON_SLURM, "hydra.sweeper.n_trials=1", "behaviour=warn"]
    done = run_script(TOY, [*strict, "hydra.sweeper.study_name=strict"], tmp_path, python_flags=["-W", "error"])
    assert done.returncode == 1 and "DeprecationWarning: a deprecated call in the task" in done.stdout
    assert states(load_study(tmp_path, "strict")) == {"FAIL": 1}
    lenient = run_script(TOY, [*strict, "hydra.sweeper.study_name=lenient"], tmp_path)
    assert lenient.returncode == 0, lenient.stderr[-2000:]
    assert states(load_study(tmp_path, "lenient")) == {"COMPLETE": 1}


def test_plain_multirun_runs_each_job_on_slurm(slurm, tmp_path: Path):
    args = ["--config-name", "plain", "-m", *ON_SLURM, "hydra.launcher.gpus_per_node=1", "x=0.1,0.5"]
    done = run_script(TOY, args, tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for num in (0, 1):
        job_folder = tmp_path / "multirun" / "plain" / str(num)
        assert len(job_ids_of(job_folder)) == 1 and (job_folder / ".hydra" / "overrides.yaml").exists()
        submission = next((job_folder / "slurm").glob("*_submission.sh")).read_text()
        assert "#SBATCH --gpus-per-node=1" in submission and "OMP_NUM_THREADS" in submission


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("hydra.launcher.signal_delay_s=600", "hydra.launcher.signal_delay_s"),
        ("hydra.launcher.cpus_per_task=0", "hydra.launcher.cpus_per_task"),
        ("hydra.launcher.partition=no_such_partition", "hydra.launcher.partition='no_such_partition': SLURM would"),
        ("hydra.launcher.tasks_per_node=2", "hydra.launcher.tasks_per_node=2: a trial's processes per node are"),
        ("hydra.launcher.trials_per_gpu=0", "hydra.launcher.trials_per_gpu=0: must be at least 1"),
    ],
)
def test_bad_launcher_settings_stop_the_sweep_before_any_trial(slurm, tmp_path: Path, override: str, named: str):
    done = run_toy(["-m", *ON_SLURM, "hydra.launcher.timeout_min=5", override], tmp_path, timeout=120)
    assert done.returncode != 0
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert named in line
    assert not (tmp_path / "studies").exists() and not (tmp_path / "multirun" / "toy" / "0").exists()


def test_trials_of_more_processes_than_a_node_has_gpus_are_refused_naming_what_the_job_asked(slurm, tmp_path: Path):
    args = ["-m", "sweeps=random_lr_wd", *TRAINING, *ON_SLURM, "hydra.launcher.gpus_per_node=1", "trainer.devices=8"]
    done = run_train(args, tmp_path, timeout=120)
    assert done.returncode != 0
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    assert "SLURM would not run jobs of nodes=1, tasks_per_node=8 (trainer.devices x trials_per_gpu)" in line
    assert "gpus_per_node=8" in line  # raised to the trial's processes
    assert not (tmp_path / "studies").exists() and not (tmp_path / "mlflow.db").exists()


def test_a_sweep_of_two_process_trials_runs_each_trial_as_two_tasks_one_run_and_one_trial(slurm, tmp_path: Path):
    args = [*SWEEP_ON_GPUS, "hydra.sweeper.n_trials=2", "trainer.devices=2"]
    done = run_train(args, tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    study = load_study(tmp_path, "random_lr_wd")
    assert states(study) == {"COMPLETE": 2}
    jobs = sorted({trial.user_attrs["job_id"] for trial in study.trials})
    assert len(jobs) == 2 and set(accounting(jobs).values()) == {"COMPLETED"}  # every task ended cleanly
    parents, children = sweep_runs(tmp_path, "sweepwise")
    assert len(parents) == 1 and len(children) == 2
    for child in children:
        tags = child.data.tags
        assert tags["sweepwise.processes"] == "2" and len(tags["sweepwise.cuda_visible_devices"].split(",")) == 2
        folder = tmp_path / "multirun" / "random_lr_wd" / tags["sweepwise.trial_number"] / "slurm"
        submission = next(folder.glob("*_submission.sh")).read_text()
        assert "#SBATCH --ntasks-per-node=2" in submission and "#SBATCH --gpus-per-node=2" in submission
        assert sorted(path.name.split("_")[1] for path in folder.glob("*_result.pkl")) == ["0", "1"]  # both tasks
        assert not list(folder.glob("*_ranks"))  # the meeting point is gone with the trial


def test_packed_trials_share_a_job_and_its_gpus_and_the_next_pack_starts_when_one_ends(slurm, tmp_path: Path):
    packing = ["hydra.launcher.gpus_per_node=2", "hydra.launcher.trials_per_gpu=2", "hydra.sweeper.n_jobs=4"]
    args = ["-m", "sweeps=random_lr_wd", *TRAINING, *ON_SLURM, "hydra.sweeper.n_trials=6", *packing]
    done = run_train(args, tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    study = load_study(tmp_path, "random_lr_wd")
    assert states(study) == {"COMPLETE": 6}
    place = {trial.number: tuple(trial.user_attrs["job_id"].split("_")) for trial in study.trials}
    first, second = place[0][0], place[4][0]
    expected = [(first, task) for task in "0123"] + [(second, task) for task in "01"]
    assert [place[number] for number in range(6)] == expected
    assert accounting([first, second]) == {first: "COMPLETED", second: "COMPLETED"}
    names = accounting([first, second], "JobName")
    assert names == {first: "random_lr_wd-trials-0+1+2+3", second: "random_lr_wd-trials-4+5"}
    ran = {trial.number: trial.user_attrs["ran"] for trial in study.trials}
    assert min(ran[number][0] for number in (4, 5)) >= max(
        ran[number][1] for number in range(4)
    )  # slots freed together
    _, children = sweep_runs(tmp_path, "sweepwise")
    assert len(children) == 6 and {child.info.status for child in children} == {"FINISHED"}
    client = mlflow_client(tmp_path)
    gpu_of = {}
    for child in children:
        number = int(child.data.tags["sweepwise.trial_number"])
        job, task = place[number]
        gpu_of[number] = child.data.tags["sweepwise.cuda_visible_devices"]
        assert child.data.tags["sweepwise.slurm.job_id"] == job
        assert f"{job}_{task}_log.out" in {artifact.path for artifact in client.list_artifacts(child.info.run_id)}
    assert len(gpu_of[0]) == 1 and gpu_of[0] == gpu_of[1] != gpu_of[2] == gpu_of[3]  # two trials on each GPU
    assert gpu_of[4] == gpu_of[5]
    submission = (tmp_path / "multirun" / "random_lr_wd" / "slurm" / "packs" / f"{first}_submission.sh").read_text()
    assert "#SBATCH --ntasks-per-node=4" in submission and "#SBATCH --gpus-per-node=2" in submission


@pytest.mark.reliability
def test_a_preempted_pack_resumes_each_trial_from_its_checkpoint_in_its_run(slurm, tmp_path: Path):
    packing = ["hydra.launcher.trials_per_gpu=2", "hydra.sweeper.n_jobs=2", "hydra/sweeper/pruner=none"]
    args = ["-m", "sweeps=random_lr_wd", *TRAINING, *ON_SLURM, "hydra.sweeper.n_trials=2", "trainer.epochs=150"]
    sweep = start(REPO / "train.py", [*args, *packing], tmp_path)
    folders = [tmp_path / "multirun" / "random_lr_wd" / str(number) for number in (0, 1)]
    checkpoints = [folder / "checkpoints" / "last.pt" for folder in folders]
    # long enough that neither trial ends in the seconds SLURM grants a requeued job's tasks to stop
    wait_for(lambda: all(path.exists() for path in checkpoints), 180, "both trials' first checkpoints")
    (job_id,) = {
        path.name.split("_")[0]
        for path in (tmp_path / "multirun" / "random_lr_wd" / "slurm" / "packs").glob("*_submitted.pkl")
    }
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
    assert sweep.wait(timeout=600) == 0, (tmp_path / "orchestrator.log").read_text()[-3000:]
    trials = load_study(tmp_path, "random_lr_wd").trials
    assert [trial.state.name for trial in trials] == ["COMPLETE", "COMPLETE"]
    assert all(sorted(trial.intermediate_values) == list(range(1, 151)) for trial in trials)
    _, children = sweep_runs(tmp_path, "sweepwise")
    assert len(children) == 2
    resumed = []
    for child in children:
        tags = child.data.tags
        assert child.info.status == "FINISHED" and tags["sweepwise.slurm.restart_count"] == "1"
        assert tags["sweepwise.slurm.job_id"] == job_id
        steps = [metric.step for metric in mlflow_client(tmp_path).get_metric_history(child.info.run_id, "val/acc")]
        assert sorted(steps) == list(range(1, 151))  # every epoch once, in the run the first start made
        resumed.append(int(tags["sweepwise.resumed_from_epoch"]))
    assert all(1 <= epoch < 150 for epoch in resumed)
    record(
        "fault",
        "SLURM preemption of a pack: `scancel --signal=USR2` on a job running 2 trials (trials_per_gpu=2)",
        f"job {job_id} was requeued once; each trial resumed from its own checkpoint (epochs {sorted(resumed)}) in "
        "its own MLflow run; 2 of 2 COMPLETE",
        "nothing: each trial's val/acc steps 1..150, each once; 150 reports each",
    )


def test_plain_multirun_packs_its_jobs(slurm, tmp_path: Path):
    args = ["--config-name", "plain", "-m", *ON_SLURM, "hydra.launcher.trials_per_gpu=3", "x=0.1,0.2,0.3,0.4"]
    done = run_script(TOY, args, tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    packs = tmp_path / "multirun" / "plain" / "slurm" / "packs"
    jobs = sorted(path.name.split("_")[0] for path in packs.glob("*_submitted.pkl"))
    assert len(jobs) == 2 and sorted(accounting(jobs, "JobName").values()) == ["toy-jobs-0+1+2", "toy-jobs-3"]
    assert all((tmp_path / "multirun" / "plain" / str(num) / ".hydra" / "overrides.yaml").exists() for num in range(4))
    assert "4 jobs: 4 complete, 0 failed" in done.stdout and "up to 3 packed in each SLURM job" in done.stdout


def test_a_trial_on_two_nodes_runs_as_one_job_of_their_processes_with_one_run_and_one_trial(slurm, tmp_path: Path):
    """`pair` is the test cluster's partition of two nodes (two slurmd on this machine)."""
    on_two = ["hydra.launcher.partition=pair", "hydra.launcher.nodes=2", "trainer.devices=2"]
    args = ["-m", "sweeps=random_lr_wd", *TRAINING, *ON_SLURM, "hydra.sweeper.n_trials=1", *on_two]
    done = run_train(args, tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (trial,) = load_study(tmp_path, "random_lr_wd").trials
    assert trial.state.name == "COMPLETE" and sorted(trial.intermediate_values) == [1, 2]
    job_id = trial.user_attrs["job_id"]
    steps = subprocess.run(
        ["sacct", "-n", "-P", "-j", job_id, "-o", "JobID,NodeList,NTasks,State"], capture_output=True, text=True
    ).stdout
    (training,) = [line.split("|") for line in steps.splitlines() if line.startswith(f"{job_id}.0|")]
    assert len(training[1].split(",")) == 2 and training[2:] == ["4", "COMPLETED"]  # 4 processes over 2 nodes
    _, children = sweep_runs(tmp_path, "sweepwise")
    (child,) = children
    assert child.info.status == "FINISHED" and child.data.tags["sweepwise.processes"] == "4"
    folder = tmp_path / "multirun" / "random_lr_wd" / "0" / "slurm"
    submission = next(folder.glob("*_submission.sh")).read_text()
    assert "#SBATCH --nodes=2" in submission and "#SBATCH --ntasks-per-node=2" in submission
    assert sorted(path.name.split("_")[1] for path in folder.glob("*_result.pkl")) == ["0", "1", "2", "3"]
    assert "node=1(2)" in (folder / f"{job_id}_3_log.out").read_text()  # the last rank ran on the second node
    (tmp_path / "one").mkdir()
    alone = run_train([*args[: -len(on_two)], "trainer.devices=1"], tmp_path / "one", timeout=600)
    assert alone.returncode == 0, alone.stderr[-3000:]
    (one,) = load_study(tmp_path / "one", "random_lr_wd").trials
    assert one.params == trial.params  # each sample once per epoch over the 4 ranks: the same training as one process
    assert one.intermediate_values == pytest.approx(trial.intermediate_values, abs=1e-4)
