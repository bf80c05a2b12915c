"""The MLflow UI as a person uses it: a sweep trained on the fixture, browsed in headless Chromium.

Playwright drives Debian's Chromium (/usr/bin/chromium); no browser is downloaded. Without it the tests skip,
except under CI=true, where a missing browser is an error: CI must not pass without looking at the UI.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURE_CSV, REPO
from local_server import local_server

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
# Offline and quiet: no update checks, sync or first-run pages; no sandbox, which containers lack.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EXPERIMENT = "stance-intervention-statements"
SWEEP = ["model=logreg,complement_nb", "features=word,char"]
METRIC = "val_macro_f1"
# `mlflow ui` starts in about 13 s offline; allow for a slow, busy machine.
SERVER_START_TIMEOUT = 120
UI_TIMEOUT_MS = 30_000


def browser_problem() -> str | None:
    if not CHROMIUM.is_file():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is missing (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def browser_available() -> None:
    problem = browser_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the MLflow UI test cannot run: {problem}", pytrace=False)
    pytest.skip(problem)


def subprocess_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def run_module(folder: Path, module: str, *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=folder,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{module} failed:\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def sweep(browser_available, tmp_path_factory) -> dict:
    """A --multirun sweep (2 models x 2 feature sets) on the fixture, logged to a fresh SQLite store."""
    from mlflow import MlflowClient

    folder = tmp_path_factory.mktemp("mlflow-ui")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    overrides = [
        f"data.path={FIXTURE_CSV}",
        f"paths.processed={folder / 'processed'}",
        f"paths.model={folder / 'model.skops'}",
        f"paths.train_run={folder / 'train_run.json'}",
        f"mlflow.tracking_uri={uri}",
        f"hydra.run.dir={folder / 'outputs'}",
        f"hydra.sweep.dir={folder / 'multirun'}",
    ]
    run_module(folder, "pipeline.prepare", *overrides)
    run_module(folder, "pipeline.train", "--multirun", *SWEEP, *overrides)

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    parents = [run for run in runs if run.data.tags.get("sweep_role") == "parent"]
    children = [run for run in runs if run.data.tags.get("sweep_role") != "parent"]
    assert len(children) == 4 and len(parents) <= 1
    # Every run has a name of its own: the table tells them apart without opening them.
    assert len({run.info.run_name for run in runs}) == len(runs)
    return {
        "folder": folder,
        "uri": uri,
        "experiment_id": experiment.experiment_id,
        "parent": {"id": parents[0].info.run_id, "name": parents[0].info.run_name} if parents else None,
        "children": {run.info.run_id: (run.info.run_name, run.data.metrics[METRIC]) for run in children},
    }


@pytest.fixture(scope="module")
def mlflow_ui(sweep) -> str:
    """`mlflow ui` on the sweep's store, as the README tells users to start it; its base URL."""
    mlflow = str(Path(sys.executable).parent / "mlflow")

    def command(port: int) -> list[str]:
        return [mlflow, "ui", "--backend-store-uri", sweep["uri"], "--host", "127.0.0.1", "--port", str(port)]

    with local_server(command, sweep["folder"], subprocess_env(), "/health", SERVER_START_TIMEOUT) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser(browser_available):
    from playwright.sync_api import expect, sync_playwright

    # The UI loads its data after the page: give assertions the same patience as actions.
    expect.set_options(timeout=UI_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def run_name_cell(page, run_id: str):
    return page.locator(f'[role="row"][row-id="{run_id}"] [col-id="attributes.`Run Name`"]')


def open_runs_table(page, base_url: str, sweep: dict) -> None:
    """The experiment's "Training runs" page, with the sweep's children shown under their parent."""
    page.goto(f"{base_url}/#/experiments/{sweep['experiment_id']}/runs")
    if sweep["parent"]:
        # The UI lists a sweep as one collapsed row: expand it as a person would, with the button by its name.
        parent = run_name_cell(page, sweep["parent"]["id"])
        parent.get_by_role("link").wait_for()
        parent.get_by_role("button").click()
    else:
        run_name_cell(page, next(iter(sweep["children"]))).get_by_role("link").wait_for()
    # The assistant side panel opens by default and hides the right part of the table.
    close_assistant = page.get_by_role("button", name="Close", exact=True)
    if close_assistant.count() == 1:
        close_assistant.click()


def show_metric_column(page, metric: str) -> None:
    """Columns > search > tick the metric: the runs table shows no metric columns by default."""
    page.get_by_role("button", name="Columns", exact=True).click()
    page.get_by_placeholder("Search columns").fill(metric)
    # The search also matches longer names such as best_val_macro_f1; tick only the exact one.
    entries = page.locator('[data-testid="column-selector-tree"] .du-bois-light-tree-title')
    entries.filter(has_text=re.compile(f"^{re.escape(metric)}$")).click()
    page.keyboard.press("Escape")


def test_the_runs_table_lists_every_run_of_the_sweep_with_its_score(page, mlflow_ui, sweep, tmp_path):
    from playwright.sync_api import expect

    open_runs_table(page, mlflow_ui, sweep)
    show_metric_column(page, METRIC)
    header = page.locator(f'[role="columnheader"][col-id="metrics.`{METRIC}`"]')
    header.scroll_into_view_if_needed()
    expect(header).to_be_in_viewport()
    for run_id, (name, score) in sweep["children"].items():
        expect(run_name_cell(page, run_id).get_by_role("link")).to_have_text(name)
        shown = page.locator(f'[role="row"][row-id="{run_id}"] [role="gridcell"][col-id="metrics.`{METRIC}`"]')
        expect(shown).to_have_text(re.compile(r"\d\.\d+"))
        assert float(shown.inner_text()) == pytest.approx(score, abs=1e-6), name
    if sweep["parent"]:
        expect(run_name_cell(page, sweep["parent"]["id"]).get_by_role("link")).to_have_text(sweep["parent"]["name"])
    page.screenshot(path=tmp_path / "mlflow_runs.png")
    assert (tmp_path / "mlflow_runs.png").stat().st_size > 10_000


def test_a_run_page_shows_its_scores_parameters_and_sweep(page, mlflow_ui, sweep, tmp_path):
    from playwright.sync_api import expect

    best_id, (best_name, best_score) = max(sweep["children"].items(), key=lambda item: item[1][1])
    open_runs_table(page, mlflow_ui, sweep)
    run_name_cell(page, best_id).get_by_role("link", name=best_name).click()
    expect(page.get_by_role("heading", name=best_name)).to_be_visible()
    expect(page.get_by_text(repr(best_score), exact=True).first).to_be_visible()
    model_name = best_name.split(" · ")[0]
    expect(page.get_by_role("cell", name="model.name", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name=model_name, exact=True).first).to_be_visible()
    if sweep["parent"]:
        expect(page.get_by_text("Parent run", exact=True)).to_be_visible()
        expect(page.get_by_role("link", name=sweep["parent"]["name"])).to_be_visible()
    page.screenshot(path=tmp_path / "mlflow_run.png", full_page=True)
