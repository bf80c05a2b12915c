"""Faults and bad input: foreign models, outputs that would destroy inputs, interruptions, dead runs, broken files.

Each case checks what the user sees (one line on stderr, exit code 2) and that nothing was lost or run. The real
command runs in a subprocess wherever sys.path, signals or exit codes matter; MLflow stores are real SQLite stores
in temporary folders.
"""

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml
from conftest import FIXTURE_CSV, REPO, assert_one_line_error, compose_config, stance_predict

from pipeline.errors import UserInputError
from pipeline.features.text_input import SKOPS_TRUSTED_TYPES
from pipeline.inference import load_model
from pipeline.train import fit_classifier

SEED = REPO / "seeds" / "000_0a13e2fcd2c43a4f.txt"
NAME = "stance-classifier"


def run_predict(*args: str, env: dict | None = None, cwd: Path = REPO, timeout: int = 120):
    """The real stance-predict in a fresh interpreter: (exit code, stdout, stderr)."""
    environment = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.predict", *args, "--quiet"],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result.returncode, result.stdout, result.stderr


# --- Models from strangers: never run their code ---------------------------------------------------------------------


def skops_file_calling(command: str, path: Path) -> Path:
    """A .skops file whose loading calls os.system(command) once `posix.system` is trusted (skops rebuilds such an
    object by calling its type with the stored arguments)."""
    import skops.io

    arguments = json.loads(zipfile.ZipFile(path_of(skops.io.dumps((command,)))).read("schema.json"))
    header = {key: arguments.pop(key) for key in ("protocol", "_skops_version")}
    schema = {
        "__class__": "system",
        "__module__": "posix",
        "__loader__": "ConstructorFromReduceNode",
        "content": arguments,
        "__id__": 1,
        **header,
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    return path


def path_of(data: bytes):
    import io

    return io.BytesIO(data)


def edit_mlmodel(model_dir: Path, change) -> None:
    mlmodel = model_dir / "MLmodel"
    description = yaml.safe_load(mlmodel.read_text())
    change(description["flavors"]["sklearn"])
    mlmodel.write_text(yaml.safe_dump(description))


def ship_code(model_dir: Path, marker: Path) -> None:
    """What MLflow's loader would put first on sys.path: a `skops` package that writes the marker when imported."""
    package = model_dir / "code" / "skops"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    edit_mlmodel(model_dir, lambda flavor: flavor.update(code="code"))


def trust_posix_system(model_dir: Path, marker: Path) -> None:
    """An MLmodel that declares posix.system trusted, beside a skops file that calls it."""
    skops_file_calling(f"touch {marker}", model_dir / "model.skops")
    edit_mlmodel(model_dir, lambda flavor: flavor.update(skops_trusted_types=[*SKOPS_TRUSTED_TYPES, "posix.system"]))


def hide_posix_system(model_dir: Path, marker: Path) -> None:
    """A clean-looking MLmodel; only the skops file names posix.system."""
    skops_file_calling(f"touch {marker}", model_dir / "model.skops")


CRAFTS = {"code folder": ship_code, "MLmodel trusts posix.system": trust_posix_system, "skops calls": hide_posix_system}
REASONS = {
    "code folder": "ships its own code (code/skops)",
    "MLmodel trusts posix.system": "declares types the project does not trust: posix.system",
    "skops calls": "needs types the project does not trust: posix.system",
}


@pytest.fixture(scope="module")
def foreign_models(tmp_path_factory) -> SimpleNamespace:
    """A real MLflow store holding a clean model and, per craft, a tampered copy registered as `<craft>@champion`.

    The tampering happens in the store's own artifact folder, as on a shared store someone else can write to.
    """
    import mlflow

    from pipeline import tracking

    folder = tmp_path_factory.mktemp("foreign")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    classifier = fit_classifier(compose_config(), pd.read_csv(FIXTURE_CSV))
    example = pd.DataFrame({"text": ["The strikes must stop."]})
    markers, names, dirs = {}, {}, {}
    mlflow.set_tracking_uri(uri)
    try:
        experiment = mlflow.create_experiment("foreign", artifact_location=(folder / "artifacts").as_uri())
        for index, (craft, tamper) in enumerate({"clean": None, **CRAFTS}.items()):
            with mlflow.start_run(experiment_id=experiment):
                model_uri = tracking.log_model(classifier, example, "text", None)
            name = f"{NAME}-{index}"
            version = tracking.register_model(model_uri, name)
            tracking.set_alias(name, "champion", version)
            stored = Path(mlflow.get_logged_model(model_uri.removeprefix("models:/")).artifact_location[7:])
            markers[craft] = folder / f"marker-{index}"
            if tamper:
                tamper(stored, markers[craft])
            names[craft], dirs[craft] = name, stored
    finally:
        mlflow.set_tracking_uri(None)
    return SimpleNamespace(uri=uri, folder=folder, names=names, dirs=dirs, markers=markers)


def test_logged_models_carry_no_code_folder(foreign_models):
    clean = foreign_models.dirs["clean"]
    assert not (clean / "code").exists()
    assert not yaml.safe_load((clean / "MLmodel").read_text())["flavors"]["sklearn"].get("code")


@pytest.mark.parametrize("craft", list(CRAFTS))
def test_stance_predict_refuses_a_foreign_model_and_runs_nothing(foreign_models, craft):
    marker = foreign_models.markers[craft]
    model = f"models:/{foreign_models.names[craft]}@champion"
    code, out, err = run_predict(str(SEED), "--model", model, "--tracking-uri", foreign_models.uri)
    assert_one_line_error(code, err, model, "refused to load", REASONS[craft], "--trust-model")
    assert out == "" and not marker.exists()


@pytest.mark.slow
def test_the_model_that_trusts_posix_system_runs_its_code_once_trusted(foreign_models, tmp_path):
    """The control: --trust-model hands the model to MLflow's loader, which trusts what the MLmodel declares.

    (The "skops calls" craft declares nothing, so even MLflow's loader refuses it.)"""
    craft = "MLmodel trusts posix.system"
    copy = Path(shutil.copytree(foreign_models.dirs[craft], tmp_path / "model"))
    marker = foreign_models.markers[craft]
    run_predict(str(SEED), "--model", str(copy), "--trust-model")
    assert marker.exists()
    marker.unlink()


@pytest.mark.slow
def test_the_model_with_a_code_folder_runs_its_code_in_mlflows_own_loader(foreign_models, tmp_path):
    """The control: MLflow's scikit-learn loader puts the model's code folder first on sys.path, so in a fresh
    interpreter the shipped `skops` runs when the loader imports skops.io. (stance-predict --trust-model calls the same
    loader but has imported skops before, so there the shipped package is never imported; the folder still goes first
    on sys.path, ahead of anything imported later.)"""
    craft = "code folder"
    copy = Path(shutil.copytree(foreign_models.dirs[craft], tmp_path / "model"))
    marker = foreign_models.markers[craft]
    load = f"import mlflow.sklearn\ntry:\n    mlflow.sklearn.load_model({str(copy)!r})\nexcept ImportError:\n    pass\n"
    subprocess.run([sys.executable, "-c", load], cwd=tmp_path, capture_output=True, timeout=120, check=True)
    assert marker.exists()
    marker.unlink()


@pytest.mark.parametrize("craft", list(CRAFTS))
def test_the_python_api_and_the_evaluate_loader_refuse_a_foreign_model(foreign_models, craft):
    import mlflow

    from pipeline import tracking

    marker, name = foreign_models.markers[craft], foreign_models.names[craft]
    path_before = list(sys.path)
    with pytest.raises(UserInputError, match=REASONS[craft].replace("(", r"\(").replace(")", r"\)")):
        load_model(f"models:/{name}@champion", foreign_models.uri)
    with pytest.raises(UserInputError, match="refused to load"):
        load_model(foreign_models.dirs[craft])
    mlflow.set_tracking_uri(foreign_models.uri)
    try:
        # What the evaluate stage calls to re-score the champion.
        with pytest.raises(UserInputError, match="refused to load"):
            tracking.load_sklearn_model(f"models:/{name}/{tracking.aliased_model_version(name, 'champion').version}")
    finally:
        mlflow.set_tracking_uri(None)
    assert not marker.exists()
    assert sys.path == path_before
    assert "site-packages" in sys.modules["skops"].__file__


def test_the_clean_model_loads_through_every_path(foreign_models):
    import mlflow

    from pipeline import tracking

    name = foreign_models.names["clean"]
    tagger = load_model(f"models:/{name}@champion", foreign_models.uri)
    mlflow.set_tracking_uri(foreign_models.uri)
    try:
        champion = tracking.load_sklearn_model(
            f"models:/{name}/{tracking.aliased_model_version(name, 'champion').version}"
        )
    finally:
        mlflow.set_tracking_uri(None)
    statements = ["We must defend our allies.", "The bombing must stop."]
    assert list(champion.predict(statements)) == list(tagger.tag(statements)["label"])
    assert list(load_model(foreign_models.dirs["clean"]).tag(statements)["label"]) == list(champion.predict(statements))


def test_a_skops_file_calling_os_system_is_refused(tmp_path):
    marker = tmp_path / "marker"
    evil = skops_file_calling(f"touch {marker}", tmp_path / "evil.skops")
    with pytest.raises(UserInputError, match="refused to load: it needs types the project does not trust: posix"):
        load_model(evil)
    assert not marker.exists()


def test_a_model_file_outside_the_model_folder_is_refused(foreign_models, tmp_path):
    copy = Path(shutil.copytree(foreign_models.dirs["clean"], tmp_path / "model"))
    shutil.move(copy / "model.skops", tmp_path / "elsewhere.skops")
    edit_mlmodel(copy, lambda flavor: flavor.update(pickled_model="../elsewhere.skops"))
    with pytest.raises(UserInputError, match=r"lies outside the model folder \(.*elsewhere.skops\)"):
        load_model(copy)


def test_a_model_file_that_links_out_of_the_model_folder_says_it_is_a_link(foreign_models, tmp_path):
    copy = Path(shutil.copytree(foreign_models.dirs["clean"], tmp_path / "model"))
    shutil.move(copy / "model.skops", tmp_path / "elsewhere.skops")
    (copy / "model.skops").symlink_to(tmp_path / "elsewhere.skops")  # MLmodel still names model.skops
    with pytest.raises(UserInputError, match="lies outside the model folder through the symbolic link model.skops"):
        load_model(copy)


def test_a_pickled_model_is_refused(foreign_models, tmp_path):
    copy = Path(shutil.copytree(foreign_models.dirs["clean"], tmp_path / "model"))
    edit_mlmodel(copy, lambda flavor: flavor.update(serialization_format="cloudpickle"))
    with pytest.raises(UserInputError, match="saved as cloudpickle, which runs code when loaded"):
        load_model(copy)


class RunsACommand:
    """Unpickling this runs `touch <marker>`: what a pickled model from a stranger can do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def pickled_model_running(folder: Path, clean: Path, marker: Path) -> Path:
    copy = Path(shutil.copytree(clean, folder))
    (copy / "model.pkl").write_bytes(pickle.dumps(RunsACommand(marker)))
    edit_mlmodel(copy, lambda flavor: flavor.update(serialization_format="pickle", pickled_model="model.pkl"))
    return copy


def serve(*args: str) -> subprocess.CompletedProcess:
    """`make serve`'s command; a model it accepts would start a server, which these tests never reach."""
    command = [sys.executable, "-m", "pipeline.serve", *args, "--port", "1"]  # port 1: nothing could listen there
    return subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=REPO)


def test_make_serve_refuses_a_busy_port_before_loading_the_model(tmp_path):
    """uvicorn would find the port taken only after the model loaded (half a minute on a busy machine), and end in
    MLflow's traceback."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        command = [sys.executable, "-m", "pipeline.serve", str(tmp_path / "no-model"), "--port", str(port)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=REPO)
    # The model does not exist either: the port is checked first, so the answer is about the port.
    assert_one_line_error(
        result.returncode, result.stderr, f"--port {port}: 127.0.0.1:{port} is already in use", f"PORT={port + 1}"
    )


@pytest.mark.parametrize("craft", [*CRAFTS, "pickle"])
def test_make_serve_refuses_a_foreign_model_before_mlflow_loads_it(foreign_models, craft, tmp_path):
    """`mlflow models serve` loads with MLflow's loader, which would run the author's code: make serve checks first."""
    if craft == "pickle":
        marker = tmp_path / "ran"
        model = str(pickled_model_running(tmp_path / "model", foreign_models.dirs["clean"], marker))
        reason = "saved as pickle"
    else:
        marker, reason = foreign_models.markers[craft], REASONS[craft]
        model = f"models:/{foreign_models.names[craft]}@champion"
    result = serve(model, "--tracking-uri", foreign_models.uri)
    assert_one_line_error(result.returncode, result.stderr, model, "refused to load", reason, "(not served)")
    assert not marker.exists()


def test_make_serve_without_a_model_serves_the_prepared_data_sets_champion(foreign_models, tmp_path):
    """As stance-predict does: the champion of the data set prepared in the folder, not the shipped corpus's."""
    name = foreign_models.names["skops calls"]
    (tmp_path / "data" / "processed").mkdir(parents=True)
    (tmp_path / "data" / "processed" / "dataset.json").write_text(json.dumps({"data": {"registered_model": name}}))
    command = [sys.executable, "-m", "pipeline.serve", "--tracking-uri", foreign_models.uri, "--port", "1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    model = f"models:/{name}@champion"
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"serving {model} (the champion of the data set prepared here)"
    assert_one_line_error(result.returncode, "\n".join(lines[1:]), model, "refused to load", "(not served)")


def test_the_prepared_champion_of_another_data_set_is_refused_unless_named(
    foreign_models, tmp_path, capsys, monkeypatch
):
    """Prepare took `my-quotes` with data.registered_model naming the registered model of another data set (the
    train stage then refused to train it): the default model would answer with that data set's champion."""
    from mlflow import MlflowClient

    from pipeline.inference import load_champion

    name = foreign_models.names["clean"]
    client = MlflowClient(tracking_uri=foreign_models.uri)
    client.set_registered_model_tag(name, "labels", "['pro-intervention', 'anti-intervention', 'neutral']")
    client.set_registered_model_tag(name, "dataset", "intervention-statements")  # as claim_registered_model tags it
    processed = tmp_path / "data" / "processed"
    processed.mkdir(parents=True)
    (processed / "dataset.json").write_text(json.dumps({"data": {"name": "my-quotes", "registered_model": name}}))
    monkeypatch.chdir(tmp_path)
    try:
        args = ("--lines", "--tracking-uri", foreign_models.uri)
        code, out, err = stance_predict(capsys, *args, stdin=b"Keep the ships there.\n", monkeypatch=monkeypatch)
        assert_one_line_error(
            code, err, f"registered model {name!r} holds data set 'intervention-statements'", "not 'my-quotes'"
        )
        assert out == ""
        with pytest.raises(UserInputError, match="not 'my-quotes', the data set prepared here"):
            load_champion(foreign_models.uri)
        # make serve without a model serves the same default, and refuses it the same way, before any server starts.
        command = [sys.executable, "-m", "pipeline.serve", "--tracking-uri", foreign_models.uri, "--port", "1"]
        served = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=tmp_path)
        assert_one_line_error(
            served.returncode,
            "\n".join(served.stderr.strip().splitlines()[1:]),  # after "serving <model> (the champion ...)"
            f"registered model {name!r} holds data set 'intervention-statements'",
            "(not served)",
        )
        # Named outright, the same model tags: the user chose it.
        named = stance_predict(
            capsys,
            *args,
            "--model",
            f"models:/{name}@champion",
            stdin=b"Keep the ships there.\n",
            monkeypatch=monkeypatch,
        )
        assert named[0] == 0 and named[1].count("\n") == 1
        # The data set's own registered model (or one without identity tags, registered before they were kept) is used.
        client.set_registered_model_tag(name, "dataset", "my-quotes")
        assert load_champion(foreign_models.uri).tag(["Keep the ships there."])["label"].size == 1
    finally:
        for tag in ("dataset", "labels"):
            client.delete_registered_model_tag(name, tag)


# --- Runs end in a true state ----------------------------------------------------------------------------------------

TRAINING_RUN = """
import sys, time
from hydra import compose, initialize_config_dir
from pipeline import tracking
with initialize_config_dir(sys.argv[1], version_base=None):
    cfg = compose(config_name="config", overrides=["mlflow.tracking_uri=" + sys.argv[2]])
with tracking.training_run(cfg, sys.argv[3]) as run:
    tracking.log_metrics({"val_macro_f1": 0.9})
    print(run.info.run_id, flush=True)
    time.sleep(300)
"""


def start_run_holder(script: str, uri: str, stderr=subprocess.DEVNULL) -> tuple[subprocess.Popen, str]:
    """A process running `script`, which opens a training run and prints its id; returns it and the run id."""
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(REPO / "conf"), uri, str(FIXTURE_CSV)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    return process, process.stdout.readline().strip()


def start_training_run(uri: str) -> tuple[subprocess.Popen, str]:
    """A process holding an open training run, as the train stage does while it logs; returns it and the run id."""
    return start_run_holder(TRAINING_RUN, uri)


INTERRUPTED_STAGE = """
import sys, time
from hydra import compose, initialize_config_dir
from pipeline import tracking
from pipeline.errors import exit_on_user_error
with initialize_config_dir(sys.argv[1], version_base=None):
    cfg = compose(config_name="config", overrides=["mlflow.tracking_uri=" + sys.argv[2]])

@exit_on_user_error
def stage():
    with tracking.training_run(cfg, sys.argv[3]) as run:
        print(run.info.run_id, flush=True)
        time.sleep(300)

stage()
"""


def test_ctrl_c_in_a_stage_says_interrupted_exits_130_and_closes_its_run_as_killed(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    process, run_id = start_run_holder(INTERRUPTED_STAGE, uri, stderr=subprocess.PIPE)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1] == "interrupted" and "Traceback" not in stderr
    assert mlflow.MlflowClient(uri).get_run(run_id).info.status == "KILLED"


@pytest.mark.slow
def test_a_killed_run_is_marked_failed_when_the_next_stage_starts_and_compare_hides_it(tmp_path, capsys):
    import mlflow

    from pipeline import compare, tracking
    from pipeline.experiments import run_owners

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    with tracking.sqlite_setup_lock(uri):
        mlflow.set_experiment("stance-intervention-statements")  # the store exists before two processes open it
    killed, killed_id = start_training_run(uri)
    alive, alive_id = start_training_run(uri)
    try:
        assert killed_id and alive_id
        killed.kill()  # SIGKILL: no handler runs, the run stays RUNNING
        killed.wait(timeout=30)
        client = mlflow.MlflowClient(uri)
        assert client.get_run(killed_id).info.status == "RUNNING"
        assert client.get_run(killed_id).data.tags[run_owners.PID_TAG] == str(killed.pid)

        # The next stage to start: a training run of its own.
        cfg = compose_config([f"mlflow.tracking_uri={uri}"])
        with tracking.training_run(cfg, str(FIXTURE_CSV)):
            tracking.log_metrics({"val_macro_f1": 0.5})

        dead = client.get_run(killed_id)
        assert dead.info.status == "FAILED"
        assert f"its process {killed.pid}" in dead.data.tags[run_owners.STALE_REASON_TAG]
        assert client.get_run(alive_id).info.status == "RUNNING"  # its process lives: left alone

        compare.main(["--tracking-uri", uri, "--chart", str(tmp_path / "chart.png")])
        shown = capsys.readouterr().out
        assert "Best 1 of 1 runs" in shown
        assert "1 run(s) FAILED" in shown and "1 run(s) RUNNING" in shown and "--all-states" in shown
        compare.main(["--tracking-uri", uri, "--chart", str(tmp_path / "chart.png"), "--all-states"])
        assert "Best 3 of 3 runs" in capsys.readouterr().out
    finally:
        alive.kill()
        alive.wait(timeout=30)
        mlflow.set_tracking_uri(None)


def test_a_run_of_another_machine_is_stale_only_after_the_timeout():
    from pipeline.experiments.run_owners import HOST_TAG, PID_TAG, RunState, stale_reason

    now = 1_000_000.0
    elsewhere = {HOST_TAG: "another-host", PID_TAG: "1"}
    hours_ago = lambda hours: int((now - hours * 3600) * 1000)  # noqa: E731
    assert stale_reason(RunState("a", "RUNNING", hours_ago(2), elsewhere), now, stale_after_hours=48) is None
    reason = stale_reason(RunState("b", "RUNNING", hours_ago(50), elsewhere), now, stale_after_hours=48)
    assert reason == "RUNNING for 50 h (owned by 1 on another-host), longer than 48 h"
    assert "no recorded owner" in stale_reason(RunState("c", "RUNNING", hours_ago(50), {}), now, 48)
    assert stale_reason(RunState("d", "FINISHED", hours_ago(500), {}), now, 48) is None


def test_a_reused_pid_does_not_keep_a_dead_run_alive():
    """The owner is this very pid, but a process that started at another time: the run's owner is gone."""
    from pipeline.experiments.run_owners import HOST_TAG, PID_START_TAG, PID_TAG, RunState, stale_reason

    tags = {HOST_TAG: __import__("socket").gethostname(), PID_TAG: str(os.getpid()), PID_START_TAG: "1"}
    assert "is gone" in stale_reason(RunState("a", "RUNNING", 0, tags))
    from pipeline.experiments.run_owners import owner_tags

    assert stale_reason(RunState("a", "RUNNING", 0, owner_tags())) is None  # this process, alive


# --- No destroyed files ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> Path:
    from pipeline.train import save_classifier

    path = tmp_path_factory.mktemp("model") / "classifier.skops"
    save_classifier(fit_classifier(compose_config(), pd.read_csv(FIXTURE_CSV)), str(path))
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def output_aliases(folder: Path, name: str) -> list[str]:
    """Ways to name the file folder/name again: as given, absolute, through '..', a symlink, a hard link."""
    (folder / "sub").mkdir()
    (folder / "link").symlink_to(folder / name)
    os.link(folder / name, folder / "hardlink")
    return [name, str(folder / name), f"sub/../{name}", "link", "hardlink"]


def test_an_output_that_is_the_input_article_is_refused(small_model, tmp_path, capsys, monkeypatch):
    shutil.copy(SEED, tmp_path / "a.txt")
    monkeypatch.chdir(tmp_path)
    aliases = output_aliases(tmp_path, "a.txt")
    before = snapshot(tmp_path)
    for output in aliases:
        code, out, err = stance_predict(capsys, "a.txt", "-o", output, "--model", str(small_model))
        assert_one_line_error(code, err, f"--output {output}", "a.txt", "would destroy it")
        assert out == ""
    assert snapshot(tmp_path) == before


def test_a_table_rewritten_in_place_and_the_model_file_are_refused(small_model, tmp_path, capsys, monkeypatch):
    pd.read_csv(FIXTURE_CSV)[["text"]].head(5).to_csv(tmp_path / "s.csv", index=False)
    model = Path(shutil.copy(small_model, tmp_path / "model.skops"))
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    for output in ["s.csv", str(tmp_path / "s.csv"), "./sub/../s.csv"]:
        (tmp_path / "sub").mkdir(exist_ok=True)
        code, _, err = stance_predict(capsys, "s.csv", "-o", output, "--model", str(model))
        assert_one_line_error(code, err, "the input", "would destroy it")
    code, _, err = stance_predict(capsys, "s.csv", "-o", "model.skops", "--model", str(model))
    assert_one_line_error(code, err, "is the model file", "would destroy it")
    assert snapshot(tmp_path) == before
    # Another name is fine.
    code, _, err = stance_predict(capsys, "s.csv", "-o", "tagged.csv", "--model", str(model))
    assert code == 0, err


def big_table(folder: Path, rows: int) -> Path:
    texts = pd.read_csv(FIXTURE_CSV)["text"]
    frame = pd.DataFrame({"text": [texts[index % len(texts)] for index in range(rows)]})
    frame.to_csv(folder / "big.csv", index=False)
    return folder / "big.csv"


@pytest.mark.parametrize(("signal_name", "exit_code"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_an_interrupted_run_leaves_no_temporary_file_and_keeps_the_old_output(
    small_model, tmp_path, signal_name, exit_code
):
    import signal
    import time

    table = big_table(tmp_path, 200_000)
    output = tmp_path / "tagged.jsonl"
    output.write_text("the previous output\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.predict", str(table), "-o", str(output), "--model", str(small_model)]
        + ["--batch-size", "500", "--quiet"],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not list(tmp_path.glob(".tagged.jsonl.*.tmp")) and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.05)
        temporary = list(tmp_path.glob(".tagged.jsonl.*.tmp"))
        assert temporary, "the temporary output never appeared"
        time.sleep(0.3)  # well inside the writing: rows are landing in the temporary file
        assert temporary[0].stat().st_size > 0 and process.poll() is None
        process.send_signal(getattr(signal, signal_name))
        assert process.wait(timeout=60) == exit_code
    finally:
        process.kill()
    assert "Traceback" not in process.stderr.read()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["big.csv", "tagged.jsonl"]
    assert output.read_text() == "the previous output\n"


# --- Bad input: one line, exit code 2 -------------------------------------------------------------------------------


def labelled_rows(count: int) -> list[dict]:
    return [{"id": f"s{index}", "text": f"Statement number {index}.", "label": "neutral"} for index in range(count)]


def test_a_header_only_csv_stops_the_prepare_stage_with_one_line(tmp_path):
    """The real stage: exit code 2, one line on stderr, no split written."""
    header_only = tmp_path / "header.csv"
    header_only.write_text("id,text,label\n")
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.prepare", f"data.path={header_only}"]
        + [f"paths.processed={tmp_path / 'processed'}", f"hydra.run.dir={tmp_path / 'hydra'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_one_line_error(result.returncode, result.stderr, str(header_only), "no rows below the header")
    assert not (tmp_path / "processed").exists()


def make_jsonl_with_bad_line(folder: Path) -> Path:
    lines = [json.dumps(row) for row in labelled_rows(60)]
    lines[50] = '{"id": "s50", "text": "unterminated, "label": "neutral"}'
    path = folder / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda folder: (folder / "dir.csv").mkdir() or str(folder / "dir.csv"), "is a folder; set data.path"),
        (lambda folder: (folder / "dir.csv").mkdir() or str(folder / "dir.csv") + "/", "is a folder; set data.path"),
        (lambda folder: (folder / "data").mkdir() or str(folder / "data"), "is a folder without data files"),
        (make_jsonl_with_bad_line, "line 51: not valid JSON"),
        (lambda folder: (folder / "h.tsv").write_text("id\ttext\tlabel\n") and str(folder / "h.tsv"), "no rows below"),
        # Read as is, the first fields would become an index: text "ok", label " then", and no word of the comma.
        (
            lambda folder: (
                (folder / "c.csv").write_text("text,label\nok, then,neutral\nfine,neutral\n") and folder / "c.csv"
            ),
            "line 2 has 3 fields, the header 2 (text, label); a field holding ',' must be quoted",
        ),
    ],
    ids=["folder named .csv", "folder with a slash", "folder", "JSON Lines line 51", "header-only TSV", "first row"],
)
def test_the_loader_names_the_file_and_the_problem(tmp_path, make, expected):
    from pipeline.data.loading import load_statements

    location = str(make(tmp_path))
    with pytest.raises(UserInputError) as raised:
        load_statements(location)
    message = str(raised.value)
    assert expected in message and "\n" not in message
    assert message.startswith(location.rstrip("/"))


def corrupt(kind: str, model_dir: Path) -> None:
    if kind == "truncated model file":
        data = (model_dir / "model.skops").read_bytes()
        (model_dir / "model.skops").write_bytes(data[: len(data) // 2])
    elif kind == "missing model file":
        (model_dir / "model.skops").unlink()
    elif kind == "MLmodel not YAML":
        (model_dir / "MLmodel").write_text("flavors: [unclosed\n  : :")
    elif kind == "MLmodel without sklearn":
        (model_dir / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    elif kind == "MLmodel binary":
        (model_dir / "MLmodel").write_bytes(b"\xff\xfe\x00garbage")


CORRUPTIONS = {
    "truncated model file": "could not be loaded as a skops model (BadZipFile",
    "missing model file": "the model file model.skops is missing",
    "MLmodel not YAML": "MLmodel is not readable YAML",
    "MLmodel without sklearn": "MLmodel has no sklearn flavor",
    "MLmodel binary": "MLmodel is not readable YAML",
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_a_corrupt_model_folder_is_one_line(foreign_models, tmp_path, capsys, kind):
    model_dir = Path(shutil.copytree(foreign_models.dirs["clean"], tmp_path / "model"))
    corrupt(kind, model_dir)
    code, out, err = stance_predict(capsys, str(SEED), "--model", str(model_dir), "-o", str(tmp_path / "out.jsonl"))
    assert_one_line_error(code, err, str(model_dir), CORRUPTIONS[kind])
    assert out == "" and not (tmp_path / "out.jsonl").exists()


def mount_tmpfs(folder: Path, size: str) -> bool:
    """A small tmpfs at `folder` where this process may mount one (root here); False elsewhere."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]).returncode == 0


def unmount(folder: Path) -> None:
    # Lazy: a connection MLflow still caches must not keep the mount (and the test's folder) busy.
    subprocess.run(["umount", "--lazy", str(folder)], check=True)


def test_a_read_only_store_stops_a_stage_before_any_work(tmp_path):
    import hashlib

    import mlflow

    from pipeline import tracking

    store_dir = tmp_path / "store"
    mounted = mount_tmpfs(store_dir, "8m")
    uri = f"sqlite:///{store_dir / 'mlflow.db'}"
    try:
        # A run logged by another process, which then exits: this one holds no connection to the store.
        process, run_id = start_training_run(uri)
        process.kill()
        process.wait(timeout=30)
        assert run_id
        cfg = compose_config([f"mlflow.tracking_uri={uri}"])
        if mounted:  # a read-only filesystem stops root too
            subprocess.run(["mount", "-o", "remount,ro", str(store_dir)], check=True)
        else:  # elsewhere, file modes do
            (store_dir / "mlflow.db").chmod(0o444)
            store_dir.chmod(0o555)
        before = hashlib.sha256((store_dir / "mlflow.db").read_bytes()).hexdigest()
        with pytest.raises(UserInputError) as raised, tracking.training_run(cfg, str(FIXTURE_CSV)):
            pass
        assert "the MLflow store" in str(raised.value) and "is read-only" in str(raised.value)
        assert "\n" not in str(raised.value)
        assert hashlib.sha256((store_dir / "mlflow.db").read_bytes()).hexdigest() == before
    finally:
        mlflow.set_tracking_uri(None)
        if mounted:
            unmount(store_dir)
        else:
            store_dir.chmod(0o755)
            (store_dir / "mlflow.db").chmod(0o644)


def test_a_full_disk_is_one_line_and_leaves_nothing_behind(small_model, tmp_path, capsys, monkeypatch):
    """A 64 KB tmpfs where the machine allows mounting one (as root here); elsewhere the output's writes fail
    with ENOSPC as a full disk's would, through the same atomic_path."""
    import errno

    disk = tmp_path / "disk"
    mounted = mount_tmpfs(disk, "64k")
    try:
        if not mounted:
            from pipeline import predict

            def full(self, frame):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            monkeypatch.setattr(predict.RowWriter, "write", full)
        (disk / "tagged.jsonl").write_text("the previous output\n")
        table = big_table(tmp_path, 2000)  # about 400 KB of output
        output = disk / "tagged.jsonl"
        code, _, err = stance_predict(capsys, str(table), "-o", str(output), "--model", str(small_model))
        assert_one_line_error(code, err, str(output), "No space left on device", "unchanged")
        assert sorted(path.name for path in disk.iterdir()) == ["tagged.jsonl"]
        assert output.read_text() == "the previous output\n"
    finally:
        if mounted:
            unmount(disk)


# --- Generated bad input (Hypothesis) --------------------------------------------------------------------------------
# Each example writes one damaged file and feeds it to the data loader, stance-predict or the Python API. Every
# example must end in a result or in one line naming the file, never in a traceback, and must leave every other
# file as it was. TALLY counts the examples tried and those that lost or changed anything.

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

TALLY: dict[str, list[int]] = {}
EXAMPLES = settings(
    max_examples=int(os.environ.get("FAULT_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: a failure in CI reproduces locally
    # No shrinking: it would re-run the slow loader dozens of times; the failing example is printed as found.
    phases=[Phase.explicit, Phase.generate],
)
VALID_CSV = FIXTURE_CSV.read_bytes()
VALID_JSONL = "".join(json.dumps(row) + "\n" for row in pd.read_csv(FIXTURE_CSV).to_dict("records")).encode()
VALID_ARTICLE = SEED.read_bytes()
SUFFIX_OF = {"csv": VALID_CSV, "jsonl": VALID_JSONL, "txt": VALID_ARTICLE}


@pytest.fixture(scope="module", autouse=True)
def report_tally():
    yield
    if path := os.environ.get("FAULT_TALLY"):
        Path(path).write_text(json.dumps(TALLY, indent=2, sort_keys=True) + "\n")


def count(suite: str, lost: bool) -> None:
    tried_lost = TALLY.setdefault(suite, [0, 0])
    tried_lost[0] += 1
    tried_lost[1] += int(lost)


def mixed_encodings(draw_text: str, codecs: list[str]) -> bytes:
    parts = zip(draw_text.split(" "), codecs, strict=False)
    return b"".join(part.encode(codec, errors="replace") for part, codec in parts)


def wrong_type_jsonl(values: list) -> bytes:
    rows = ({"id": f"s{index}", "text": value, "label": "neutral"} for index, value in enumerate(values))
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
DAMAGED = st.one_of(
    st.tuples(st.just("random bytes"), st.sampled_from(list(SUFFIX_OF)), st.binary(max_size=3000)),
    st.sampled_from(list(SUFFIX_OF)).flatmap(
        lambda suffix: st.tuples(
            st.just("truncated"),
            st.just(suffix),
            st.integers(0, len(SUFFIX_OF[suffix])).map(lambda cut: SUFFIX_OF[suffix][:cut]),
        )
    ),
    st.tuples(
        st.just("wrong types"),
        st.just("jsonl"),
        st.lists(st.one_of(JSON_VALUES, st.lists(JSON_VALUES, max_size=3)), min_size=1, max_size=8).map(
            wrong_type_jsonl
        ),
    ),
    st.tuples(
        st.just("huge line"),
        st.sampled_from(list(SUFFIX_OF)),
        st.tuples(st.sampled_from(['"', "a", " ", ",", "\u201c"]), st.integers(10_000, 300_000)).map(
            lambda pair: (pair[0] * pair[1]).encode()
        ),
    ),
    st.tuples(
        st.just("mixed encodings"),
        st.sampled_from(list(SUFFIX_OF)),
        st.tuples(
            st.text(min_size=1, max_size=200),
            st.lists(st.sampled_from(["utf-8", "latin-1", "utf-16", "cp1252"]), min_size=1, max_size=40),
        ).map(lambda pair: mixed_encodings(*pair)),
    ),
)


def assert_one_line_naming(message: str, path: Path) -> None:
    assert "\n" not in message.strip(), message
    assert "Traceback" not in message, message
    assert path.name in message, (path.name, message)


@given(damaged=DAMAGED)
@EXAMPLES
def test_generated_bad_files_through_the_data_loader(tmp_path_factory, damaged):
    """load_statements, as the prepare stage runs it first; earlier splits stay untouched.

    (Validation, which comes next, lists every problem it finds on lines of its own: tests/test_validation.py.)
    """
    from pipeline.data.loading import load_statements
    from pipeline.data.stage_io import write_splits

    kind, suffix, data = damaged
    folder = tmp_path_factory.mktemp("loader")
    path = folder / f"statements.{'csv' if suffix == 'txt' else suffix}"
    path.write_bytes(data)
    processed = folder / "processed"
    processed.mkdir()
    (processed / "train.parquet").write_bytes(b"the previous split")
    before = snapshot(folder)
    try:
        frame = load_statements(str(path))
    except UserInputError as error:
        assert_one_line_naming(str(error), path)
        lost = snapshot(folder) != before
    else:
        write_splits({"train": frame.astype(str)}, str(processed))
        lost = snapshot(folder)[path.name] != data
    count(f"data loader: {kind}", lost)
    assert not lost


@given(damaged=DAMAGED)
@EXAMPLES
def test_generated_bad_files_through_stance_predict(small_model, tmp_path_factory, capsys, damaged):
    """Articles (.txt) and statement tables: exit 0 with an output, or exit 2 with one line and no output."""
    kind, suffix, data = damaged
    folder = tmp_path_factory.mktemp("predict")
    path = folder / f"input.{suffix}"
    path.write_bytes(data)
    (folder / "tagged.jsonl").write_text("the previous output\n")
    before = snapshot(folder)
    code, out, err = stance_predict(capsys, str(path), "-o", str(folder / "tagged.jsonl"), "--model", str(small_model))
    assert code in (0, 2), err
    if code == 2:
        # Warnings about articles without quotes may come first; the error itself is one line.
        errors = [line for line in err.strip().splitlines() if not line.startswith("warning: ")]
        assert len(errors) == 1 and errors[0].startswith("error: "), err
        assert_one_line_naming(errors[0], path)
        lost = snapshot(folder) != before
    else:
        after = snapshot(folder)
        lost = after[path.name] != data or sorted(after) != sorted(before)
    count(f"stance-predict: {kind}", lost)
    assert not lost


@given(damaged=DAMAGED)
@EXAMPLES
def test_generated_bad_files_through_the_python_api(small_model, tmp_path_factory, damaged):
    """The same bytes as a model file, and as an article or statements handed to a loaded model."""
    kind, _, data = damaged
    folder = tmp_path_factory.mktemp("api")
    model_file = folder / "model.skops"
    model_file.write_bytes(data)
    with pytest.raises(UserInputError) as raised:
        load_model(model_file)
    assert_one_line_naming(str(raised.value), model_file)
    tagger = load_model(small_model)
    text = data.decode("utf-8", errors="replace")
    tagged = tagger.tag_article(text)
    assert set(tagged.columns) >= {"text", "speaker", "label"}
    assert len(tagger.tag(text.splitlines() or [text])) == max(1, len(text.splitlines()))
    count(f"Python API: {kind}", snapshot(folder) != {"model.skops": data})
    assert snapshot(folder) == {"model.skops": data}


def test_generated_bad_model_references_leave_the_store_and_aliases_unchanged(foreign_models, capsys):
    """Through a real registry: every refused or broken model leaves the store's database and aliases as they were."""
    import hashlib

    import mlflow

    database = foreign_models.folder / "mlflow.db"

    def state():
        client = mlflow.MlflowClient(foreign_models.uri)
        aliases = {name: client.get_registered_model(name).aliases for name in foreign_models.names.values()}
        return hashlib.sha256(database.read_bytes()).hexdigest(), aliases

    before = state()
    references = [f"models:/{name}@champion" for name in foreign_models.names.values()]
    references += [f"models:/{NAME}-0/99", f"models:/{NAME}-0@retired", "runs:/0123456789abcdef/model"]
    for reference in references:
        code, _, err = stance_predict(capsys, str(SEED), "--model", reference, "--tracking-uri", foreign_models.uri)
        assert code in (0, 2), err
        if code == 2:
            assert_one_line_error(code, err, reference)
        count("registry references", state() != before)
    mlflow.set_tracking_uri(None)
    assert state() == before


# --- Quote extraction on large input, and the size limit -------------------------------------------------------------


@pytest.mark.parametrize("shape", ["paragraphs", "one paragraph"])
def test_a_long_article_gives_each_copy_of_the_seed_its_quotes(shape):
    """400 KB of the founding article repeated: every copy yields the seed's quotes at its own offsets, and every copy
    after the first (which sees the same earlier names) the same speakers."""
    from pipeline.articles.quotes import extract_quotes

    seed = SEED.read_text(encoding="utf-8").strip()
    unit = seed + "\n\n" if shape == "paragraphs" else seed.replace("\n", " ") + " "
    copies = 400_000 // len(unit)
    alone = extract_quotes(unit)
    found = extract_quotes(unit * copies)
    assert len(alone) >= 5 and len(found) == copies * len(alone)
    per_copy = [found[index * len(alone) : (index + 1) * len(alone)] for index in range(copies)]
    for index, quotes in enumerate(per_copy):
        shift = index * len(unit)
        assert [(q.text, q.start - shift, q.end - shift, q.kind) for q in quotes] == [
            (q.text, q.start, q.end, q.kind) for q in alone
        ]
        assert [q.speaker for q in quotes] == [q.speaker for q in per_copy[min(index, 1)]]
    assert [q.speaker for q in per_copy[0]] == [q.speaker for q in alone]


def test_an_article_above_the_size_limit_is_refused_with_one_line(small_model, tmp_path, capsys, monkeypatch):
    article = Path(shutil.copy(SEED, tmp_path / "a.txt"))
    size_mb = article.stat().st_size / 1e6
    code, out, err = stance_predict(capsys, str(article), "--model", str(small_model), "--max-article-mb", "0.001")
    assert_one_line_error(code, err, str(article), f"the article is {size_mb:.1f} MB", "limit of 0.001 MB")
    assert "--max-article-mb" in err and out == ""
    code, out, _ = stance_predict(capsys, str(article), "--model", str(small_model), "--max-article-mb", "0.01")
    assert code == 0 and out
    tagger = load_model(small_model)
    with pytest.raises(UserInputError, match="above the limit of 0.001 MB"):
        tagger.tag_article(article.read_text(encoding="utf-8"), max_mb=0.001)
    assert len(tagger.tag_article(article.read_text(encoding="utf-8"))) > 0
    code, _, err = stance_predict(capsys, str(article), "--model", str(small_model), "--max-article-mb", "0")
    assert_one_line_error(code, err, "--max-article-mb", "expected a positive number")
