"""The MLflow UI in a real browser: a sweep logged over HTTP to `mlflow server` shows its parent run, expands to
every trial, and shows the objective and a swept parameter as columns."""

import shutil
from pathlib import Path

import pytest
from helpers import service_missing
from mlflow_server import MlflowServer
from sweep_helpers import run_toy

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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


def test_the_ui_lists_the_sweep_and_expands_it_to_every_trial(
    mlflow_server: MlflowServer, browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    url = mlflow_server.url
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)  # another app's sweep logs where MLflow's own tools would
    done = run_toy(["hydra.sweeper.n_trials=3"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    experiment = client.get_experiment_by_name("toy").experiment_id
    trials = {r.info.run_name: r for r in client.search_runs([experiment]) if r.info.run_name.startswith("trial-")}
    assert sorted(trials) == ["trial-0", "trial-1", "trial-2"]

    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(f"{url}/#/experiments/{experiment}/runs", wait_until="domcontentloaded")
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

    # the sweep's last line links to its trials' view: this sweep's trials alone, best first, their objective and
    # searched params in view without choosing a column
    (hint,) = [line for line in done.stdout.splitlines() if line.startswith("compare the trials: open ")]
    link = hint.split()[4]
    assert link.startswith(f"{url}/#/experiments/{experiment}/runs?viewStateShareKey=")
    view = browser.new_page(viewport={"width": 1600, "height": 900})
    view.goto(link, wait_until="domcontentloaded")
    view.get_by_text("trial-0", exact=True).wait_for(timeout=60_000)
    headers = view.get_by_role("columnheader")
    assert {"objective", "x"} <= {headers.nth(index).inner_text().strip() for index in range(headers.count())}
    words = view.locator('[role="grid"]').first.inner_text().split()
    names = [word for word in words if word.startswith("trial-") or word == "toy"]  # the parent run: toy
    best_first = sorted(trials, key=lambda name: trials[name].data.metrics["objective"])
    assert names == best_first, words
