"""The MLflow UI as a person uses it: a sweep and a registered run trained on the fixture, browsed in headless Chromium.

`pytest tests/test_mlflow_ui.py --ui-screenshots docs/images` also saves the screenshots docs/comparing.md shows.

Playwright drives Debian's Chromium (/usr/bin/chromium); no browser is downloaded. Without it the tests skip,
except under CI=true, where a missing browser is an error: CI must not pass without looking at the UI.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURE_CSV, REPO, run
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
# Evaluated and registered (version 1): the configuration of a sweep job, so its run name gets a number.
EVALUATED = ["model=logreg", "features=word"]
REGISTERED_MODEL = "stance-classifier"
METRIC = "val_macro_f1"
HEADLINE_METRIC = "test_macro_f1"
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
def runs(browser_available, tmp_path_factory) -> dict:
    """A --multirun sweep (2 models x 2 feature sets), then one configuration through the stages, evaluated and
    registered: in a folder laid out as a checkout (the fixture as data/raw/statements.csv, every path the default)."""
    from mlflow import MlflowClient

    folder = tmp_path_factory.mktemp("mlflow-ui")
    (folder / "data" / "raw").mkdir(parents=True)
    shutil.copy(FIXTURE_CSV, folder / "data" / "raw" / "statements.csv")
    shutil.copy(REPO / "data" / "seed_quotes.csv", folder / "data" / "seed_quotes.csv")
    # Committed, so that runs and versions carry a commit (git_commit) as they do in a checkout.
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "fixture"]):
        run(command, folder)
    run_module(folder, "pipeline.prepare")
    run_module(folder, "pipeline.train", "--multirun", *SWEEP)
    # As `make run OVERRIDES=...` runs the stages: the composed config in params.yaml.
    run_module(folder, "pipeline.compose_params", *EVALUATED)
    for stage in ("pipeline.train", "pipeline.evaluate"):
        run_module(folder, stage, "--config-dir", ".", "--config-name", "params")

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    logged = client.search_runs([experiment.experiment_id])
    [parent] = [run for run in logged if run.data.tags.get("sweep_role") == "parent"]
    children = [run for run in logged if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    [evaluated] = [run for run in logged if HEADLINE_METRIC in run.data.metrics]
    assert len(children) == 4 and len(logged) == 6
    version = client.get_model_version(REGISTERED_MODEL, "1")
    assert version.run_id == evaluated.info.run_id
    return {
        "folder": folder,
        "uri": uri,
        "experiment_id": experiment.experiment_id,
        "names": {run.info.run_id: run.info.run_name for run in logged},
        "parent": {"id": parent.info.run_id, "name": parent.info.run_name},
        "children": {run.info.run_id: (run.info.run_name, run.data.metrics[METRIC]) for run in children},
        "evaluated": {
            "id": evaluated.info.run_id,
            "name": evaluated.info.run_name,
            "metrics": evaluated.data.metrics,
            "data_md5": evaluated.data.tags["data_md5"],
        },
    }


@pytest.fixture
def screenshots(request, tmp_path) -> Path:
    """Where screenshots go: --ui-screenshots DIR (docs/images refreshes the docs), else a temporary folder."""
    folder = request.config.getoption("--ui-screenshots")
    return Path(folder) if folder else tmp_path


@pytest.fixture(scope="module")
def mlflow_ui(runs) -> str:
    """`mlflow ui` on the runs' store, as the README tells users to start it; its base URL."""
    mlflow = str(Path(sys.executable).parent / "mlflow")

    def command(port: int) -> list[str]:
        return [mlflow, "ui", "--backend-store-uri", runs["uri"], "--host", "127.0.0.1", "--port", str(port)]

    with local_server(command, runs["folder"], subprocess_env(), "/health", SERVER_START_TIMEOUT) as base_url:
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


def close_assistant(page) -> None:
    """The assistant side panel opens by default and hides the right part of the page."""
    close = page.get_by_role("button", name="Close", exact=True)
    if close.count() == 1:
        close.click()


def open_runs_table(page, base_url: str, runs: dict) -> None:
    """The experiment's "Training runs" page, with the sweep's jobs shown under their parent."""
    page.goto(f"{base_url}/#/experiments/{runs['experiment_id']}/runs")
    # The UI lists a sweep as one collapsed row: expand it as a person would, with the button by its name.
    parent = run_name_cell(page, runs["parent"]["id"])
    parent.get_by_role("link").wait_for()
    parent.get_by_role("button").click()
    close_assistant(page)


def toggle_column(page, name: str) -> None:
    """Columns > search > tick (or untick) the column: the runs table shows no metric columns by default."""
    page.get_by_role("button", name="Columns", exact=True).click()
    page.get_by_placeholder("Search columns").fill(name)
    # The search also matches longer names such as best_val_macro_f1; tick only the exact one.
    entries = page.locator('[data-testid="column-selector-tree"] .du-bois-light-tree-title')
    entries.filter(has_text=re.compile(f"^{re.escape(name)}$")).click()
    page.keyboard.press("Escape")


def widen_run_name_column(page, pixels: int) -> None:
    """Drag the right edge of the "Run Name" header: the column is too narrow for names that differ at the end."""
    header = page.locator('[role="columnheader"][col-id="attributes.`Run Name`"]')
    box = header.bounding_box()
    x, y = box["x"] + box["width"] - 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + pixels, y, steps=10)
    page.mouse.up()


def metric_cell(page, run_id: str, metric: str):
    return page.locator(f'[role="row"][row-id="{run_id}"] [role="gridcell"][col-id="metrics.`{metric}`"]')


def test_the_runs_table_lists_every_run_under_a_name_of_its_own_with_its_scores(page, mlflow_ui, runs, screenshots):
    from playwright.sync_api import expect

    open_runs_table(page, mlflow_ui, runs)
    # As docs/comparing.md says: make room, then show the validation and test scores.
    for column in ("Dataset", "Source", METRIC, HEADLINE_METRIC):
        toggle_column(page, column)
    widen_run_name_column(page, 240)
    header = page.locator(f'[role="columnheader"][col-id="metrics.`{HEADLINE_METRIC}`"]')
    header.scroll_into_view_if_needed()
    expect(header).to_be_in_viewport()
    for run_id, (name, score) in runs["children"].items():
        expect(run_name_cell(page, run_id).get_by_role("link")).to_have_text(name)
        shown = metric_cell(page, run_id, METRIC)
        expect(shown).to_have_text(re.compile(r"\d\.\d+"))
        assert float(shown.inner_text()) == pytest.approx(score, abs=1e-6), name
    evaluated = runs["evaluated"]
    shown = metric_cell(page, evaluated["id"], HEADLINE_METRIC)
    expect(shown).to_have_text(re.compile(r"\d\.\d+"))
    assert float(shown.inner_text()) == pytest.approx(evaluated["metrics"][HEADLINE_METRIC], abs=1e-6)
    # Every run in one table, each under its own name: the evaluated run repeats a sweep job's configuration.
    names = page.locator('[role="row"] [col-id="attributes.`Run Name`"]').get_by_role("link")
    expect(names).to_have_count(len(runs["names"]))
    shown_names = names.all_inner_texts()
    assert sorted(shown_names) == sorted(runs["names"].values())
    assert len(set(shown_names)) == len(shown_names), shown_names
    # The table and none of the empty space below it.
    page.screenshot(path=screenshots / "mlflow_runs.png", clip={"x": 0, "y": 0, "width": 1600, "height": 520})
    assert (screenshots / "mlflow_runs.png").stat().st_size > 10_000


def test_a_run_page_shows_its_scores_parameters_and_sweep(page, mlflow_ui, runs, tmp_path):
    from playwright.sync_api import expect

    best_id, (best_name, best_score) = max(runs["children"].items(), key=lambda item: item[1][1])
    open_runs_table(page, mlflow_ui, runs)
    run_name_cell(page, best_id).get_by_role("link", name=best_name).click()
    expect(page.get_by_role("heading", name=best_name)).to_be_visible()
    expect(page.get_by_text(repr(best_score), exact=True).first).to_be_visible()
    model_name = best_name.split(" · ")[0]
    expect(page.get_by_role("cell", name="model.name", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name=model_name, exact=True).first).to_be_visible()
    expect(page.get_by_text("Parent run", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=runs["parent"]["name"])).to_be_visible()
    page.screenshot(path=tmp_path / "mlflow_run.png", full_page=True)


def test_a_run_page_shows_the_headline_test_metrics_before_the_champion_gates(page, mlflow_ui, runs):
    """Two orders: the Overview's metrics table lists metrics as the server returns them (the order they were
    logged); the "Model metrics" charts put every "<section>/..." metric first, sections by name, then the
    metrics without a "/" by name. The gate's metrics must come after the test scores in both."""
    from playwright.sync_api import expect

    from pipeline.evaluate import GATE_PREFIX

    evaluated = runs["evaluated"]
    gate = [name for name in evaluated["metrics"] if name.startswith(GATE_PREFIX)]
    assert gate, sorted(evaluated["metrics"])
    run_page = f"{mlflow_ui}/#/experiments/{runs['experiment_id']}/runs/{evaluated['id']}"

    page.goto(run_page)
    expect(page.get_by_role("link", name=HEADLINE_METRIC, exact=True)).to_be_visible()
    listed = [text for text in page.get_by_role("link").all_inner_texts() if text in evaluated["metrics"]]
    assert set(listed) == set(evaluated["metrics"])
    assert listed.index(HEADLINE_METRIC) < min(listed.index(name) for name in gate), listed

    # Tall enough for every chart of the search to be drawn: the page draws only the charts in view.
    page.set_viewport_size({"width": 1600, "height": 2400})
    page.goto(f"{run_page}/model-metrics")
    page.get_by_placeholder("Search metric charts").fill("macro_f1")
    titles = page.locator('[data-testid="experiment-view-compare-runs-card"] h4')
    expect(titles.filter(has_text=HEADLINE_METRIC)).to_have_count(1)
    charted = titles.evaluate_all("headings => headings.map(heading => heading.title)")
    gate_charts = [name for name in gate if name in charted]
    assert gate_charts, charted
    assert charted.index(HEADLINE_METRIC) < min(charted.index(name) for name in gate_charts), charted


def test_a_registered_version_says_which_model_data_and_test_scores_it_holds(page, mlflow_ui, runs, screenshots):
    from playwright.sync_api import expect

    evaluated = runs["evaluated"]
    page.goto(f"{mlflow_ui}/#/models/{REGISTERED_MODEL}/versions/1")
    # The description is one paragraph: run name, data name and hash, test scores, champion decision.
    description = page.get_by_text(f"Data: intervention-statements (md5 {evaluated['data_md5'][:8]})")
    expect(description).to_be_visible()
    expect(description).to_contain_text(evaluated["name"])
    expect(description).to_contain_text(f"Test: macro-F1 {evaluated['metrics'][HEADLINE_METRIC]:.3f} · F_avg")
    expect(description).to_contain_text("Champion: promoted (no champion yet)")
    expect(page.get_by_role("cell", name="selection_metric", exact=True)).to_be_visible()
    close_assistant(page)
    page.screenshot(path=screenshots / "mlflow_model_version.png")

    # The registered model's versions table shows the start of each description (cut after about 30 characters):
    # the run name, not Markdown markup.
    page.goto(f"{mlflow_ui}/#/models/{REGISTERED_MODEL}")
    version_row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Version 1", exact=True))
    expect(version_row).to_contain_text(evaluated["name"][:15])
