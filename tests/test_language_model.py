"""Language modelling: the corpus and its split, the causal transformer, the task's metrics and baselines, the
recipe's checks of a model that sees the future and of targets not shifted by one, and, from the command line
under `python -W error`, a sweep whose best model reloads from MLflow and answers token ids as the trial's model
does."""

import json
import math
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pytest
import torch
from helpers import TRAIN_PY, all_runs, compose_config, mlflow_client, run_script
from sweep_helpers import load_study, sweep_runs

from sweepwise import configure
from sweepwise.data.text_corpus import load_text, pydoc_topics, sequences
from sweepwise.errors import ConfigError
from sweepwise.models import Transformer
from sweepwise.recipe.preflight import run_preflight
from sweepwise.recipe.report import FAIL, NOT_APPLICABLE, PASS
from sweepwise.recipe.trial_models import trial_config, trial_model
from sweepwise.study.records import MODEL_URI_TAG
from sweepwise.study.trials import trial_folder
from sweepwise.tasks import LanguageModel
from sweepwise.tasks.ngrams import ngram_accuracy, ngram_bits
from sweepwise.tracking.mlflow_run import mlflow_store

STRICT = ("-W", "error")
LANGUAGE_MODEL = ["task=language_model", "data=text", "model=transformer"]
# a few thousand characters in sequences of 16, a model of width 32: seconds per epoch on two cores
TINY = [*LANGUAGE_MODEL, "data.max_chars=20000", "data.context=16", "model.width=32", "trainer.batch_size=32"]


def test_the_corpus_is_split_at_one_point_and_each_target_is_the_next_character():
    data = load_text(context=32, val_fraction=0.1)
    text = pydoc_topics()
    assert len(text) > 400_000 and data.num_classes == len(set(text))
    train_text = "".join(data.decode(row) for row in data.train_x.tolist())
    val_text = "".join(data.decode(row) for row in data.val_x.tolist())
    cut = int(len(text) * 0.9)
    assert text.startswith(train_text) and train_text == text[: len(train_text)]
    assert val_text == text[cut : cut + len(val_text)]  # validation is the text after the cut, never trained on
    assert len(train_text) <= cut
    assert torch.equal(data.train_y[:, :-1], data.train_x[:, 1:]) and torch.equal(data.val_y[:, :-1], data.val_x[:, 1:])
    assert torch.equal(data.train_y[:-1, -1], data.train_x[1:, 0])  # consecutive windows share one character


def test_a_text_file_of_ones_own_is_the_corpus(tmp_path: Path):
    book = tmp_path / "book.txt"
    book.write_text("abcd" * 500, encoding="utf-8")
    data = load_text(str(book), context=8, val_fraction=0.2)
    assert data.class_names == ["a", "b", "c", "d"] and data.context == 8
    assert data.decode(data.train_x[0].tolist()) == "abcdabcd"
    with pytest.raises(ConfigError, match=r"data.path='.*missing.txt': no such file \(in "):
        load_text(str(tmp_path / "missing.txt"))
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"data.path='.*latin1.txt': cannot be read as UTF-8 text"):
        load_text(str(tmp_path / "latin1.txt"))
    with pytest.raises(Exception, match="holds no sequence of 64"):
        sequences(np.arange(10), 64)


def test_a_text_too_short_is_named_by_its_file_and_one_cut_short_by_data_max_chars(tmp_path: Path):
    for text in ("", "abc"):
        (tmp_path / "short.txt").write_text(text, encoding="utf-8")
        for max_chars in (None, 20000):  # a cut longer than the text is not what made it short
            with pytest.raises(ConfigError, match=rf"^data.path='.*short.txt': the text has {len(text)} characters"):
                load_text(str(tmp_path / "short.txt"), context=8, max_chars=max_chars)
    (tmp_path / "book.txt").write_text("abcd" * 500, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^data.max_chars=30: the text has 30 characters"):
        load_text(str(tmp_path / "book.txt"), context=8, max_chars=30)


def test_the_transformer_is_causal_and_checks_its_sizes():
    torch.manual_seed(0)
    model = Transformer([16], 20, layers=2, heads=2, width=16).eval()
    tokens = torch.randint(0, 20, (3, 16))
    changed = tokens.clone()
    changed[:, 9:] = (changed[:, 9:] + 1) % 20
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    assert before.shape == (3, 16, 20)
    assert torch.equal(before[:, :9], after[:, :9]) and not torch.allclose(before[:, 9:], after[:, 9:])
    with pytest.raises(ConfigError, match=r"^model.width=10: must be a multiple of model.heads=4$"):
        Transformer([16], 20, heads=4, width=10)
    with pytest.raises(ConfigError, match=r"^model.context=8: is shorter than the data's sequences of 16$"):
        Transformer([16], 20, context=8)
    with pytest.raises(ConfigError, match="needs token sequences"):
        Transformer([1, 8, 8], 10)


def test_the_metrics_are_one_loss_in_three_units_with_a_per_sequence_standard_error():
    task = LanguageModel()
    data = load_text(context=8, max_chars=2000)
    outputs = torch.randn(5, 8, data.num_classes)
    targets = torch.randint(0, data.num_classes, (5, 8))
    metrics = task.measure(task.batch_sums(outputs, targets), 5, data)
    loss = float(torch.nn.functional.cross_entropy(outputs.flatten(0, 1), targets.flatten()))
    assert metrics["val/loss"] == pytest.approx(loss, rel=1e-5)
    assert metrics["val/perplexity"] == pytest.approx(math.exp(loss), rel=1e-5)
    assert metrics["val/bits_per_token"] == pytest.approx(loss / math.log(2), rel=1e-5)
    per_sequence = torch.nn.functional.cross_entropy(outputs.transpose(1, 2), targets, reduction="none").mean(1)
    assert metrics["val/bits_per_token_se"] == pytest.approx(
        float(per_sequence.std() / math.sqrt(5) / math.log(2)), rel=1e-4
    )
    right = (outputs.argmax(-1) == targets).float().mean()
    assert metrics["val/acc"] == pytest.approx(float(right))


def test_the_ngram_baselines_know_what_a_text_repeats():
    tokens = torch.tensor([[0, 1, 2, 0, 1, 2, 0, 1]])
    pairs = (tokens[:, :-1], tokens[:, 1:])
    assert ngram_accuracy(pairs, pairs, order=2) == 1.0  # each token's follower is fixed
    assert ngram_accuracy(pairs, pairs, order=1) == pytest.approx(3 / 7)  # the most frequent follower, always
    assert ngram_bits(pairs, pairs, order=2) < ngram_bits(pairs, pairs, order=1) < math.log2(3) + 1e-9
    data = load_text(context=64)
    train, val = (data.train_x, data.train_y), (data.val_x, data.val_y)
    assert ngram_bits(train, val, order=2) < ngram_bits(train, val, order=1) < math.log2(data.num_classes)


def test_the_task_refuses_data_without_token_sequences_and_other_tasks_refuse_tokens():
    for overrides, message in [
        (["task=language_model"], "gives no token sequences: train a language model with data=text"),
        (["data=text", "model=transformer"], "gives token sequences: train them with task=language_model"),
    ]:
        cfg = compose_config(overrides)
        task = configure.build_task(cfg)
        with pytest.raises(ConfigError, match=message):
            configure.build_data(cfg.data, task)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("planted", "caught_by"),
    [
        (["model._target_=planted_bugs.PeekingTransformer"], "causal mask (no future tokens)"),
        (["data._target_=planted_bugs.unshifted_text"], "targets are the next tokens"),
    ],
    ids=["attention-sees-the-future", "targets-not-shifted"],
)
def test_the_language_models_classic_bugs_fail_their_checks(tmp_path: Path, planted: list[str], caught_by: str):
    results = run_preflight(compose_config([*TINY, *planted, "trainer.epochs=3"]), tmp_path).results
    found = {result.name: result.status for result in results}
    assert found[caught_by] == FAIL, found


@pytest.mark.slow
def test_the_language_models_preflight_passes_from_the_command_line(tmp_path: Path):
    done = _run([*TINY, "mode=preflight", "trainer.epochs=3"], tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(next(tmp_path.glob("outputs/*/*/preflight/preflight.json")).read_text())
    found = {entry["name"]: entry["status"] for entry in report}
    assert len(found) == 25 and FAIL not in found.values(), found
    assert found["causal mask (no future tokens)"] == PASS and found["targets are the next tokens"] == PASS
    assert found["batch independence (backprop)"] == PASS and found["batch entering the model"] == PASS
    for check in ("batches mix classes", "targets standardised", "output range covers the targets"):
        assert found[check] == NOT_APPLICABLE
    measured = {entry["name"]: entry["measured"] for entry in report}
    assert "unigram " in measured["dumb baselines"] and "; bigram " in measured["dumb baselines"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["objective.metric=val/rmse"],
            "error: objective.metric='val/rmse': task=language_model reports val/loss, val/perplexity, "
            "val/bits_per_token, val/acc, train/loss (val/rmse is a metric of task=regression)",
        ),
        (
            ["objective.metric=val/perplexity", "objective.direction=maximize"],
            "error: objective.direction='maximize': val/perplexity is better lower: minimize it, or leave the "
            "direction out to follow the metric",
        ),
        (["mode=inspect"], "error: mode='inspect': the data report counts classes: task=language_model has none"),
        (["model.width=30"], "error: model.width=30: must be a multiple of model.heads=4"),
        (["data.context=0"], "error: data.context=0: must be >= 1"),
        (
            ["model=mlp"],
            "error: model._target_='sweepwise.models.MLP': a language model takes token ids (batch, 16) and gives a "
            "score per token of the vocabulary at each position (16, 86); this model cannot read them (mat1 and mat2 "
            "must have the same dtype, but got Long and Float): use model=transformer",
        ),
        (
            ["data.max_chars=30"],
            "error: data.max_chars=30: the text has 30 characters, so one of its training and validation parts "
            "(data.val_fraction) has 3, fewer than a sequence of data.context=16 and the character after it: use a "
            "longer text or a shorter data.context",
        ),
        (
            ["task=regression"],
            "error: task='regression': data._target_=sweepwise.data.text_corpus.load_text gives token sequences: "
            "train them with task=language_model",
        ),
    ],
)
def test_language_model_mistakes_stop_in_one_line_before_any_run(tmp_path: Path, args: list[str], expected: str):
    done = _run([*TINY, *args, "trainer.epochs=1", "recipe.preflight=off"], tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [expected]
    assert all_runs(tmp_path) == []


def _run(args: list[str], cwd: Path, timeout: float = 900):
    return run_script(TRAIN_PY, args, cwd, timeout=timeout, python_flags=STRICT)


@pytest.mark.slow
def test_a_language_model_trains_with_its_metrics_and_a_sample_per_epoch(tmp_path: Path):
    done = _run([*TINY, "trainer.epochs=2", "trainer.progress=plain", "recipe.preflight=off"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = all_runs(tmp_path)
    metrics = run.data.metrics
    assert {"val/loss", "val/perplexity", "val/bits_per_token", "val/bits_per_token_se", "val/acc"} <= set(metrics)
    assert metrics["val/perplexity"] == pytest.approx(math.exp(metrics["val/loss"]), rel=1e-4)
    assert metrics["best/val/bits_per_token"] <= math.log2(90)  # below a uniform guess over the vocabulary
    client = mlflow_client(tmp_path)
    assert "predictions/samples.txt" in {item.path for item in client.list_artifacts(run.info.run_id, "predictions")}
    samples = next(tmp_path.glob("outputs/*/*/samples.txt")).read_text()
    assert samples.startswith("prompt: ") and "--- epoch 1 (step " in samples and "--- epoch 2 (step " in samples


@pytest.mark.slow
def test_a_language_model_sweep_minimises_bits_and_its_best_model_reloads_taking_token_ids(tmp_path: Path):
    args = ["sweeps=language_model", "hydra.sweeper.n_trials=3", "trainer.epochs=2", *TINY[3:], "recipe.preflight=off"]
    done = _run(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "it takes token ids (output_names: the vocabulary)" in done.stdout
    study = load_study(tmp_path, "language_model")
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    (parent,), children = sweep_runs(tmp_path, "sweepwise")
    client = mlflow_client(tmp_path)
    for child in children:  # the pruner saw each epoch's bits per token, as the run logged them
        reported = study.trials[int(child.data.tags["sweepwise.trial_number"])].intermediate_values
        logged = {m.step: m.value for m in client.get_metric_history(child.info.run_id, "val/bits_per_token")}
        assert reported == pytest.approx(logged)
    folder = trial_folder(study, study.best_trial, tmp_path / "multirun" / "language_model")
    config = trial_config(folder)
    data = configure.build_data(config.data, configure.build_task(config))
    expected = trial_model(folder, data)
    with mlflow_store(f"sqlite:///{tmp_path / 'mlflow.db'}"):
        info = mlflow.models.get_model_info(parent.data.tags[MODEL_URI_TAG])
        served = mlflow.pyfunc.load_model(parent.data.tags[MODEL_URI_TAG])
    (inputs,) = info.signature.inputs.inputs
    assert inputs.type == np.dtype("int64") and inputs.shape == (-1, 16)
    tokens = data.val_x[:5]
    with torch.no_grad():
        truth = expected(tokens).numpy()
    assert np.allclose(served.predict(tokens.numpy()), truth, atol=1e-4)
