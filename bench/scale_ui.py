"""A sweep's parent run with thousands of children in the MLflow UI, in headless Chromium: does it open and expand,
and how long does it take.

Starts `mlflow server` (one worker, as tests/mlflow_server.py does) on a free port over the given store, opens the
experiment's runs page in Debian's Chromium through Playwright, and times, from the start of the page load:

- parent: until the parent run's row is visible (the page, its scripts and the first search of runs);
- expand: from the click on the parent's expand control until the first child row is visible;
- rows: what the grid then holds (its aria-rowcount, header row excluded) and how many rows are in the page (the
  grid draws only the rows in view), the distinct `trial-N` names among them, and whether a "Load more" button is
  offered: the UI searches runs 100 at a time, newest first, and fetches the parents of what it got, so an
  expanded parent lists the children loaded so far, not all of them;
- with `--load-more K`: each of up to K clicks on "Load more", until the grid grows.

Each of `--repeats` rounds opens a new page in the same browser (the first round loads the UI's scripts cold).
A screenshot of the last round's expanded parent and the timings (JSON) go to `--out`.

The store: a sqlite `mlflow.db` path, a database URI (sqlite:///..., postgresql://...), or the http:// URL of a
server already running (then none is started). `--make N` first writes a synthetic sweep into it (a fresh
`mlflow.db` in a temporary folder when no store is given): a parent run (`sweepwise.role=sweep`) with N finished
children `trial-0`..`trial-N-1`, each with params `x`, `lr`, `model` and an `objective` metric, as a sweep leaves
them. Without `--make`, the parent is the sweep parent run (or, failing one, the run) with the most children, in
`--experiment` or in any experiment; e.g. the store that `bench/scale.py --keep` leaves of a 3,000-trial sweep.

    python bench/scale_ui.py --make 3000 [--out /tmp/sweepwise-scale-ui] [--repeats 2] [--load-more 0] [--timeout 180]
    python bench/scale_ui.py /tmp/sweepwise-scale-journal-XXXX/mlflow.db [--experiment toy]   # bench/scale.py --keep

(`--load-more 30` loads all of 3,000 children, 100 a click.)
"""

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from mlflow_server import MlflowServer
from playwright.sync_api import Browser, Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from sweepwise.study.records import ROLE_TAG, STUDY_TAG, TRIAL_NUMBER_TAG, TRIAL_STATE_TAG

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TRIAL_NAME = re.compile(r"^trial-\d+$")
TRIAL_CELL = re.compile(r"trial-\d+$")  # a name cell's text is its colour chip's, then the name
MATCHING = re.compile(r"([\d,]+) matching runs?")
SEARCH_LIMIT = 50_000


def backend_uri(store: str) -> str:
    """A store argument as an MLflow URI: a path becomes sqlite:///<absolute path>."""
    if "://" in store:
        return store
    return f"sqlite:///{Path(store).expanduser().resolve()}"


def make_sweep(client: MlflowClient, children: int) -> tuple[str, str]:
    """A synthetic sweep: a parent run with `children` finished child runs. Returns (experiment id, parent name)."""
    name = f"scale-ui-{children}"
    experiment = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    experiment_id = client.create_experiment(experiment)
    started = time.perf_counter()
    base = int(time.time() * 1000) - children * 50
    parent = client.create_run(
        experiment_id, run_name=name, start_time=base, tags={ROLE_TAG: "sweep", STUDY_TAG: name}
    ).info.run_id
    for number in range(children):
        at = base + 50 * (number + 1)
        x = (number * 0.6180339887) % 2 - 1
        tags = {MLFLOW_PARENT_RUN_ID: parent, STUDY_TAG: name, TRIAL_NUMBER_TAG: str(number)}
        run_id = client.create_run(experiment_id, run_name=f"trial-{number}", start_time=at, tags=tags).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric("objective", (x - 0.3) ** 2, at + 40, 0)],
            params=[Param("x", str(x)), Param("lr", str(10 ** (-4 + 3 * abs(x)))), Param("model", "mlp")],
            tags=[RunTag(TRIAL_STATE_TAG, "COMPLETE")],
        )
        client.set_terminated(run_id, end_time=at + 45)
    client.log_batch(parent, metrics=[Metric("trials/complete", children, base + 50 * (children + 1), children)])
    client.set_terminated(parent)
    print(f"made experiment {experiment}: parent run {name} with {children} children in "
          f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
    return experiment_id, name


def find_parent(client: MlflowClient, experiment: str | None) -> tuple[str, str, int]:
    """(experiment id, parent run name, children) of the run with the most children."""
    if experiment is not None:
        found = client.get_experiment_by_name(experiment)
        if found is None:
            raise SystemExit(f"no experiment {experiment!r} in the store")
        experiments = [found.experiment_id]
    else:
        experiments = [e.experiment_id for e in client.search_experiments()]
    best: tuple[str, str, int] | None = None
    best_rank: tuple[bool, int] = (False, 0)
    for experiment_id in experiments:
        runs = client.search_runs([experiment_id], max_results=SEARCH_LIMIT)
        counts: dict[str, int] = {}
        for run in runs:
            if parent := run.data.tags.get(MLFLOW_PARENT_RUN_ID):
                counts[parent] = counts.get(parent, 0) + 1
        by_id = {run.info.run_id: run for run in runs}
        for run_id, children in counts.items():
            if (parent_run := by_id.get(run_id)) is None:
                continue
            rank = (parent_run.data.tags.get(ROLE_TAG) == "sweep", children)  # sweep parents first
            if best is None or rank > best_rank:
                best, best_rank = (experiment_id, parent_run.info.run_name, children), rank
    if best is None:
        raise SystemExit("no run with child runs in the store: give --make N, or a store a sweep wrote")
    return best


@dataclass
class Round:
    parent_s: float = 0.0
    expand_s: float = 0.0
    grid_rows: int | None = None  # runs the grid holds (aria-rowcount less the header and "Load more" rows)
    dom_rows: int = 0  # rows in the page, scrolled to the top (the grid draws those in view)
    trial_names_in_dom: int = 0
    matching_runs: int | None = None  # the page's "N matching runs"
    load_more_offered: bool = False
    load_more_s: list[float] = field(default_factory=list)
    grid_rows_after_load_more: int | None = None
    matching_runs_after_load_more: int | None = None


ROWS_JS = """rows => {
    const data = new Set(), header = new Set();
    for (const row of rows) {
        if (row.hasAttribute("row-index")) data.add(row.getAttribute("row-index"));
        else header.add(row.getAttribute("aria-rowindex"));
    }
    return [data.size, header.size];
}"""


def rows_in_page(page: Page) -> tuple[int, int]:
    """(data rows, header rows) in the page: the grid draws each row once per column container (pinned, centre),
    so rows are told apart by their index."""
    data, header = page.locator('[role="row"]').evaluate_all(ROWS_JS)
    return int(data), int(header)


def grid_rows(page: Page, load_more_row: bool) -> int | None:
    """Runs the grid holds: its aria-rowcount less the header rows and the "Load more" row; None without one."""
    count = page.locator('[role="grid"], [role="treegrid"]').first.get_attribute("aria-rowcount")
    if not (count and count.isdigit()):
        return None
    return int(count) - rows_in_page(page)[1] - int(load_more_row)


def trial_names(page: Page) -> int:
    texts = page.locator('[role="gridcell"]').all_inner_texts()
    names = {t.strip().splitlines()[-1].strip() for t in texts if t.strip()}
    return sum(1 for name in names if TRIAL_NAME.match(name))


def matching_runs(page: Page) -> int | None:
    footer = page.get_by_text(MATCHING)
    found = MATCHING.search(footer.first.inner_text()) if footer.count() else None
    return int(found.group(1).replace(",", "")) if found else None


SCROLL_JS = """(viewports, top) => {
    for (const viewport of viewports) viewport.scrollTop = top ? 0 : viewport.scrollHeight;
    return viewports.length;
}"""


def scroll_grid(page: Page, top: bool) -> None:
    page.locator(".ag-body-viewport, .ag-body-vertical-scroll-viewport").evaluate_all(SCROLL_JS, top)


def offers_more(page: Page, button: Locator) -> bool:
    """Whether the grid ends with a "Load more" button (drawn only when in view: the grid is scrolled to its end)."""
    scroll_grid(page, top=False)
    try:
        button.first.wait_for(timeout=3000)
    except PlaywrightTimeoutError:
        return False
    return True


def open_and_expand(
    browser: Browser, url: str, experiment_id: str, parent_name: str, load_more: int, timeout_s: float, shot: Path
) -> Round:
    timeout = timeout_s * 1000
    result = Round()
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        started = time.perf_counter()
        page.goto(f"{url}/#/experiments/{experiment_id}/runs", wait_until="domcontentloaded", timeout=timeout)
        parent = page.locator('[role="gridcell"]').filter(has_text=parent_name).first
        parent.wait_for(timeout=timeout)
        result.parent_s = time.perf_counter() - started
        assistant = page.get_by_role("button", name="Close")
        if assistant.count():
            assistant.first.click()
        expand = parent.locator('button[data-component-id*="runnamecellrenderer"]').first
        expand.wait_for(timeout=timeout)
        started = time.perf_counter()
        expand.click()
        page.locator('[role="gridcell"]').filter(has_text=TRIAL_CELL).first.wait_for(timeout=timeout)
        result.expand_s = time.perf_counter() - started
        page.wait_for_timeout(500)  # let the grid settle before counting
        more = page.get_by_role("button", name=re.compile("load more", re.IGNORECASE))
        result.load_more_offered = offers_more(page, more)
        result.grid_rows = grid_rows(page, result.load_more_offered)
        result.matching_runs = matching_runs(page)
        for _ in range(load_more if result.load_more_offered else 0):
            before = matching_runs(page)
            started = time.perf_counter()
            more.first.click()
            deadline = time.monotonic() + timeout_s
            while matching_runs(page) == before and time.monotonic() < deadline:
                page.wait_for_timeout(50)
            if matching_runs(page) == before:
                break  # the UI still offers "Load more" once every run is loaded: a click that adds none ends it
            result.load_more_s.append(time.perf_counter() - started)
            if not offers_more(page, more):
                break
        if result.load_more_s:
            result.grid_rows_after_load_more = grid_rows(page, offers_more(page, more))
            result.matching_runs_after_load_more = matching_runs(page)
        scroll_grid(page, top=True)
        page.wait_for_timeout(300)
        result.dom_rows = rows_in_page(page)[0]
        result.trial_names_in_dom = trial_names(page)
        page.screenshot(path=str(shot))
    finally:
        page.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("store", nargs="?", help="mlflow.db path, database URI, or http:// URL of a running server")
    parser.add_argument("--make", type=int, metavar="N", help="first write a synthetic parent run with N children")
    parser.add_argument("--experiment", help="the experiment to look in (default: all)")
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "sweepwise-scale-ui", help="screenshot, JSON"
    )
    parser.add_argument("--repeats", type=int, default=2, help="rounds, each in a new page")
    parser.add_argument("--load-more", type=int, default=0, metavar="K", help="click 'Load more' up to K times")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for each step")
    args = parser.parse_args()
    if CHROMIUM is None:
        raise SystemExit("no Chromium: install Debian's chromium package")
    if args.store is None and args.make is None:
        parser.error("give a store, --make N, or both")
    args.out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="sweepwise-scale-ui-"))
    uri = backend_uri(args.store) if args.store else f"sqlite:///{folder / 'mlflow.db'}"
    server = None
    try:
        client = MlflowClient(tracking_uri=uri)
        if args.make is not None:
            experiment_id, parent_name = make_sweep(client, args.make)
            children = args.make
        else:
            experiment_id, parent_name, children = find_parent(client, args.experiment)
        if uri.startswith(("http://", "https://")):
            url = uri.rstrip("/")
        else:
            server = MlflowServer(folder, backend=uri)
            started = time.perf_counter()
            server.start(timeout=args.timeout)
            print(f"mlflow server on {server.url} answered in {time.perf_counter() - started:.1f} s", flush=True)
            url = server.url
        print(f"parent run {parent_name!r} with {children} children, experiment {experiment_id}", flush=True)
        rounds = []
        shot = args.out / "scale_ui.png"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                for number in range(1, args.repeats + 1):
                    done = open_and_expand(browser, url, experiment_id, parent_name, args.load_more, args.timeout, shot)
                    rounds.append(done)
                    more = (
                        f", 'Load more' clicks {[round(s, 2) for s in done.load_more_s]} s" if done.load_more_s else ""
                    )
                    print(
                        f"round {number}: parent row visible {done.parent_s:.2f} s after the page load began; "
                        f"expanded in {done.expand_s:.2f} s; the grid holds {done.grid_rows} rows "
                        f"({done.dom_rows} in the page, {done.trial_names_in_dom} trial names; "
                        f"'{done.matching_runs} matching runs'); 'Load more' "
                        f"{'offered' if done.load_more_offered else 'not offered'}{more}"
                        + (
                            f"; then the grid holds {done.grid_rows_after_load_more} rows "
                            f"('{done.matching_runs_after_load_more} matching runs')"
                            if done.load_more_s
                            else ""
                        ),
                        flush=True,
                    )
            finally:
                browser.close()
        report: dict[str, Any] = {
            "command": " ".join(sys.argv),
            "children": children,
            "parent": parent_name,
            "rounds": [asdict(r) for r in rounds],
        }
        (args.out / "scale_ui.json").write_text(json.dumps(report, indent=2) + "\n")
        print(f"screenshot {shot}, timings {args.out / 'scale_ui.json'}")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
