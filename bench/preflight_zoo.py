"""False alarms of the preflight: every check on correct, well-known pipelines, where a WARN or FAIL is the check's
mistake, not the pipeline's.

The zoo (bench/zoo/): Hugging Face `transformers` vision architectures (ResNet, ConvNeXt, ViT, Swin, MobileNet,
EfficientNet, ...) randomly initialised and sized for 32x32 images, and the project's own models, on scikit-learn's
digits upsampled to 32x32 and on a generated 120-class image set; MLPs (with dropout and layer norm, and the
project's `mlp` and `linear`) on scikit-learn's iris, wine and breast-cancer tables, and on diabetes with its
target binned into 5 classes (small and noisy); the project's `mlp` and `linear` as regressions on diabetes and on
generated targets (linear, non-linear, and noisy with a best R^2 of 0.3); the project's causal transformer as a
character-level language model on the standard library's documentation at two sizes. Each at its authors' learning
rate: Adam 3e-4, or SGD 0.1 with momentum 0.9 for ResNets. Needs the `zoo` extra (`pip install -e .[zoo]`).

Prints a table of pipelines x checks (cells: the statuses), the FAIL/WARN counts per check, every non-PASS
result with what it measured, and the totals: pipelines, pipelines with a FAIL, WARNs, wall time. Writes
`zoo.json` and `zoo.md` (and each pipeline's own preflight reports and log) to --out.

    python bench/preflight_zoo.py [--quick] [--only vit,digits32] [--out DIR] [--threads 1] [--time-limit S]
        [extra overrides for every pipeline, e.g. trainer.device=cpu]
"""

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # HF's init notes would bury the tables
sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch
from common import compose_config
from omegaconf import DictConfig, OmegaConf, open_dict
from zoo.models import HF_MODELS

from sweepwise.recipe.preflight import run_preflight
from sweepwise.recipe.report import FAIL, NOT_APPLICABLE, PASS, WARN

ADAM = ("optimizer=adam", "optimizer.lr=3e-4")
# He et al.'s ResNet recipe: SGD, lr 0.1, momentum 0.9 (plain momentum, not the config's Nesterov)
SGD = ("optimizer=sgd", "optimizer.lr=0.1", "optimizer.momentum=0.9", "optimizer.nesterov=false")
NO_AUGMENT = {"max_shift": 0.0, "noise_std": 0.0}
SPLIT = {"val_fraction": 0.2, "split_seed": 0, "augment": NO_AUGMENT}
IMAGE_DATA: dict[str, dict[str, Any]] = {
    "digits32": {"_target_": "zoo.data.digits32", **SPLIT},
    "protos120": {"_target_": "zoo.data.prototypes", "num_classes": 120, "per_class": 30, **SPLIT},
}
TABLES = ("iris", "wine", "breast_cancer")
# the tables are small (150-569 rows): batches of 16 and 100 epochs give a few hundred optimiser steps; the
# evaluation batch must not exceed the training rows, as the preflight also draws training batches of that size
# (`linear_default_eval_batch@iris` keeps the default 1024 to show it)
TABULAR_TRAINER = ("trainer.batch_size=16", "trainer.epochs=100", "trainer.eval_batch_size=64")
SGD_MODELS = {"resnet18", "resnet50"}
TABULAR = ("mlp", "linear")  # the project's models that take tables
# generated regression targets: (name, function, noise); noise 1.53 leaves a best R^2 of 1 / (1 + 1.53^2) = 0.3
REGRESSION_TARGETS = (("linear_target", "linear", 0.1), ("nonlinear_target", "nonlinear", 0.1),
                      ("noisy_target", "linear", 1.53))  # fmt: skip
# the project's models: a config group and the overrides that size it for 32x32 images (on 2 CPU cores the
# default convnet costs 0.2 s a step there, ResNet-18 at width 64 about 2 s)
PROJECT_IMAGE_MODELS: dict[str, tuple[str, ...]] = {
    "convnet": ("model.width=16", *ADAM),
    "resnet": ("model.width=16", *SGD),
    "mlp": (),
    "linear": (),
}
QUICK = ("convnet@digits32", "hf_resnet18@digits32", "hf_levit@digits32", "mlp_ln@iris", "mlp@wine")
STATUS_ORDER = (FAIL, WARN, NOT_APPLICABLE, PASS)


@dataclass(frozen=True)
class ZooPipeline:
    """One correct pipeline: a model (a config group, or a model node replacing it) on a data node."""

    name: str
    model_group: str
    data: dict[str, Any]
    overrides: tuple[str, ...] = ()
    model: dict[str, Any] | None = None  # replaces the composed `model` node when given


@dataclass
class Outcome:
    pipeline: str
    seconds: float
    overrides: list[str]
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # the pipeline could not be checked at all (a config error, a crash outside checks)

    def status(self, check: str) -> str:
        for result in self.results:
            if result["name"] == check:
                return str(result["status"])
        return "ERR" if self.error else "-"


def zoo_pipelines() -> list[ZooPipeline]:
    """Every pipeline, digits first (the cheapest answers), then the tables, then the 120-class set."""

    def image_pipelines(data_name: str) -> list[ZooPipeline]:
        data = IMAGE_DATA[data_name]
        pipelines = [
            ZooPipeline(f"{name}@{data_name}", name, data, overrides or ADAM)
            for name, overrides in PROJECT_IMAGE_MODELS.items()
        ]
        for name in HF_MODELS:
            node = {"_target_": f"zoo.models.hf_{name}", "dropout": 0.1}
            optimizer = SGD if name in SGD_MODELS else ADAM
            pipelines.append(ZooPipeline(f"hf_{name}@{data_name}", "linear", data, optimizer, node))
        return pipelines

    tabular = []
    for table in TABLES:
        data = {"_target_": "zoo.data.table", "name": table, **SPLIT}
        tabular += [
            ZooPipeline(
                f"mlp_ln@{table}",
                "linear",
                data,
                (*ADAM, *TABULAR_TRAINER),
                {"_target_": "zoo.models.mlp", "width": 64, "depth": 2, "dropout": 0.1, "layer_norm": True},
            ),
            ZooPipeline(
                f"mlp_dropout@{table}",
                "linear",
                data,
                (*ADAM, *TABULAR_TRAINER),
                {"_target_": "zoo.models.mlp", "width": 128, "depth": 3, "dropout": 0.3, "layer_norm": False},
            ),
            ZooPipeline(f"mlp@{table}", "mlp", data, (*ADAM, *TABULAR_TRAINER, "model.dropout=0.2")),
            ZooPipeline(f"linear@{table}", "linear", data, (*ADAM, *TABULAR_TRAINER)),
        ]
    tabular.append(
        ZooPipeline("linear_default_eval_batch@iris", "linear", tabular[0].data, (*ADAM, *TABULAR_TRAINER[:2]))
    )
    bands = {"_target_": "zoo.data.diabetes_bands", **SPLIT}
    tabular += [ZooPipeline(f"{model}@diabetes_bands", model, bands, (*ADAM, *TABULAR_TRAINER)) for model in TABULAR]
    return [
        *image_pipelines("digits32"),
        *tabular,
        *regression_pipelines(),
        *language_model_pipelines(),
        *image_pipelines("protos120"),
    ]


def regression_pipelines() -> list[ZooPipeline]:
    """The project's tabular models under `task=regression`: on diabetes (442 rows), and on generated targets,
    linear, non-linear, and one so noisy that the best R^2 is 0.3."""
    data = {
        "diabetes": {"_target_": "sweepwise.data.diabetes.load_diabetes", **SPLIT},
        **{
            name: {
                "_target_": "sweepwise.data.synthetic_regression.make_regression",
                "function": function,
                "noise": noise,
                "scale": 40.0,
                "offset": 300.0,
                **SPLIT,
            }
            for name, function, noise in REGRESSION_TARGETS
        },
    }
    return [
        ZooPipeline(f"{model}@{name}", model, node, ("task=regression", *ADAM, *trainer))
        for name, node in data.items()
        for model in TABULAR
        for trainer in [TABULAR_TRAINER if name == "diabetes" else ()]
        if not (model == "linear" and name == "nonlinear_target")  # built so that no linear model can learn it
    ]


def language_model_pipelines() -> list[ZooPipeline]:
    """The project's causal transformer on the standard library's documentation (its first 150,000 characters) at
    two sizes, with nanoGPT's character-level rate (AdamW 1e-3)."""
    data = {"_target_": "sweepwise.data.text_corpus.load_text", "max_chars": 150_000, "val_fraction": 0.1}
    sizes = {  # (context, model overrides)
        "transformer_small": (32, ("model.layers=1", "model.heads=2", "model.width=32")),
        "transformer": (64, ("model.layers=2", "model.heads=4", "model.width=128")),
    }
    common = ("task=language_model", "optimizer=adamw", "optimizer.lr=1e-3")
    return [
        ZooPipeline(f"{name}@pydoc", "transformer", {**data, "context": context}, (*common, *sized))
        for name, (context, sized) in sizes.items()
    ]


def select(pipelines: Sequence[ZooPipeline], quick: bool, only: str | None) -> list[ZooPipeline]:
    """`--quick`: a few fast pipelines; `--only a,b`: those whose name contains any of the comma-separated
    parts."""
    chosen = [p for p in pipelines if p.name in QUICK] if quick else list(pipelines)
    if only:
        parts = [part.strip() for part in only.split(",") if part.strip()]
        chosen = [p for p in chosen if any(part in p.name for part in parts)]
    return chosen


def pipeline_config(pipeline: ZooPipeline, folder: Path, extra: Sequence[str]) -> DictConfig:
    cfg = compose_config(
        [f"output_dir={folder}", f"model={pipeline.model_group}", *pipeline.overrides, "recipe.preflight=warn", *extra]
    )
    with open_dict(cfg):
        cfg.data = OmegaConf.create(pipeline.data)
        if pipeline.model is not None:
            cfg.model = OmegaConf.create(pipeline.model)
    return cfg


def check_pipeline(pipeline: ZooPipeline, out: Path, extra: Sequence[str]) -> Outcome:
    """Run the preflight on one pipeline, its terminal table going to the pipeline's own log file."""
    folder = out / "pipelines" / pipeline.name.replace("@", "_at_")
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    outcome = Outcome(pipeline.name, 0.0, [*pipeline.overrides, *extra])
    with (folder / "preflight.log").open("w") as log, contextlib.redirect_stdout(log):
        try:
            report = run_preflight(pipeline_config(pipeline, folder, extra), folder)
            outcome.results = [asdict(result) for result in report.results]
        except Exception as error:  # a config error the preflight re-raises: the pipeline is not checked
            outcome.error = f"{type(error).__name__}: {error}"
    outcome.seconds = time.perf_counter() - started
    return outcome


def check_names(outcomes: Sequence[Outcome]) -> list[str]:
    names: list[str] = []
    for outcome in outcomes:
        names += [r["name"] for r in outcome.results if r["name"] not in names]
    return names


def render(outcomes: Sequence[Outcome], wall_seconds: float, skipped: Sequence[str]) -> tuple[str, str]:
    """The report as plain text (for the terminal) and Markdown."""
    checks = check_names(outcomes)
    width = max([len(o.pipeline) for o in outcomes] + [8])
    text: list[str] = ["", "Preflight false alarms on correct pipelines (cells: status; ERR = not checked)", ""]
    header = f"{'pipeline':<{width}} {'s':>5} " + " ".join(f"{i + 1:>4}" for i in range(len(checks)))
    text += [header, "-" * len(header)]
    md = [
        "# Preflight false alarms on correct pipelines",
        "",
        "| pipeline | s | " + " | ".join(f"{i + 1}" for i in range(len(checks))) + " |",
        "|---|---:|" + "---|" * len(checks),
    ]
    for o in outcomes:
        cells = [o.status(check) for check in checks]
        text.append(f"{o.pipeline:<{width}} {o.seconds:>5.0f} " + " ".join(f"{c:>4}" for c in cells))
        md.append(f"| {o.pipeline} | {o.seconds:.0f} | " + " | ".join(cells) + " |")
    text += ["", "checks:"] + [f"{i + 1:>4}  {name}" for i, name in enumerate(checks)]
    md += ["", "Checks:", ""] + [f"{i + 1}. {name}" for i, name in enumerate(checks)]

    text += ["", f"{'check':<36} {'FAIL':>4} {'WARN':>4} {'N/A':>4} {'PASS':>4}"]
    md += ["", "## Statuses per check", "", "| check | FAIL | WARN | N/A | PASS |", "|---|---:|---:|---:|---:|"]
    for i, check in enumerate(checks):
        counts = [sum(o.status(check) == status for o in outcomes) for status in STATUS_ORDER]
        text.append(f"{i + 1:>2} {check:<33} " + " ".join(f"{c:>4}" for c in counts))
        md.append(f"| {i + 1}. {check} | " + " | ".join(str(c) for c in counts) + " |")

    alarms = [(o.pipeline, r) for o in outcomes for r in o.results if r["status"] in (FAIL, WARN)]
    text += ["", "every FAIL and WARN (pipeline | check | status | measured | criterion):"]
    md += ["", "## Every FAIL and WARN", "", "| pipeline | check | status | measured | criterion |"]
    md.append("|---|---|---|---|---|")
    for pipeline, r in alarms:
        text.append(f"  {pipeline} | {r['name']} | {r['status']} | {r['measured']} | {r['criterion']}")
        md.append(f"| {pipeline} | {r['name']} | {r['status']} | {_cell(r['measured'])} | {_cell(r['criterion'])} |")
    errors = [o for o in outcomes if o.error]
    if errors:
        text += ["", "not checked (the preflight raised):"] + [f"  {o.pipeline}: {o.error}" for o in errors]
        md += ["", "## Not checked", ""] + [f"- {o.pipeline}: {_cell(o.error or '')}" for o in errors]

    failing = sum(any(r["status"] == FAIL for r in o.results) for o in outcomes)
    warns = sum(r["status"] == WARN for o in outcomes for r in o.results)
    totals = [
        f"pipelines: {len(outcomes)} checked"
        + (f", {len(errors)} of them not checkable" if errors else "")
        + (f", {len(skipped)} skipped (time limit or interrupt)" if skipped else ""),
        f"pipelines with a FAIL: {failing}",
        f"WARNs in all: {warns}",
        f"wall time: {wall_seconds:.0f} s ({sum(o.seconds for o in outcomes):.0f} s in the preflights)",
    ]
    text += ["", *totals]
    md += ["", "## Totals", ""] + [f"- {line}" for line in totals]
    if skipped:
        text.append("skipped: " + ", ".join(skipped))
        md.append("- skipped: " + ", ".join(skipped))
    return "\n".join(text), "\n".join(md) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_outputs(out: Path, outcomes: Sequence[Outcome], wall: float, skipped: Sequence[str]) -> str:
    """zoo.json and zoo.md in `out` (rewritten after every pipeline, so an interrupted run keeps its results)."""
    text, markdown = render(outcomes, wall, skipped)
    payload = {"wall_seconds": wall, "skipped": list(skipped), "pipelines": [asdict(o) for o in outcomes]}
    (out / "zoo.json").write_text(json.dumps(payload, indent=2))
    (out / "zoo.md").write_text(markdown)
    return text


def previous_outcomes(path: Path, pipelines: Sequence[ZooPipeline]) -> tuple[list[Outcome], float]:
    """The outcomes of an earlier, interrupted run (`--resume`) for the selected pipelines, and its wall time."""
    if not path.exists():
        return [], 0.0
    names = {p.name for p in pipelines}
    payload = json.loads(path.read_text())
    return [Outcome(**o) for o in payload["pipelines"] if o["pipeline"] in names], float(payload["wall_seconds"])


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    """A `kill` or Ctrl-C ends the run with the tables of what finished (`--resume` goes on from there)."""
    message = f"\n{signal.Signals(signum).name} at {time.strftime('%H:%M:%S')}: stopping"
    print(message, file=sys.__stdout__, flush=True)  # not into the pipeline's log that stdout may be redirected to
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--only", help="comma-separated parts of pipeline names, e.g. vit,iris or @digits32")
    parser.add_argument("--out", type=Path, help="folder for zoo.json, zoo.md and the reports (default: a temp dir)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--time-limit",
        type=float,
        help="start no pipeline after this many seconds of wall time (with --resume, the earlier run's included)",
    )
    parser.add_argument("--list", action="store_true", help="list the selected pipelines and exit")
    parser.add_argument("--resume", action="store_true", help="keep the pipelines already in --out's zoo.json")
    args, extra = parser.parse_known_args()
    pipelines = select(zoo_pipelines(), args.quick, args.only)
    if args.list or not pipelines:
        print("\n".join(p.name for p in pipelines) or "no pipeline matches")
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    out = args.out or Path(tempfile.mkdtemp(prefix="preflight_zoo_"))
    out.mkdir(parents=True, exist_ok=True)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop_on_signal)
    print(f"{len(pipelines)} pipelines; reports in {out}", flush=True)
    started = time.perf_counter()
    outcomes, earlier = previous_outcomes(out / "zoo.json", pipelines) if args.resume else ([], 0.0)
    started -= earlier  # the wall time counts the interrupted run's too
    done = {outcome.pipeline for outcome in outcomes}
    skipped: list[str] = []
    try:
        for index, pipeline in enumerate(pipelines):
            if pipeline.name in done:
                continue
            if args.time_limit is not None and time.perf_counter() - started > args.time_limit:
                skipped = [p.name for p in pipelines[index:] if p.name not in done]
                break
            outcome = check_pipeline(pipeline, out, extra)
            outcomes.append(outcome)
            summary = outcome.error or ", ".join(
                f"{status} {sum(r['status'] == status for r in outcome.results)}"
                for status in STATUS_ORDER
                if any(r["status"] == status for r in outcome.results)
            )
            print(f"[{index + 1}/{len(pipelines)}] {pipeline.name}: {outcome.seconds:.0f} s, {summary}", flush=True)
            write_outputs(out, outcomes, time.perf_counter() - started, [])
    except KeyboardInterrupt:
        finished = {outcome.pipeline for outcome in outcomes}
        skipped = [p.name for p in pipelines if p.name not in finished]
    print(write_outputs(out, outcomes, time.perf_counter() - started, skipped))
    print(f"\nreports: {out / 'zoo.md'}, {out / 'zoo.json'}, {out / 'pipelines'}/")


if __name__ == "__main__":
    main()
