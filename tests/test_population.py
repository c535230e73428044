"""Population-based training's logic in-process: its config and checks, which members exploit and what they explore,
and the copy of checkpoints and the lineage a generation's decision writes, on real Optuna studies and folders."""

import hashlib
import math
import os
import random
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

from sweepwise.errors import ConfigError
from sweepwise.spec.sweep_schedule import Asha, Pbt, check_typed_fields, schedule_from_facts, schedule_of
from sweepwise.study.records import (
    CHECKPOINTS_ATTR,
    CONTINUES_ATTR,
    PAUSED_ATTR,
    PBT_CHECKPOINT_ATTR,
    PBT_GENERATION_ATTR,
    PBT_PARENT_ATTR,
)
from sweepwise.sweep.driver.continuations import Continuations, has_continuation
from sweepwise.sweep.driver.param_grammar import parse_search_space
from sweepwise.sweep.driver.population import check_population, explore, next_generation, paused_members, perturb
from sweepwise.sweep.driver.progress import SweepProgress
from sweepwise.sweep.driver.sweep_report import stranded_line
from sweepwise.sweep.driver.tracker import SweepTracker

PBT = Pbt(interval=2, quantile=0.25, perturb_factors=(0.8, 1.2), resample_probability=0.0, seed=0)
SPACE = {
    "optimizer.lr": FloatDistribution(1e-4, 1e-1, log=True),
    "model.dropout": FloatDistribution(0.0, 0.5),
}


def test_members_pause_at_the_end_of_each_interval_and_the_config_round_trips():
    assert [PBT.crossed(step - 1, step) for step in range(1, 7)] == [None, 1, None, 2, None, 3]
    assert PBT.crossed(1, 5) == 2  # reports every 3 steps against an interval of 2: the first report past it
    assert PBT.budget(3) == 6
    assert schedule_from_facts(PBT.as_facts()) == PBT
    assert schedule_of({"name": "pbt"}) == Pbt()


def test_a_sweep_file_written_for_one_schedule_runs_under_another_its_fields_left_aside():
    assert schedule_of({"name": "none", "interval": 2, "quantile": 0.5}) is None
    assert schedule_of({"name": "asha", "interval": 2, "reduction_factor": 2}) == Asha(reduction_factor=2)
    assert schedule_of({"name": "pbt", "min_resource": 3}) == Pbt()


@pytest.mark.parametrize(
    ("node", "key"),
    [
        ({"name": "pbt", "interval": 0}, "hydra.sweeper.schedule.interval"),
        ({"name": "pbt", "quantile": 0}, "hydra.sweeper.schedule.quantile"),
        ({"name": "pbt", "quantile": 0.6}, "hydra.sweeper.schedule.quantile"),
        ({"name": "pbt", "perturb_factors": []}, "hydra.sweeper.schedule.perturb_factors"),
        ({"name": "pbt", "perturb_factors": [0.8, -1]}, "hydra.sweeper.schedule.perturb_factors"),
        ({"name": "pbt", "resample_probability": 1.5}, "hydra.sweeper.schedule.resample_probability"),
        ({"name": "pbt", "mutable": "optimizer.lr"}, "hydra.sweeper.schedule.mutable"),
        ({"name": "pbt", "intervall": 1}, "hydra.sweeper.schedule.intervall"),
    ],
)
def test_a_bad_pbt_setting_is_one_error_naming_its_key(node, key: str):
    with pytest.raises(ConfigError) as refused:
        schedule_of(node)
    assert refused.value.key == key


@pytest.mark.parametrize(
    ("searched", "sweepwise_training", "mutable", "refused"),
    [
        (["optimizer.lr", "optimizer.weight_decay", "model.dropout", "data.augment.noise_std"], True, None, None),
        (["optimizer.lr", "trainer.batch_size"], True, None, "trainer.batch_size"),
        (["model.width", "optimizer.lr"], True, None, "model.width"),
        (["optimizer._target_"], True, None, "optimizer._target_"),
        (["lr", "hidden"], False, None, "hidden"),  # another app: a key named like a model's shape
        (["lr", "+model.n_layer"], False, None, "+model.n_layer"),
        (["lr", "hidden"], False, ["lr", "hidden"], None),  # its code applies both on resuming, it says
        (["lr", "wd"], False, ["lr"], "wd"),
    ],
)
def test_a_key_that_cannot_change_mid_training_is_refused_in_one_line(
    searched: list[str], sweepwise_training: bool, mutable: list[str] | None, refused: str | None
):
    schedule = schedule_of({"name": "pbt", "mutable": mutable})
    assert isinstance(schedule, Pbt)
    space = parse_search_space({key: "interval(0.1, 0.2)" for key in searched}, [])
    if refused is None:
        check_population(schedule, 8, space, sweepwise_training, None)
        return
    with pytest.raises(ConfigError) as error:
        check_population(schedule, 8, space, sweepwise_training, None)
    assert error.value.key == f"hydra.sweeper.params.{refused}" and error.value.value == "interval(0.1, 0.2)"
    assert "cannot change mid-training" in str(error.value) and "\n" not in str(error.value)


def test_a_population_of_one_and_a_custom_search_space_are_refused():
    space = parse_search_space({"optimizer.lr": "interval(0.1, 0.2)"}, [])
    with pytest.raises(ConfigError, match="population"):
        check_population(PBT, 1, space, True, None)
    with pytest.raises(ConfigError) as error:
        check_population(PBT, 4, space, True, lambda cfg, trial: None)
    assert error.value.key == "hydra.sweeper.custom_search_space"


def test_perturbing_moves_each_kind_of_value_and_keeps_it_in_its_range():
    lr = SPACE["optimizer.lr"]
    assert perturb(lr, 1e-3, 1.2) == pytest.approx(1.2e-3) and perturb(lr, 1e-3, 0.8) == pytest.approx(8e-4)
    assert perturb(lr, 0.095, 1.2) == 0.1  # clipped at the top of the range
    assert perturb(IntDistribution(1, 10), 2, 1.2) == 3  # a whole number moves by at least one step
    assert perturb(IntDistribution(1, 10), 1, 0.8) == 1  # ... within its range
    assert perturb(FloatDistribution(0.0, 1.0, step=0.25), 0.5, 1.2) == 0.5  # 0.6 rounds back to its step
    assert perturb(CategoricalDistribution([16, 32, 64]), 32, 1.2) == 64
    assert perturb(CategoricalDistribution([16, 32, 64]), 16, 0.8) == 16


def test_exploring_resamples_within_the_space_at_its_probability():
    everything = Pbt(resample_probability=1.0)
    for seed in range(50):
        drawn = explore(
            {"optimizer.lr": 1e-3, "model.dropout": 0.1, "fixed": 7}, SPACE, everything, random.Random(seed)
        )
        assert 1e-4 <= drawn["optimizer.lr"] <= 1e-1 and 0.0 <= drawn["model.dropout"] <= 0.5
        assert drawn["fixed"] == 7  # not searched: left as it is
    logs = [
        math.log10(explore({"optimizer.lr": 1e-3}, SPACE, everything, random.Random(s))["optimizer.lr"])
        for s in range(400)
    ]
    assert sum(value < -2.5 for value in logs) == pytest.approx(200, abs=40)  # log-uniform: half below the middle


def member(
    number: int, values: dict[int, float], generation: int, lr: float, continues: int | None = None
) -> FrozenTrial:
    attrs = {PAUSED_ATTR: generation, **({CONTINUES_ATTR: continues} if continues is not None else {})}
    trial = create_trial(
        state=TrialState.PRUNED, params={"optimizer.lr": lr, "model.dropout": 0.1}, distributions=SPACE,
        intermediate_values=values, user_attrs=attrs,
    )  # fmt: skip
    trial.number = number
    return trial


def test_the_bottom_quantile_goes_on_from_the_top_with_explored_params_and_the_rest_with_their_own():
    losses = [0.9, 0.2, 0.5, 0.4, 0.7, 0.3, 0.6, 0.8]  # members 1 and 5 best, 0 and 7 worst
    trials = [member(n, {2: loss}, 1, lr=(n + 1) * 1e-3) for n, loss in enumerate(losses)]
    decided = {go.member: go for go in next_generation(paused_members(trials), PBT, SPACE, maximize=False)}
    assert sorted(decided) == list(range(8)) and {go.generation for go in decided.values()} == {2}
    exploiting = {m: go for m, go in decided.items() if go.parent is not None}
    assert sorted(exploiting) == [0, 7]
    for go in exploiting.values():
        assert go.parent in (1, 5) and go.parent_trial == go.parent
        parent_lr = trials[go.parent].params["optimizer.lr"]
        assert go.params["optimizer.lr"] in (pytest.approx(parent_lr * 0.8), pytest.approx(parent_lr * 1.2))
    for m in set(decided) - set(exploiting):
        assert decided[m].params == trials[m].params
    again = next_generation(paused_members(trials), PBT, SPACE, maximize=False)
    assert {go.member: go for go in again} == decided  # from the study alone: a re-run decides the same
    as_accuracy = next_generation(paused_members(trials), PBT, SPACE, maximize=True)
    assert sorted(go.member for go in as_accuracy if go.parent is not None) == [1, 5]


def test_a_member_without_a_value_exploits_and_only_the_lowest_generation_is_decided():
    trials = [member(0, {2: 0.5}, 1, 1e-3), member(1, {2: 0.2}, 1, 2e-3), member(2, {2: float("nan")}, 1, 3e-3)]
    trials.append(member(3, {2: 0.3, 4: 0.25}, 2, 4e-3))  # already a generation further
    decided = next_generation(paused_members(trials), PBT, SPACE, maximize=False)
    assert [go.member for go in decided] == [0, 1, 2]
    assert {go.member: go.parent for go in decided} == {0: 1, 1: None, 2: 1}  # NaN ranks with the worst


@pytest.fixture
def folders(tmp_path: Path) -> tuple[optuna.Study, list[Path]]:
    """A study of four members paused at the end of generation 1, each with a checkpoint folder of its own."""
    study = optuna.create_study(study_name="p", storage=f"sqlite:///{tmp_path / 'p.db'}", direction="minimize")
    paths = []
    for number, loss in enumerate([0.9, 0.2, 0.5, 0.4]):
        trial = member(number, {2: loss}, 1, lr=(number + 1) * 1e-3)  # started, then saved its checkpoint
        folder = tmp_path / str(number) / "checkpoints"
        folder.mkdir(parents=True)
        (folder / "last.pt").write_bytes(f"weights of member {number}".encode())
        paths.append(folder)
        trial.set_user_attr(CHECKPOINTS_ATTR, str(folder))
        study.add_trial(trial)
    return study, paths


def continuations(study: optuna.Study, tmp_path: Path) -> Continuations:
    tracker = SweepTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "pbt")
    return Continuations(study, PBT, SPACE, tracker, SweepProgress(4, live=False))


def test_a_decided_generation_copies_the_parents_checkpoint_and_records_what_it_copied(folders, tmp_path: Path):
    study, paths = folders
    assert has_continuation(study.trials, PBT, maximize=False)
    first = continuations(study, tmp_path).next(new_left=False, running=False)
    assert first is not None and first.number == 0
    queued = [t for t in study.trials if t.state == TrialState.WAITING]
    assert sorted(t.user_attrs[CONTINUES_ATTR] for t in queued) == [0, 1, 2, 3]
    assert {t.user_attrs[PBT_GENERATION_ATTR] for t in queued} == {2}
    (exploit,) = [t for t in queued if PBT_PARENT_ATTR in t.user_attrs]
    assert exploit.user_attrs[CONTINUES_ATTR] == 0 and exploit.user_attrs[PBT_PARENT_ATTR] == 1
    copied = exploit.user_attrs[PBT_CHECKPOINT_ATTR]
    assert copied["trial"] == 1 and copied["step"] == 2 and copied["folder"] == str(paths[1])
    assert (paths[0] / "last.pt").read_bytes() == b"weights of member 1"
    assert copied["sha256"] == {"last.pt": hashlib.sha256(b"weights of member 1").hexdigest()}
    assert (paths[1] / "last.pt").read_bytes() == b"weights of member 1"  # the parent's own is left as it was
    assert [p.name for p in paths[0].parent.iterdir()] == ["checkpoints"]  # no staged or old folder left behind
    assert len(study.user_attrs[f"{PBT_GENERATION_ATTR}_2"]) == 4


def test_nothing_is_decided_while_new_members_are_to_start_or_any_member_runs(folders, tmp_path: Path):
    study, paths = folders
    schedule = continuations(study, tmp_path)
    assert schedule.next(new_left=True, running=False) is None
    assert schedule.next(new_left=False, running=True) is None
    assert not [t for t in study.trials if t.state == TrialState.WAITING]
    assert (paths[0] / "last.pt").read_bytes() == b"weights of member 0"


def test_a_rerun_after_a_kill_mid_decision_queues_the_recorded_decision_without_copying_again(folders, tmp_path):
    study, paths = folders
    schedule = continuations(study, tmp_path)
    trials = study.get_trials(deepcopy=False)
    goes_on = next_generation(paused_members(trials), PBT, SPACE, maximize=False)
    decided = [{**vars(go), "checkpoint": schedule._copy(go, trials)} for go in goes_on]
    study.set_user_attr(f"{PBT_GENERATION_ATTR}_2", decided)
    schedule._queue(decided[1], trials)  # killed after queueing one member of four
    (paths[1] / "last.pt").write_bytes(b"member 1 trained on")  # ... whose run went on
    continuations(study, tmp_path).next(new_left=False, running=False)
    queued = [t for t in study.trials if t.state == TrialState.WAITING]
    assert sorted(t.user_attrs[CONTINUES_ATTR] for t in queued) == [0, 1, 2, 3]
    assert (paths[0] / "last.pt").read_bytes() == b"weights of member 1"  # the copy made before the kill


def test_a_schedule_setting_typed_for_another_schedule_is_refused_in_one_line():
    check_typed_fields({"name": "pbt"}, ["hydra.sweeper.schedule.interval=2", "hydra/sweeper/schedule=pbt"])
    with pytest.raises(ConfigError) as error:
        check_typed_fields({"name": "asha"}, ["hydra/sweeper/schedule=asha", "hydra.sweeper.schedule.interval=2"])
    assert error.value.key == "hydra.sweeper.schedule.interval" and "asha" in str(error.value)
    with pytest.raises(ConfigError):
        check_typed_fields({"name": "none"}, ["+hydra.sweeper.schedule.quantile=0.5"])


def test_members_a_larger_n_trials_adds_are_decided_among_themselves(folders, tmp_path: Path):
    study, _ = folders
    continuations(study, tmp_path).next(new_left=False, running=False)  # the first four go on into generation 2
    for _ in range(4):  # ... and end (how does not matter here)
        study.tell(study.ask(), state=TrialState.FAIL)
    for number in (8, 9):  # two more members, paused at the end of generation 1
        trial = member(number, {2: 0.1 * number}, 1, lr=1e-3)
        folder = tmp_path / str(number) / "checkpoints"
        folder.mkdir(parents=True)
        (folder / "last.pt").write_bytes(f"weights of member {number}".encode())
        trial.set_user_attr(CHECKPOINTS_ATTR, str(folder))
        study.add_trial(trial)
    decided = continuations(study, tmp_path).next(new_left=False, running=False)
    assert decided is not None and decided.number in (8, 9)
    record = study.user_attrs[f"{PBT_GENERATION_ATTR}_2"]
    assert [entry["paused"] for entry in record] == [0, 1, 2, 3, 8, 9]
    assert [entry["parent"] for entry in record[4:]] == [None, 8]  # ranked among themselves: 0.8 beats 0.9


def test_a_member_whose_parent_left_no_checkpoint_goes_on_from_its_own_with_its_own_params(folders, tmp_path, capsys):
    study, paths = folders
    (paths[1] / "last.pt").unlink()  # the top member's code saved nothing
    continuations(study, tmp_path).next(new_left=False, running=False)
    asked = study.ask(SPACE)  # the first queued: member 0's next generation
    assert asked.user_attrs[CONTINUES_ATTR] == 0 and PBT_PARENT_ATTR not in asked.user_attrs
    assert asked.params == study.trials[0].params
    assert (paths[0] / "last.pt").read_bytes() == b"weights of member 0"
    assert "trial 0 does not copy trial 1's checkpoint" in capsys.readouterr().out


def test_paused_work_that_saved_no_checkpoint_since_it_started_is_said_to_go_on_from_an_older_one(
    folders, tmp_path, capsys
):
    study, paths = folders
    old = (study.trials[0].datetime_start.timestamp() or 0) - 60
    os.utime(paths[0] / "last.pt", (old, old))  # written before trial 0 started: it stopped without saving
    continuations(study, tmp_path).next(new_left=False, running=False)
    out = capsys.readouterr().out
    assert "trial 0 paused at step 2 without saving a checkpoint" in out and "trial 1 paused" not in out


def test_a_scheduled_sweep_that_ends_with_all_its_work_paused_says_so_and_names_the_best():
    study = optuna.create_study(direction="minimize")
    for number, loss in enumerate([0.5, 0.3, 0.4]):
        study.add_trial(member(number, {1: loss + 0.1, 2: loss}, 0, lr=1e-3))
    line = stranded_line(study, Asha())
    assert line is not None and "3 paused where the schedule lets none go on" in line
    assert "trial 1 (0.3 at step 2)" in line
    assert stranded_line(study, None) is None
