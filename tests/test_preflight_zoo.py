"""A fast part of the preflight zoo (`bench/preflight_zoo.py`), as CI can run it: correct pipelines that need no
optional library (MLPs with dropout and layer norm and the linear model on scikit-learn's tables at Adam 3e-4, the
project's MLP on digits; regressions on diabetes and on generated targets, one so noisy that its best R^2 is 0.3;
diabetes binned into 5 classes) must get no FAIL from any check. The whole zoo, with its Hugging Face
architectures, is a benchmark (docs/benchmarks.md)."""

import json
from pathlib import Path

import pytest
from helpers import REPO, run_script

ZOO = REPO / "bench" / "preflight_zoo.py"
# the tables, the MLP on digits, the regressions, and diabetes binned into 5 noisy classes
FAST = "@iris,@wine,@breast_cancer,mlp@digits32,@diabetes,@linear_target,@noisy_target,mlp@nonlinear_target"


@pytest.mark.slow
def test_the_zoos_fast_pipelines_get_no_false_alarm(tmp_path: Path):
    result = run_script(ZOO, ["--only", FAST, "--out", str(tmp_path), "--threads", "1"], tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    pipelines = json.loads((tmp_path / "zoo.json").read_text())["pipelines"]
    checked = [pipeline for pipeline in pipelines if pipeline["error"] is None]
    assert len(checked) >= 21, [pipeline["pipeline"] for pipeline in pipelines]
    assert all(len(pipeline["results"]) == 25 for pipeline in checked)
    fails = [
        (pipeline["pipeline"], result["name"], result["measured"])
        for pipeline in checked
        for result in pipeline["results"]
        if result["status"] == "FAIL"
    ]
    assert fails == []
