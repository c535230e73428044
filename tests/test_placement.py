"""GPU placement on one machine, on fake GPU ids (CUDA's variable is all a trial sees of its GPUs): disjoint sets
per trial, k trials per GPU when packing, the slots following the GPUs, each trial's run tagged with its GPUs."""

from pathlib import Path

import pytest
from helpers import mlflow_client, run_train
from pool_jobs import visible_gpus as job_gpus
from sweep_helpers import sweep_runs

from sweepwise.errors import ConfigError
from sweepwise.sweep.launch.gpu_placement import LocalSettings, check_packing, place, visible_gpus
from sweepwise.sweep.launch.worker_pool import WorkerPool

FOUR = ("0", "1", "2", "3")
KEY = "hydra.sweeper.n_jobs"


def gpus_of(settings: LocalSettings, slots: int | None = None) -> list[tuple[str, ...] | None]:
    return list(place(settings, KEY, slots).slots)


def test_each_trial_gets_its_own_gpu_and_the_slots_follow_the_gpus():
    assert gpus_of(LocalSettings(gpus=FOUR)) == [("0",), ("1",), ("2",), ("3",)]


def test_fewer_slots_than_gpus_spread_over_distinct_gpus():
    assert gpus_of(LocalSettings(gpus=FOUR), slots=2) == [("0",), ("1",)]


def test_multi_gpu_trials_get_disjoint_groups_and_a_leftover_gpu_stays_idle():
    slots = gpus_of(LocalSettings(gpus=("0", "1", "2", "3", "4"), gpus_per_trial=2))
    assert slots == [("0", "1"), ("2", "3")]


def test_packing_puts_k_trials_on_each_gpu_spread_first():
    slots = gpus_of(LocalSettings(gpus=("0", "1"), trials_per_gpu=3))
    assert slots == [("0",), ("1",), ("0",), ("1",), ("0",), ("1",)]
    assert gpus_of(LocalSettings(gpus=("0", "1"), trials_per_gpu=3), slots=2) == [("0",), ("1",)]


def test_without_gpus_trials_run_on_the_cpu_two_at_a_time_unless_told():
    assert gpus_of(LocalSettings(gpus=())) == [None, None]
    assert gpus_of(LocalSettings(gpus=()), slots=5) == [None] * 5


def test_cpu_trials_on_a_gpu_machine_see_no_gpu():
    assert gpus_of(LocalSettings(gpus=FOUR, gpus_per_trial=0), slots=3) == [(), (), ()]


def test_packing_without_gpus_says_it_has_no_effect():
    assert place(LocalSettings(gpus=()), KEY, None).describe() == ""
    line = place(LocalSettings(gpus=(), trials_per_gpu=3), KEY, None).describe()
    assert (
        line
        == "placement: 2 trials at a time on the CPU; hydra.launcher.trials_per_gpu=3 has no effect (no GPU is visible)"
    )
    on_cpu = place(LocalSettings(gpus=FOUR, gpus_per_trial=0, trials_per_gpu=2), KEY, 3).describe()
    assert on_cpu.endswith("hydra.launcher.trials_per_gpu=2 has no effect (gpus_per_trial=0)")


@pytest.mark.parametrize(
    ("settings", "slots", "key", "value"),
    [
        (LocalSettings(gpus=FOUR), 5, KEY, "5"),  # more trials at once than the GPUs hold
        (LocalSettings(gpus=("0",), gpus_per_trial=2), None, "hydra.launcher.gpus_per_trial", "2"),
        (LocalSettings(gpus=(), gpus_per_trial=1), None, "hydra.launcher.gpus_per_trial", "1"),
        # a trial of 2 processes needs 2 GPUs: fewer would fail every trial on a real GPU machine
        (LocalSettings(gpus=FOUR, gpus_per_trial=1, processes=2), None, "hydra.launcher.gpus_per_trial", "1"),
        (LocalSettings(gpus=("0",), processes=2), None, "trainer.devices", "2"),
    ],
)
def test_a_placement_that_cannot_be_met_is_one_line_naming_the_key(settings, slots, key, value):
    with pytest.raises(ConfigError) as caught:
        place(settings, KEY, slots)
    assert str(caught.value).startswith(f"{key}={value}: ")


def test_a_trial_of_several_processes_gets_a_gpu_for_each_unless_told():
    assert gpus_of(LocalSettings(gpus=FOUR, processes=2)) == [("0", "1"), ("2", "3")]
    assert gpus_of(LocalSettings(gpus=(), processes=2)) == [None, None]  # CPU processes


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("trials_per_gpu", 0),
        ("gpus_per_trial", -1),
        ("n_workers", 0),
        ("gpus", ["1", "1"]),
        ("gpus", ["a"]),  # CUDA would ignore such ids, and the trials train on the CPU unnoticed
        ("gpus", [0, -1]),
    ],
)
def test_bad_launcher_fields_are_refused(field, value):
    with pytest.raises(ConfigError, match=f"^hydra.launcher.{field}="):
        LocalSettings.of({field: value})


def test_gpu_uuids_are_gpus():
    assert gpus_of(LocalSettings.of({"gpus": ["GPU-8f2a", "MIG-1c0e"]})) == [("GPU-8f2a",), ("MIG-1c0e",)]


def test_gpus_default_to_those_cuda_visible_devices_lists(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    assert gpus_of(LocalSettings()) == [("4",), ("6",)]


@pytest.mark.parametrize(("listed", "gpus"), [("-1", []), ("", []), ("2,-1,3", ["2"])])
def test_cuda_visible_devices_is_read_as_cuda_reads_it(monkeypatch: pytest.MonkeyPatch, listed: str, gpus: list[str]):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", listed)
    assert visible_gpus(None) == gpus  # ids up to the first that is not one


def test_a_replaced_worker_keeps_its_slots_gpus():
    slots = place(LocalSettings(gpus=("7", "9")), KEY, None)
    pool = WorkerPool(job_gpus, slots.size, slots.environments())
    try:
        seen: dict[str, str | None] = {}
        for round_ in range(3):
            for slot in range(2):
                pool.submit(f"{round_}-{slot}", "die" if round_ == 1 and slot == 0 else f"{round_}-{slot}")
            done: list = []
            while len(done) < 2:
                done += pool.wait(10)
            seen |= {key: result[2] for key, result in done if isinstance(result, tuple)}
        assert sorted(seen.values()) == ["7", "7", "9", "9", "9"]  # the killed job left no result
    finally:
        pool.shutdown()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("launcher", "gpus", "per_gpu"),
    [
        (["hydra.launcher.gpus=[0,1,2]"], {"0", "1", "2"}, 1),
        (["hydra.launcher.gpus=[0,1]", "hydra.launcher.trials_per_gpu=2"], {"0", "1"}, 2),
    ],
    ids=["one-trial-per-gpu", "two-trials-per-gpu"],
)
def test_a_sweeps_trials_are_placed_on_distinct_gpus_and_reuse_them(launcher, gpus, per_gpu, tmp_path: Path):
    trials = 2 * len(gpus) * per_gpu
    result = run_train(
        [
            "-m",
            "sweeps=random_lr_wd",
            f"hydra.sweeper.n_trials={trials}",
            *launcher,
            "recipe.preflight=off",
            "data=synthetic",
            "model=mlp",
            "trainer.epochs=3",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    slots = len(gpus) * per_gpu
    assert f"placement: {slots} trials at a time on GPUs {','.join(sorted(gpus))}" in result.stdout
    _, children = sweep_runs(tmp_path, "sweepwise")
    assert len(children) == trials
    placed = [run.data.tags["sweepwise.gpus"] for run in children]
    assert set(placed) == gpus  # every GPU used, none outside the set
    assert all(placed.count(gpu) >= 2 for gpu in gpus)  # a GPU is reused as its trials end
    assert {run.data.tags["sweepwise.device"] for run in children} == {"cpu"}  # fake ids: the CPU runs them
    # while a trial trains (between its first and last logged loss), at most `per_gpu` trials share its GPU
    client_spans = _training_spans(tmp_path, children)
    for run in children:
        start, end = client_spans[run.info.run_id]
        sharing = [
            other
            for other in children
            if other.data.tags["sweepwise.gpus"] == run.data.tags["sweepwise.gpus"]
            and client_spans[other.info.run_id][0] < end
            and start < client_spans[other.info.run_id][1]
        ]
        assert len(sharing) <= per_gpu, (run.info.run_name, [other.info.run_name for other in sharing])


def _training_spans(cwd: Path, runs: list) -> dict[str, tuple[int, int]]:
    client = mlflow_client(cwd)
    spans = {}
    for run in runs:
        times = [metric.timestamp for metric in client.get_metric_history(run.info.run_id, "train/loss")]
        spans[run.info.run_id] = (min(times), max(times))
    return spans


def test_packing_is_refused_in_one_line_when_the_preflights_peak_would_not_fit():
    check_packing(4, peak_mb=1000.0, gpu_mb=80_000.0)  # 4 x (1200 + 500) MB fit in 80 GB
    check_packing(4, peak_mb=None, gpu_mb=80_000.0)  # nothing measured (CPU, preflight off): nothing to refuse
    check_packing(1, peak_mb=90_000.0, gpu_mb=80_000.0)  # one trial per GPU is the plain case
    with pytest.raises(ConfigError) as caught:
        check_packing(4, peak_mb=20_000.0, gpu_mb=80_000.0)
    message = str(caught.value)
    assert message.startswith("hydra.launcher.trials_per_gpu=4: ") and "\n" not in message
    assert "preflight's CUDA peak 20000 MB" in message and "3 fit" in message
