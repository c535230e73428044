"""The MLflow UI in a real browser: a sweep logged over HTTP to `mlflow server` shows its parent run, expands to
every trial, and shows the objective and a swept parameter as columns."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import service_missing
from sweep_helpers import run_toy

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path: Path) -> Iterator[str]:
    """`mlflow server` on 127.0.0.1 with the lean settings (one worker, no job execution), stopped afterwards."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination", str(tmp_path / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 (the server writes to it until the end)
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "server.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def browser():
    if CHROMIUM is None:
        service_missing("no Chromium: install Debian's chromium package")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("no Playwright: pip install playwright")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def test_the_ui_lists_the_sweep_and_expands_it_to_every_trial(mlflow_server: str, browser, tmp_path: Path):
    done = run_toy(["hydra.sweeper.n_trials=3", f"+tracking.uri={mlflow_server}"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.get_experiment_by_name("toy").experiment_id
    trials = {r.info.run_name: r for r in client.search_runs([experiment]) if r.info.run_name.startswith("trial-")}
    assert sorted(trials) == ["trial-0", "trial-1", "trial-2"]

    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(f"{mlflow_server}/#/experiments/{experiment}/runs", wait_until="domcontentloaded")
    parent = page.locator('[role="gridcell"]').filter(has_text="toy").first
    parent.wait_for(timeout=60_000)
    assistant = page.get_by_role("button", name="Close")
    if assistant.count():
        assistant.first.click()
    assert all(page.get_by_text(name, exact=True).count() == 0 for name in trials)  # collapsed: trials hidden
    parent.locator('button[data-component-id*="runnamecellrenderer"]').first.click()  # expand the sweep
    for name in trials:
        page.get_by_text(name, exact=True).wait_for(timeout=20_000)
    page.get_by_role("button", name="Columns", exact=True).click()
    chooser = page.locator("[role=dialog]").first
    for column in ("objective", "x"):
        chooser.get_by_text(column, exact=True).click()
    page.keyboard.press("Escape")
    headers = page.get_by_role("columnheader")
    shown = {headers.nth(index).inner_text().strip() for index in range(headers.count())}
    assert {"objective", "x"} <= shown
    grid = page.locator('[role="grid"]').first.inner_text()
    for run in trials.values():
        assert str(run.data.metrics["objective"])[:6] in grid and run.data.params["x"][:6] in grid
    screenshot = tmp_path / "mlflow_ui.png"
    page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 10_000
