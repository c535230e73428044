"""The `params` grammar of hydra-optuna-sweeper, as Optuna distributions (no deprecated classes)."""

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from sweepwise.errors import ConfigError
from sweepwise.sweep.driver.param_grammar import grid_of, override_text, parse_search_space, readable, trial_overrides

GRAMMAR = [
    ("interval(0, 1)", FloatDistribution(0.0, 1.0)),
    ("interval(-5.5, 5.5)", FloatDistribution(-5.5, 5.5)),
    ("int(interval(1, 10))", IntDistribution(1, 10)),
    ("tag(log, interval(1e-4, 1e-1))", FloatDistribution(1e-4, 1e-1, log=True)),
    ("tag(log, int(interval(8, 512)))", IntDistribution(8, 512, log=True)),
    # as hydra-optuna-sweeper reads range: the stop is included (Hydra's basic sweeper stops before it)
    ("range(1, 3)", IntDistribution(1, 3)),
    ("range(1, 10)", IntDistribution(1, 10)),
    ("range(0, 10, 2)", IntDistribution(0, 10, step=2)),
    ("range(0, 9, 2)", IntDistribution(0, 8, step=2)),
    ("range(3, 3)", IntDistribution(3, 3)),
    ("range(0.5, 5.5, step=1)", FloatDistribution(0.5, 5.5, step=1.0)),
    ("range(-5.5, 5.5, step=0.5)", FloatDistribution(-5.5, 5.5, step=0.5)),
    ("range(0, 1, step=0.3)", FloatDistribution(0.0, 0.9, step=0.3)),
    ("choice(-5, 0, 5)", CategoricalDistribution([-5, 0, 5])),
    ("choice(mlp, convnet)", CategoricalDistribution(["mlp", "convnet"])),
    ("choice(true, false)", CategoricalDistribution([True, False])),
    ("shuffle(range(1, 4))", CategoricalDistribution([1, 2, 3])),
]


@pytest.mark.parametrize(("expression", "expected"), GRAMMAR, ids=[g[0] for g in GRAMMAR])
def test_grammar_maps_to_current_optuna_distributions(expression, expected):
    space = parse_search_space({"p": expression}, [])
    distribution = space.distributions["p"]
    if isinstance(expected, CategoricalDistribution) and expression.startswith("shuffle"):
        assert sorted(distribution.choices) == sorted(expected.choices)
    else:
        assert distribution == expected
    assert type(distribution).__name__ in {"FloatDistribution", "IntDistribution", "CategoricalDistribution"}


def test_plain_values_are_fixed_and_command_line_arguments_win():
    space = parse_search_space({"a": "interval(0, 1)", "b": "3"}, ["a=0.5", "c=choice(1, 2)", "+d=x"])
    assert space.fixed == {"a": "0.5", "b": "3", "+d": "x"}
    assert set(space.distributions) == {"c"}
    assert space.key("b") == "hydra.sweeper.params.b" and space.key("c") == "c"


def test_a_command_line_key_replaces_the_files_whatever_its_plus():
    """`momentum=...` on the command line and `+momentum` in the sweep file are one parameter, not two that would
    both reach the trial's config and its MLflow run as `momentum`."""
    space = parse_search_space(
        {"+momentum": "interval(0.5, 0.95)", "~dropout": "null"}, ["momentum=interval(0.5, 0.9)", "+dropout=0.1"]
    )
    assert set(space.distributions) == {"momentum"} and space.distributions["momentum"].high == 0.9
    assert space.fixed == {"+dropout": "0.1"} and space.key("momentum") == "momentum"


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("interval(1, 0.1)", "low 1.0 is above high 0.1"),
        ("int(interval(5.9, 5.1))", "holds the one value 5: a search needs low < high"),  # int() truncates
        ("int(interval(0.2, 0.9))", "holds the one value 0"),
        ("tag(log, interval(0, 1))", "a log scale needs low > 0"),
        ("tag(log, interval(-1, 1))", "a log scale needs low > 0"),
        ("range(5, 1)", "range is empty"),
        ("tag(lgo, interval(1e-4, 1e-1))", "unknown tag lgo: the one tag read is log"),  # not sampled linearly
        ("tag(log, choice(1, 2))", "tag(log, ...) applies to interval(a, b) alone"),  # not dropped
        ("interval(0, ", "hydra.sweeper.params.p"),
    ],
)
def test_bad_search_spaces_name_the_parameter(expression, message):
    with pytest.raises(ConfigError, match=r"hydra\.sweeper\.params\.p=") as raised:
        parse_search_space({"p": expression}, [])
    assert message in str(raised.value)


@pytest.mark.parametrize("value", [0.1, 1e-07, -3, 7, True, False, None, "mlp", "a b", "x,y", "it's", "null", "1.5"])
def test_override_text_reads_back_as_the_same_value(value):
    parsed = OverridesParser.create().parse_override(f"key={override_text(value)}").value()
    assert parsed == value and type(parsed) is type(value)


def test_deletions_reach_each_trial_as_typed():
    """`~model.width` deletes whatever the value is (as the README's own-model line uses it); `~key=value` only
    that value."""
    space = parse_search_space(None, ["~model.width", "~model.depth=2", "lr=choice(0.1, 0.2)"])
    assert space.fixed == {"~model.width": None, "~model.depth": "2"}
    assert trial_overrides({"lr": 0.1}, space.fixed) == ["lr=0.1", "~model.width", "~model.depth=2"]


def test_trial_overrides_and_grid():
    assert trial_overrides({"lr": 0.01, "model": "mlp"}, {"+w": "1"}) == ["lr=0.01", "model=mlp", "+w=1"]
    space = parse_search_space({"x": "range(0, 1, 0.25)", "m": "choice(a, b)"}, [])
    assert grid_of(space) == {"x": [0.0, 0.25, 0.5, 0.75, 1.0], "m": ["a", "b"]}
    typed = r"^hydra.sweeper.params.x='interval\(0, 1\)': the grid sampler needs"  # as the user wrote it
    with pytest.raises(ConfigError, match=typed):
        grid_of(parse_search_space({"x": "interval(0, 1)"}, []))


def test_a_trial_start_line_shows_overrides_without_the_grammars_escapes():
    overrides = [r"tracking.uri=postgresql\://bob@db\:5432/ml", "x=0.1", r"name='it\'s'", "~model.width"]
    assert readable(overrides) == "tracking.uri=postgresql://bob@db:5432/ml x=0.1 name='it's' ~model.width"
