#!/usr/bin/env bash
# The fast tests on the newest releases of everything sweepwise needs. Builds (or refreshes) a virtual environment
# with the newest releases that pip can install together, then installs sweepwise into it: if that would change any
# installed release, the ranges in pyproject.toml shut out a current one, and the script fails naming it. Then runs
# the tests not marked slow (extra arguments go to pytest).
# On Linux the index's torch is a CUDA build of several GB: the environment is kept, and a later run downloads only
# what has been released since.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${NEWEST_VENV:-.venv-newest}
PY=$VENV/bin/python

[ -x "$PY" ] || "$PYTHON" -m venv "$VENV"
"$PY" -m pip install --quiet --upgrade pip
# Each requirement by its name alone (extras kept), so that no range of ours holds a release back.
mapfile -t names < <("$PY" - <<'EOF'
import re
import tomllib

with open("pyproject.toml", "rb") as file:
    project = tomllib.load(file)["project"]
for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]:
    print(re.match(r"[A-Za-z0-9._-]+(\[[^]]*\])?", requirement).group(0))
EOF
)
"$PY" -m pip install --quiet --upgrade --upgrade-strategy eager "${names[@]}"
# Asked first with --dry-run, so that a failed check leaves the newest releases in place for the next run.
report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$PY" -m pip install --quiet --dry-run --report "$report" -e '.[dev]'
"$PY" - "$report" <<'EOF'
import json
import sys
from importlib.metadata import PackageNotFoundError, version

with open(sys.argv[1]) as file:
    wanted = [item["metadata"] for item in json.load(file)["install"]]
changes = []
for package in wanted:
    if package["name"] == "sweepwise":
        continue
    try:
        installed = version(package["name"])
    except PackageNotFoundError:
        installed = "none"
    changes.append(f"{package['name']} {installed} -> {package['version']}")
if changes:
    sys.exit(f"error: installing sweepwise would change the newest releases: {', '.join(changes)}")
EOF
"$PY" -m pip install --quiet -e '.[dev]'
"$PY" -m pip check
"$PY" -c 'import sys; from importlib.metadata import version as v
names = ["torch", "mlflow", "optuna", "hydra-core", "omegaconf", "submitit", "sqlalchemy", "numpy"]
print(f"python {sys.version.split()[0]}, " + ", ".join(f"{name} {v(name)}" for name in names))'
"$PY" -m pytest -q -m "not slow" "$@"
