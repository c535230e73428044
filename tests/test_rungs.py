"""The asha schedule's logic in-process: its rungs, its checks, which trial a report pauses, and which paused trial
a free slot continues, on real Optuna studies."""

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial

from sweepwise.errors import ConfigError
from sweepwise.internals.optuna_internals import trial_id
from sweepwise.spec.sweep_schedule import Asha, schedule_from_facts, schedule_of
from sweepwise.study.records import CONTINUES_ATTR, PAUSED_ATTR, RUNG_ATTR
from sweepwise.sweep.driver.rungs import promotion
from sweepwise.sweep.trial.sweep_session import StudyReporter

ASHA = Asha(min_resource=1, reduction_factor=3)  # rungs at steps 1, 3, 9, 27


def test_rungs_are_geometric_and_a_report_reaches_one_on_crossing_its_budget():
    assert [ASHA.budget(rung) for rung in range(4)] == [1, 3, 9, 27]
    assert [ASHA.rung_reached(step) for step in (0, 1, 2, 3, 8, 9, 26, 27)] == [-1, 0, 0, 1, 1, 2, 2, 3]
    assert ASHA.crossed(0, 1) == 0 and ASHA.crossed(1, 2) is None and ASHA.crossed(2, 3) == 1
    # reports every 50 steps against rungs of 100, 200, 400: the first report at or past a budget reaches it
    coarse = Asha(min_resource=100, reduction_factor=2)
    assert [coarse.crossed(step - 50, step) for step in (50, 100, 150, 200, 250, 300, 350, 400)] == [
        None, 0, None, 1, None, None, None, 2,
    ]  # fmt: skip
    assert schedule_from_facts(coarse.as_facts()) == coarse


@pytest.mark.parametrize(
    ("node", "key"),
    [
        ({"name": "asha", "reduction_factor": 1}, "hydra.sweeper.schedule.reduction_factor"),
        ({"name": "asha", "min_resource": 0}, "hydra.sweeper.schedule.min_resource"),
        ({"name": "asha", "min_resource": 1.5}, "hydra.sweeper.schedule.min_resource"),
        ({"name": "asha", "eta": 3}, "hydra.sweeper.schedule.eta"),
        ({"name": "hyperband"}, "hydra.sweeper.schedule.name"),
        ("asha", "hydra.sweeper.schedule"),
    ],
)
def test_a_bad_schedule_is_one_error_naming_its_key(node, key: str):
    with pytest.raises(ConfigError) as refused:
        schedule_of(node)
    assert refused.value.key == key


def test_none_is_no_schedule():
    assert schedule_of(None) is None and schedule_of({"name": "none"}) is None
    assert schedule_of({"name": "asha"}) == Asha(min_resource=1, reduction_factor=3)


X = {"x": FloatDistribution(0.0, 1.0)}


def paused(number: int, values: dict[int, float], rung: int, continues: int | None = None) -> FrozenTrial:
    attrs = {PAUSED_ATTR: rung, **({CONTINUES_ATTR: continues} if continues is not None else {})}
    return made(number, TrialState.PRUNED, values, attrs)


def made(number: int, state: TrialState, values: dict[int, float], attrs: dict | None = None) -> FrozenTrial:
    value = list(values.values())[-1] if state == TrialState.COMPLETE else None
    trial = create_trial(
        state=state, value=value, params={"x": number / 100}, distributions=X, intermediate_values=values,
        user_attrs=attrs or {},
    )  # fmt: skip
    trial.number = number
    return trial


def test_a_paused_trial_goes_on_once_its_rung_top_third_includes_it():
    first_two = [paused(0, {1: 0.5}, 0), paused(1, {1: 0.2}, 0)]
    assert promotion(first_two, ASHA, maximize=False) is None  # the top third of two trials is none of them
    three = [*first_two, paused(2, {1: 0.9}, 0)]
    assert promotion(three, ASHA, maximize=False).number == 1  # the lowest loss
    assert promotion(three, ASHA, maximize=True).number == 2  # the highest accuracy


def test_a_promoted_trial_is_not_promoted_again_and_counts_at_its_rung_by_its_latest_trial():
    trials = [paused(0, {1: 0.5}, 0), paused(1, {1: 0.2}, 0), paused(2, {1: 0.9}, 0)]
    queued = made(3, TrialState.WAITING, {}, {CONTINUES_ATTR: 1})
    assert promotion([*trials, queued], ASHA, maximize=False) is None  # trial 1's work is queued to go on
    running = made(3, TrialState.RUNNING, {1: 0.2, 2: 0.15}, {CONTINUES_ATTR: 1})
    assert promotion([*trials, running], ASHA, maximize=False) is None
    # three more at rung 0: its top third is now two; trial 1's work (at rung 0 by its continuation) is one of them
    more = [paused(4, {1: 0.3}, 0), paused(5, {1: 0.8}, 0), paused(6, {1: 0.7}, 0)]
    assert promotion([*trials, running, *more], ASHA, maximize=False).number == 4


def test_higher_rungs_go_first():
    rung0 = [paused(n, {1: v}, 0) for n, v in enumerate([0.1, 0.5, 0.6, 0.7, 0.8, 0.9])]
    rung1 = [
        paused(6, {1: 0.1, 2: 0.09, 3: 0.3}, 1, continues=0),
        paused(7, {1: 0.5, 2: 0.2, 3: 0.2}, 1, continues=1),
        paused(8, {1: 0.6, 2: 0.5, 3: 0.5}, 1, continues=2),
    ]
    assert promotion(rung0 + rung1, ASHA, maximize=False).number == 7  # rung 1's best, before rung 0's third
    done = made(9, TrialState.COMPLETE, {**rung1[1].intermediate_values, 9: 0.1}, {CONTINUES_ATTR: 7})
    assert promotion([*rung0, *rung1, done], ASHA, maximize=False) is None  # each top holds work gone on only
    later = [paused(10, {1: 0.05}, 0), paused(11, {1: 0.95}, 0), paused(12, {1: 0.96}, 0)]
    assert promotion([*rung0, *rung1, done, *later], ASHA, maximize=False).number == 10  # rung 0's new best


def test_a_trial_that_failed_or_was_pruned_by_its_own_end_is_never_continued():
    trials = [
        made(0, TrialState.FAIL, {1: 0.01}),
        made(1, TrialState.PRUNED, {1: 0.02}),  # no pause: stopped for good
        paused(2, {1: 0.9}, 0),
    ]
    assert promotion(trials, ASHA, maximize=False) is None  # 0 and 1 rank above it, and cannot go on


@pytest.fixture
def storage(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="s", storage=url, direction="minimize")
    return url


def reporter(storage: str, schedule: Asha | None) -> tuple[optuna.Study, StudyReporter]:
    """A trial of the study asked for, and the link its process builds to it."""
    study = optuna.load_study(study_name="s", storage=storage)
    trial = study.ask()
    facts = {
        "study_name": "s",
        "storage": storage,
        "trial_id": trial_id(trial),
        "pruner": None,
        "schedule": schedule.as_facts() if schedule else None,
    }
    return study, StudyReporter(facts)


def test_a_report_pauses_at_each_rung_it_reaches_but_never_the_last_and_notes_the_rung(storage: str):
    study, link = reporter(storage, ASHA)
    assert link(1, 0.5) == "paused"
    assert link(1, 0.5) is None  # the step replayed from the checkpoint as the work goes on
    assert [link(step, 0.4) for step in (2, 3)] == [None, "paused"]
    assert link(9, 0.3, last=True) is None  # the training's end: nothing is left to pause
    stored = study.trials[0]
    assert stored.user_attrs[RUNG_ATTR] == 2 and stored.user_attrs[PAUSED_ATTR] == 1
    assert sorted(stored.intermediate_values) == [1, 2, 3, 9]


def test_without_a_schedule_no_report_pauses(storage: str):
    study, link = reporter(storage, None)
    assert [link(step, 0.5) for step in (1, 3, 9)] == [None, None, None]
    assert RUNG_ATTR not in study.trials[0].user_attrs


@pytest.mark.parametrize(
    ("direction", "objective", "refused"),
    [
        ("maximize", "val/loss", True),
        ("maximize", "val_mse", True),
        ("minimize", "valid/accuracy", True),
        ("minimize", "val/loss", False),
        ("maximize", "val/acc", False),
        ("maximize", "neg_loss", False),  # a negated loss: its name says nothing sure
        ("minimize", "score", False),  # a name of no known kind
    ],
)
def test_a_reported_objective_whose_name_improves_the_other_way_is_one_error(
    tmp_path, direction: str, objective: str, refused: bool
):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="d", storage=url, direction=direction)
    facts = {"study_name": "d", "storage": url, "trial_id": trial_id(study.ask()), "pruner": None, "schedule": None}
    link = StudyReporter(facts)
    if not refused:
        assert link(1, 0.5, objective=objective) is None
        return
    with pytest.raises(ConfigError) as error:
        link(1, 0.5, objective=objective)
    assert error.value.key == "hydra.sweeper.direction" and f"objective={objective!r}" in str(error.value)
    assert not study.trials[0].intermediate_values  # refused before the study hears it
