"""A study's definition compared with a re-run's: fixed overrides by the values they give."""

import optuna
import pytest

from sweepwise.errors import ConfigError
from sweepwise.study.records import DEFINITION_ATTR
from sweepwise.sweep.driver.definition import NO_VALUE, check_definition, definition_of, differences
from sweepwise.sweep.driver.param_grammar import parse_search_space


def fixed(**overrides: str | None) -> dict[str, dict[str, str | None]]:
    return {"fixed overrides": overrides}


def test_fixed_overrides_giving_the_same_value_are_no_difference():
    assert differences(fixed(lr="0.1", epochs="20", name="a"), fixed(lr="1e-1", epochs="20.0", name="'a'")) == []
    assert differences(fixed(sizes="[1, 2]"), fixed(sizes="[1.0,2]")) == []


def test_fixed_overrides_giving_other_values_differ_and_booleans_are_not_numbers():
    assert differences(fixed(lr="0.1"), fixed(lr="0.2")) == ["fixed overrides lr: 0.1 -> 0.2"]
    assert differences(fixed(flag="true"), fixed(flag="1")) == ["fixed overrides flag: true -> 1"]
    shown = differences(fixed(uri="sqlite\\:///a.db"), fixed(uri="file\\:./else"))  # as Hydra's grammar escapes them
    assert shown == ["fixed overrides uri: sqlite:///a.db -> file:./else"]


def test_a_key_one_run_overrides_compares_with_its_value_when_unset():
    unset = {"epochs": 20, "model": "convnet", "w": NO_VALUE}.__getitem__
    assert differences(fixed(), fixed(epochs="20", model="convnet"), unset) == []
    assert differences(fixed(epochs="20"), fixed(), unset) == []
    assert differences(fixed(), fixed(epochs="10"), unset) == ["fixed overrides epochs: - -> 10"]
    assert differences(fixed(), fixed(**{"+w": "1"}), unset) == ["fixed overrides +w: - -> 1"]
    assert differences(fixed(**{"~w": None}), fixed(), unset) == []  # deleted, or never there
    assert differences(fixed(), fixed(epochs="20")) == ["fixed overrides epochs: - -> 20"]  # unknowable: differs


def test_the_config_part_compares_the_keys_neither_run_searches_nor_overrides():
    recorded = {"search space": {"x": "F(0, 1)"}, "fixed overrides": {"lr": "0.1"}, "config": {"x": 0, "lr": 1, "n": 3}}
    same = {"search space": {"x": "F(0, 1)"}, "fixed overrides": {"+w": "2"}, "config": {"x": 0, "lr": 1, "n": 3}}
    unset = {"lr": 0.1, "w": NO_VALUE}.__getitem__  # lr's value when not overridden: as the first run set it
    assert differences(recorded, same, unset) == ["fixed overrides +w: - -> 2"]
    edited = {**recorded, "config": {"x": 0, "lr": 1, "n": 4}}
    assert differences(recorded, edited) == ["config n: 3 -> 4"]
    before_configs_were_recorded = {key: value for key, value in recorded.items() if key != "config"}
    assert differences(before_configs_were_recorded, edited) == []


def test_a_key_ignored_from_now_on_is_left_out_of_the_recorded_definition_too():
    """A study recorded while `task.sleep` counted goes on when a re-run lists it in `definition_ignores`; other
    differences still stop it."""
    study = optuna.create_study()
    recorded = {"fixed overrides": {"task.sleep": "0.5"}, "config": {"task.sleep": 0.5, "task.epochs": 6}}
    study.set_user_attr(DEFINITION_ATTR, recorded)
    now = {"fixed overrides": {}, "config": {"task.epochs": 6}}  # as `definition_of` leaves an ignored key out
    assert check_definition(study, now, "stop", ignores=["task.sleep"]) is False
    with pytest.raises(ConfigError, match=r"fixed overrides task\.sleep: 0\.5 -> -"):
        check_definition(study, now, "stop")
    with pytest.raises(ConfigError, match=r"config task\.epochs: 6 -> 8"):
        check_definition(study, {**now, "config": {"task.epochs": 8}}, "stop", ignores=["task.sleep"])


def test_no_secret_is_kept_in_a_definition_or_shown_in_a_difference():
    space = parse_search_space({"lr": "interval(0.01, 0.1)"}, ["+db.password=hunter2"])
    recorded = definition_of(space, {}, ["minimize"], None, config={"hub": {"api_key": "abc123"}, "lr": 0.1})
    assert "hunter2" not in str(recorded) and "abc123" not in str(recorded)
    # a study recorded before definitions were redacted: its secret is not printed either
    old = {**recorded, "config": {"hub.api_key": "abc123", "lr": 0.1}}
    assert differences(old, recorded) == ["config hub.api_key: [redacted] -> [redacted]"]


def test_a_schedule_set_changed_or_dropped_on_a_study_is_a_difference():
    pbt = {"name": "pbt", "interval": 1, "quantile": 0.25}
    assert differences({"schedule": pbt}, {"schedule": {**pbt, "interval": 2}}) == ["schedule interval: 1 -> 2"]
    assert differences({}, {"schedule": pbt}) == ['schedule: null -> {"interval": 1, "name": "pbt", "quantile": 0.25}']
    assert differences({"schedule": pbt}, {}) != []  # a study made under pbt, run again without it
    assert differences({}, {}) == [] and differences({"schedule": pbt}, {"schedule": dict(pbt)}) == []
