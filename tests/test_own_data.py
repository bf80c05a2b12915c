"""A user's own stance data set: fixed splits, the target end to end, per-target models, the selection metric,
encodings, and quick runs that never fall back to the shipped corpus."""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURE_CSV, REPO, compose_config

from pipeline.errors import UserInputError
from pipeline.prepare import prepare
from pipeline.scoring.champion import decide
from pipeline.scoring.metrics import classification_metrics
from pipeline.train import fit_classifier

SEMEVAL = REPO / "tests" / "fixtures" / "semeval2016"
TRAIN_FILE = SEMEVAL / "semeval2016-task6-trainingdata.txt"
TEST_FILE = SEMEVAL / "SemEval2016-Task6-subtaskA-testdata-gold.txt"
SEMEVAL_OVERRIDES = ["data=semeval2016", f"data.path={SEMEVAL}"]


def read_semeval(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", encoding="cp1252", quoting=3, dtype=str)


@pytest.fixture(scope="module")
def semeval_splits():
    return prepare(compose_config(SEMEVAL_OVERRIDES))


# --- Fixed splits (issue item 1) ---------------------------------------------------------------------------------


def test_a_given_test_file_is_the_test_split_and_validation_comes_out_of_train(semeval_splits):
    gold = read_semeval(TEST_FILE)
    train_file = read_semeval(TRAIN_FILE)
    assert sorted(semeval_splits["test"]["id"]) == sorted(gold["ID"])
    held_in = set(semeval_splits["train"]["id"]) | set(semeval_splits["validation"]["id"])
    assert held_in == set(train_file["ID"])
    assert not set(semeval_splits["train"]["id"]) & set(semeval_splits["validation"]["id"])
    assert 0.1 < len(semeval_splits["validation"]) / len(train_file) < 0.2


def test_a_split_column_decides_each_rows_split(tmp_path):
    frame = pd.read_csv(FIXTURE_CSV)
    frame["part"] = np.resize(["train", "train", "train", "dev", "heldout"], len(frame))
    path = tmp_path / "with_split.csv"
    frame.to_csv(path, index=False)
    cfg = compose_config(
        [
            f"data.path={path}",
            "data.split.kind=column",
            "data.split.column=part",
            "data.split.names.validation=dev",
            "data.split.names.test=heldout",
        ]
    )
    splits = prepare(cfg)
    for name, value in [("train", "train"), ("validation", "dev"), ("test", "heldout")]:
        assert set(splits[name]["id"]) == set(frame.loc[frame["part"] == value, "id"]), name


def test_an_unknown_value_in_the_split_column_names_the_file_and_values(tmp_path):
    frame = pd.read_csv(FIXTURE_CSV).assign(part="train")
    frame.loc[3, "part"] = "tset"
    path = tmp_path / "typo.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(UserInputError, match=r"typo.csv: column 'part' holds \['tset'\] in row 5 \(id t-004\)"):
        prepare(compose_config([f"data.path={path}", "data.split.kind=column", "data.split.column=part"]))


def test_a_blank_and_a_wrong_split_value_are_reported_without_a_crash(tmp_path):
    frame = pd.read_csv(FIXTURE_CSV).assign(part="train")
    frame.loc[3, "part"], frame.loc[8, "part"] = "tset", None
    path = tmp_path / "typo.csv"
    frame.to_csv(path, index=False)
    expected = r"empty split \(column 'part', data.split.column\) in row 10 \(id t-009\)"
    with pytest.raises(UserInputError, match=expected):
        prepare(compose_config([f"data.path={path}", "data.split.kind=column", "data.split.column=part"]))


@pytest.mark.parametrize(
    ("suffix", "write", "row"),
    [
        (".csv", lambda frame, path: frame.to_csv(path, index=False), 6),  # row 1 is the header, as in a spreadsheet
        (".jsonl", lambda frame, path: frame.to_json(path, orient="records", lines=True), 5),  # the file's line
    ],
)
def test_problem_rows_are_numbered_as_the_file_shows_them(tmp_path, suffix, write, row):
    frame = pd.read_csv(FIXTURE_CSV)
    frame.loc[4, "label"] = "supportive"  # the fifth statement
    path = tmp_path / f"quotes{suffix}"
    write(frame, path)
    expected = rf"\['supportive'\] outside the configured set .* in row {row} \(id t-005\)"
    with pytest.raises(UserInputError, match=expected):
        prepare(compose_config([f"data.path={path}", "data.extra_eval=[]"]))


def test_a_label_in_other_case_is_refused_naming_the_label_it_means(tmp_path):
    frame = pd.read_csv(FIXTURE_CSV)
    frame.loc[4, "label"] = "Neutral"
    frame.to_csv(tmp_path / "quotes.csv", index=False)
    expected = r"\['Neutral'\] outside the configured set .* \(labels must match exactly: 'Neutral' for 'neutral'\?\)"
    with pytest.raises(UserInputError, match=expected):
        prepare(compose_config([f"data.path={tmp_path / 'quotes.csv'}", "data.extra_eval=[]"]))


def test_spaces_around_labels_groups_and_split_values_are_not_part_of_them(tmp_path):
    """A spreadsheet's stray spaces ('neutral ', ' train') would otherwise refuse the row or make a new group."""
    frame = pd.read_csv(FIXTURE_CSV).assign(part="train")
    frame.loc[frame.index[-24:-12], "part"] = "validation"
    frame.loc[frame.index[-12:], "part"] = "test"
    spaced = frame.index[::5]
    frame.loc[spaced, "label"] = frame.loc[spaced, "label"] + " "
    frame.loc[spaced, "source"] = " " + frame.loc[spaced, "source"]
    frame.loc[spaced, "part"] = frame.loc[spaced, "part"] + "  "
    path = tmp_path / "spaced.csv"
    frame.to_csv(path, index=False)
    overrides = [f"data.path={path}", "data.split.kind=column", "data.split.column=part", "data.extra_eval=[]"]
    splits = prepare(compose_config(overrides))
    prepared = pd.concat(splits.values())
    clean = pd.read_csv(FIXTURE_CSV).set_index("id")
    assert len(prepared) == len(clean)
    assert (prepared.set_index("id")["label"] == clean["label"].reindex(prepared["id"])).all()
    assert (prepared.set_index("id")["group"] == clean["source"].reindex(prepared["id"])).all()
    assert set(splits["test"]["id"]) == set(frame.loc[frame.index[-12:], "id"])


def test_a_missing_split_file_names_its_setting(tmp_path):
    folder = tmp_path / "semeval"
    folder.mkdir()
    (folder / TRAIN_FILE.name).write_bytes(TRAIN_FILE.read_bytes())
    with pytest.raises(UserInputError, match=rf"data.split.files.test='{TEST_FILE.name}': no such file in {folder}"):
        prepare(compose_config(["data=semeval2016", f"data.path={folder}"]))


def test_extra_eval_quotes_of_another_data_set_stop_prepare_before_training(tmp_path):
    """A data config copied from the shipped one keeps its seed quotes, labelled pro/anti/neutral in a `label`
    column: refused when the splits are prepared, not after the model has trained."""
    frame = pd.read_csv(FIXTURE_CSV).rename(columns={"text": "quote", "label": "stance"})
    frame["stance"] = frame["stance"].map(
        {"pro-intervention": "for", "anti-intervention": "against", "neutral": "none"}
    )
    path = tmp_path / "my_quotes.csv"
    frame.to_csv(path, index=False)
    overrides = [
        f"data.path={path}",
        "data.text_column=quote",
        "data.label_column=stance",
        "data.labels=[for,against,none]",
        "data.stance_labels=[for,against]",
    ]
    with pytest.raises(UserInputError) as error:
        prepare(compose_config([*overrides, "data.extra_eval=[data/seed_quotes.csv]"]))
    message = str(error.value)
    assert "data/seed_quotes.csv" in message and "'stance' column" in message and "data.extra_eval=[]" in message
    assert len(prepare(compose_config([*overrides, "data.extra_eval=[]"]))["test"]) > 0


def test_a_local_dataset_folder_gives_its_named_splits(tmp_path):
    """The hub route (`datasets.load_dataset(name, split=...)`), on a local folder since the hub is offline here."""
    frame = pd.read_csv(FIXTURE_CSV)
    folder = tmp_path / "my_dataset"
    folder.mkdir()
    frame.iloc[: len(frame) // 2].to_csv(folder / "train.csv", index=False)
    frame.iloc[len(frame) // 2 :].to_csv(folder / "test.csv", index=False)
    overrides = ["data.split.kind=hub", "data.split.names.validation=null", "data.group_column=null"]
    splits = prepare(compose_config([f"data.path={folder}", *overrides, "data.split.validation_size=0.3"]))
    assert set(splits["test"]["id"]) == set(frame.iloc[len(frame) // 2 :]["id"])
    assert set(splits["train"]["id"]) | set(splits["validation"]["id"]) == set(frame.iloc[: len(frame) // 2]["id"])


def test_training_rows_that_repeat_a_test_statement_are_dropped(tmp_path):
    folder = tmp_path / "semeval"
    folder.mkdir()
    gold = TEST_FILE.read_bytes()
    repeated = gold.splitlines()[1].replace(b"10001", b"99999", 1)  # the first test tweet, again, in train
    (folder / TRAIN_FILE.name).write_bytes(TRAIN_FILE.read_bytes() + repeated + b"\r\n")
    (folder / TEST_FILE.name).write_bytes(gold)
    splits = prepare(compose_config(["data=semeval2016", f"data.path={folder}"]))
    assert "99999" not in set(splits["train"]["id"]) | set(splits["validation"]["id"])
    assert "10001" in set(splits["test"]["id"])


def test_a_label_missing_from_a_split_is_refused_naming_it(tmp_path):
    folder = tmp_path / "semeval"
    folder.mkdir()
    (folder / TRAIN_FILE.name).write_bytes(TRAIN_FILE.read_bytes())
    without_none = [line for line in TEST_FILE.read_bytes().splitlines() if not line.endswith(b"\tNONE")]
    (folder / TEST_FILE.name).write_bytes(b"\r\n".join(without_none) + b"\r\n")
    with pytest.raises(UserInputError, match="'NONE' has no statement in test"):
        prepare(compose_config(["data=semeval2016", f"data.path={folder}"]))


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("data.labels=[neutral]", "at least two different labels"),
        ("data.stance_labels=[for,against]", "expected labels from data.labels"),
    ],
)
def test_label_settings_that_cannot_train_a_classifier_are_refused(override, expected):
    with pytest.raises(UserInputError, match=expected):
        prepare(compose_config([f"data.path={FIXTURE_CSV}", override]))


# --- Encoding and quoting (item 7) -------------------------------------------------------------------------------


def test_a_windows_1252_file_reads_with_its_encoding_and_keeps_its_characters(semeval_splits):
    texts = " ".join(semeval_splits["train"]["text"]) + " ".join(semeval_splits["test"]["text"])
    assert "\u2019" in texts and "\u2026" in texts  # bytes 0x92 and 0x85 in the file
    assert '"' in texts  # a stray quote inside unquoted text stays text


def test_a_semicolon_separated_csv_is_named_and_reads_with_its_delimiter(tmp_path):
    """Excel saves "CSV" with ';' where the decimal mark is a comma (much of Europe)."""
    frame = pd.read_csv(FIXTURE_CSV)
    path = tmp_path / "excel.csv"
    frame.to_csv(path, sep=";", index=False)
    with pytest.raises(UserInputError, match=r"excel.csv: line 1 has no ',' .* but ';'; set data.delimiter=semicolon"):
        prepare(compose_config([f"data.path={path}"]))
    splits = prepare(compose_config([f"data.path={path}", "data.delimiter=semicolon"]))
    assert sorted(pd.concat(splits.values())["id"]) == sorted(frame["id"])
    with pytest.raises(UserInputError, match=r"data.delimiter=';;': expected one character"):
        prepare(compose_config([f"data.path={path}", "data.delimiter=';;'"]))


def test_the_wrong_encoding_names_the_file_line_and_setting():
    with pytest.raises(UserInputError, match=r"semeval2016-task6-trainingdata.txt: line \d+: .*data.encoding"):
        prepare(compose_config([*SEMEVAL_OVERRIDES, "data.encoding=utf-8"]))


# --- Per-target models (item 3) ----------------------------------------------------------------------------------


def f_avg_on_test(cfg, splits) -> float:
    classifier = fit_classifier(cfg, splits["train"])
    test = splits["test"]
    return classification_metrics(test["label"], classifier.predict(test), cfg.data.labels, cfg.data.stance_labels)[
        "f_avg"
    ]


def test_per_target_models_beat_one_pooled_model_and_match_the_reference_script(semeval_splits):
    sys.path.insert(0, str(REPO / "benchmarks"))
    from semeval_reference import reference_f_avg

    per_target = f_avg_on_test(compose_config(SEMEVAL_OVERRIDES), semeval_splits)
    pooled = f_avg_on_test(compose_config([*SEMEVAL_OVERRIDES, "model.per_target=false"]), semeval_splits)
    assert per_target > pooled
    # The reference trains on the whole training file; the pipeline holds 15% of it out for validation.
    assert per_target >= reference_f_avg(SEMEVAL)


def test_an_unseen_target_falls_back_to_the_pooled_model(semeval_splits):
    classifier = fit_classifier(compose_config(SEMEVAL_OVERRIDES), semeval_splits["train"])
    assert set(classifier.by_target_) == set(semeval_splits["train"]["target"])
    rows = semeval_splits["test"].head(20).assign(target="Donald Trump")
    np.testing.assert_array_equal(classifier.predict(rows), classifier.pooled_.predict(rows))
    probabilities = classifier.predict_proba(semeval_splits["test"])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert list(classifier.classes_) == sorted(["FAVOR", "AGAINST", "NONE"])


def test_a_target_model_refuses_statements_without_targets(semeval_splits):
    classifier = fit_classifier(compose_config(SEMEVAL_OVERRIDES), semeval_splits["train"])
    with pytest.raises(ValueError, match="trained with stance targets.*'Target'"):
        classifier.predict(["We must act on emissions now"])
    with pytest.raises(ValueError, match="trained with stance targets"):
        classifier.predict(pd.DataFrame({"Tweet": ["We must act on emissions now"]}))
    # The user's own column names work as the file has them.
    users = pd.DataFrame({"Tweet": ["We must act on emissions now"], "Target": ["Climate Change is a Real Concern"]})
    assert classifier.predict(users)[0] in {"FAVOR", "AGAINST", "NONE"}


def test_targets_at_prediction_match_the_training_targets_whatever_their_case_and_spacing(semeval_splits):
    """Training strips the targets; a padded or lower-case target at prediction is the same target, not an unseen
    one silently answered by the pooled model. An empty target is refused like a missing one."""
    classifier = fit_classifier(compose_config(SEMEVAL_OVERRIDES), semeval_splits["train"])
    rows = semeval_splits["test"].head(30)
    target = rows["target"].iloc[0]
    rows = rows[rows["target"] == target]
    exact = classifier.predict_proba(rows)
    for spelt in (f"  {target} ", target.lower(), target.upper().replace(" ", "  ")):
        np.testing.assert_array_equal(classifier.predict_proba(rows.assign(target=spelt)), exact)
    assert classifier.without_own_classifier([target.lower(), "Donald Trump", "Donald Trump"]) == {"Donald Trump": 2}
    for empty in ("", "   "):
        with pytest.raises(ValueError, match="empty targets"):
            classifier.predict(rows.assign(target=empty))


def test_tag_gives_the_users_frame_back_under_its_own_column_names_and_index(semeval_splits):
    from pipeline.inference import StanceTagger

    classifier = fit_classifier(compose_config([*SEMEVAL_OVERRIDES, "model.per_target=false"]), semeval_splits["train"])
    tagger = StanceTagger(classifier)
    rows = semeval_splits["test"].head(5)
    users = pd.DataFrame({"ID": [7, 3, 9, 1, 4], "Tweet": rows["text"], "Target": rows["target"]}).set_index("ID")
    tagged = tagger.tag(users)
    assert list(tagged.columns[:2]) == ["Tweet", "Target"] and tagged.index.equals(users.index)
    pd.testing.assert_frame_equal(tagged[["Tweet", "Target"]], users)
    assert tagged["label"].tolist() == list(classifier.predict(rows))
    # One target for all, given apart from the frame: added as `target`, the frame's own columns untouched.
    given = tagger.tag(users[["Tweet"]], target=rows["target"].iloc[0])
    assert list(given.columns[:2]) == ["Tweet", "target"] and given.index.equals(users.index)


def saved_model(semeval_splits, path: Path, *overrides: str) -> Path:
    """A model fitted on the SemEval fixture's training split, saved as the train stage saves it."""
    from pipeline.train import save_classifier

    config = compose_config([*SEMEVAL_OVERRIDES, *overrides])
    save_classifier(fit_classifier(config, semeval_splits["train"]), str(path))
    return path


def test_stance_predict_names_targets_a_model_of_all_targets_never_saw(semeval_splits, tmp_path, capsys):
    from conftest import stance_predict

    model = saved_model(semeval_splits, tmp_path / "pooled.skops", "model.per_target=false")
    known = semeval_splits["train"]["target"].iloc[0]
    table = tmp_path / "statements.csv"
    pd.DataFrame(
        {
            "Tweet": ["We must act now.", "This is a disgrace.", "No comment.", "Fine."],
            "Target": [known, "Mars", "Mars", f" {known.lower()}"],
        }
    ).to_csv(table, index=False)
    code, _, err = stance_predict(capsys, str(table), "--model", str(model), "-o", str(tmp_path / "out.csv"))
    assert code == 0, err
    assert err.strip().splitlines() == [
        "warning: 2 statement(s) have a target the model never saw in training: 'Mars' (2); their labels rest on the "
        "statements' words, not on anything learnt about that target"
    ]
    assert len(pd.read_csv(tmp_path / "out.csv")) == 4  # warned, and tagged all the same


def test_stance_predict_names_rows_without_a_target_and_skips_them_when_asked(semeval_splits, tmp_path, capsys):
    from conftest import stance_predict

    model = saved_model(semeval_splits, tmp_path / "targets.skops")
    known = semeval_splits["train"]["target"].iloc[0]
    table = tmp_path / "statements.csv"
    pd.DataFrame(
        {"Tweet": ["We must act now.", "This is a disgrace.", "", "Fine."], "Target": [known, " ", known, known]}
    ).to_csv(table, index=False)
    code, _, err = stance_predict(capsys, str(table), "--model", str(model))
    assert code == 2 and err.strip() == (
        f"error: {table}: row 4: column 'Tweet' is empty (and column 'Target' in row 3); expected a statement, "
        "or pass --skip-empty to tag the other rows and leave these untagged"
    )
    code, out, err = stance_predict(capsys, str(table), "--model", str(model), "--skip-empty", "--format", "csv")
    assert code == 0 and err.strip() == (
        f"warning: {table}: 2 rows (3, 4) with an empty statement or target left untagged (no label)"
    )
    tagged = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert [bool(label) for label in tagged["label"]] == [True, False, False, True]


def test_stance_predict_names_targets_the_pooled_model_answered_and_refuses_an_empty_or_doubled_target(
    semeval_splits, tmp_path, capsys
):
    from conftest import stance_predict

    model = saved_model(semeval_splits, tmp_path / "targets.skops")
    known = semeval_splits["train"]["target"].iloc[0]
    table = tmp_path / "statements.csv"
    pd.DataFrame(
        {"Tweet": ["We must act now.", "This is a disgrace.", "No comment."], "Target": [known, "Mars", "Mars"]}
    ).to_csv(table, index=False)
    code, out, err = stance_predict(capsys, str(table), "--model", str(model), "-o", str(tmp_path / "out.csv"))
    assert code == 0, err
    assert err.strip().splitlines() == [
        "warning: 2 statement(s) have a target the per-target model has no classifier of its own for: 'Mars' (2); the "
        "classifier fitted on all targets tagged them (a target needs training statements, "
        "model.per_target_min_statements, 20 by default, and two labels)"
    ]
    # --target is every statement's target: the table's column is not read, and says so.
    code, _, err = stance_predict(
        capsys, str(table), "--model", str(model), "--target", known, "-o", str(tmp_path / "k.csv")
    )
    assert code == 0 and err.strip().splitlines() == [
        f"warning: --target {known!r} is every statement's target; {table}'s column 'Target' is not read"
    ]
    assert set(pd.read_csv(tmp_path / "k.csv")["Target"]) == {known, "Mars"}  # the input's columns pass through
    code, _, err = stance_predict(capsys, str(table), "--model", str(model), "--target", " ")
    assert code == 2 and err.strip() == "error: --target: empty; expected the stance target of every statement"
    code, _, err = stance_predict(
        capsys, str(table), "--model", str(model), "--target", known, "--target-column", "Target"
    )
    assert code == 2 and "pass one" in err
    no_text = tmp_path / "no_text.csv"
    pd.DataFrame({"quote": ["We must act now."], "Target": [known]}).to_csv(no_text, index=False)
    code, _, err = stance_predict(capsys, str(no_text), "--model", str(model))
    assert code == 2 and "no column 'Tweet' (the model's) or 'text'" in err


def test_per_target_needs_a_target_column():
    with pytest.raises(UserInputError, match="data.target_column"):
        fit_classifier(compose_config(["model.per_target=true"]), pd.read_csv(FIXTURE_CSV))


# --- The selection metric and the champion gate (items 5, 6) -----------------------------------------------------


def test_each_data_set_has_its_own_experiment_registered_model_and_metric():
    shipped, semeval = compose_config(), compose_config(SEMEVAL_OVERRIDES)
    assert shipped.mlflow.registered_model == "stance-classifier"
    assert semeval.mlflow.registered_model == "stance-semeval2016-task6"
    assert shipped.mlflow.experiment != semeval.mlflow.experiment
    assert (shipped.selection_metric, semeval.selection_metric) == ("macro_f1", "f_avg")
    assert compose_config(["data.selection_metric=accuracy"]).selection_metric == "accuracy"


def test_the_gate_wants_the_majority_baseline_beaten_by_a_margin():
    decision = decide(0.31, None, 0.0, baseline_score=0.28, min_over_baseline=0.05)
    assert not decision.promote and "majority-class baseline" in decision.reason
    assert decide(0.40, None, 0.0, baseline_score=0.28, min_over_baseline=0.05).promote


def test_a_broken_champion_is_kept_unless_the_user_says_replace_it():
    kept = decide(0.8, None, 0.0, champion_problem="could not be loaded (truncated)")
    assert not kept.promote and "champion.replace_broken=true" in kept.reason
    assert decide(0.8, None, 0.0, champion_problem="could not be loaded", replace_broken=True).promote


# --- Quick runs use the prepared data set (item 4) ---------------------------------------------------------------


def run_module(module: str, *overrides: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-m", module, *overrides], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_a_quick_run_trains_on_the_prepared_data_set_and_leaves_stage_outputs_alone(tmp_path):
    import mlflow

    paths = [
        f"paths.processed={tmp_path / 'processed'}",
        f"paths.model={tmp_path / 'model.skops'}",
        f"paths.train_run={tmp_path / 'train_run.json'}",
        f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
        f"hydra.run.dir={tmp_path / 'outputs'}",
        f"hydra.sweep.dir={tmp_path / 'multirun'}",
    ]
    prepared = run_module("pipeline.prepare", *SEMEVAL_OVERRIDES, *paths, cwd=tmp_path)
    assert prepared.returncode == 0, prepared.stderr[-2000:]

    # No data override: the prepared SemEval data, not conf/'s shipped corpus.
    quick = run_module("pipeline.train", "model=linear_svm", *paths, cwd=tmp_path)
    assert quick.returncode == 0, quick.stderr[-2000:]
    assert not (tmp_path / "model.skops").exists() and not (tmp_path / "train_run.json").exists()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["stance-semeval2016-task6"])
    assert len(runs) == 1
    run = runs.iloc[0]
    assert run["params.data.name"] == "semeval2016-task6" and run["tags.dataset"] == "semeval2016-task6"
    assert run["metrics.val_f_avg"] > 0.5
    assert mlflow.get_experiment_by_name("stance-intervention-statements") is None

    # A sweep selects on the data set's metric, without repeating the data overrides.
    sweep = run_module("pipeline.train", "--multirun", "model=logreg,complement_nb", *paths, cwd=tmp_path)
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    runs = mlflow.search_runs(experiment_names=["stance-semeval2016-task6"])
    parent = runs[runs["tags.sweep_role"] == "parent"].iloc[0]
    children = runs[runs["tags.mlflow.parentRunId"] == parent["run_id"]]
    assert len(children) == 2
    assert parent["metrics.best_val_f_avg"] == children["metrics.val_f_avg"].max()

    # Asking for another data set than the prepared one is an error, not a silent mix.
    other = run_module("pipeline.train", f"data.path={FIXTURE_CSV}", "data=statements", *paths, cwd=tmp_path)
    assert other.returncode == 2
    assert "prepared splits hold data set 'semeval2016-task6'" in other.stderr and "Traceback" not in other.stderr


def test_mcnemar_counts_only_the_statements_one_model_gets_right():
    from pipeline.scoring.champion import mcnemar_p_value

    truth = ["a"] * 40
    assert mcnemar_p_value(truth, ["a"] * 40, ["a"] * 40) == 1.0
    # 20 statements only the candidate gets right, none only the champion: a real difference.
    assert mcnemar_p_value(truth, ["a"] * 40, ["a"] * 20 + ["b"] * 20) < 1e-5
    # 6 against 4: chance.
    assert mcnemar_p_value(truth, ["a"] * 36 + ["b"] * 4, ["a"] * 30 + ["b"] * 6 + ["a"] * 4) > 0.5


def test_a_significance_threshold_keeps_a_champion_the_candidate_beats_only_by_chance():
    assert decide(0.81, 0.80, 0.0, p_value=0.4).promote
    kept = decide(0.81, 0.80, 0.0, p_value=0.4, max_p_value=0.05)
    assert not kept.promote and "McNemar p=0.4" in kept.reason


def test_dvc_accepts_a_hub_dataset_that_is_no_local_file(tmp_path):
    """dvc.yaml's data dependency is a setting, so that a hub name as data.path does not break every DVC command."""
    from conftest import run

    for name in ("dvc.yaml", "params.yaml"):
        (tmp_path / name).write_text((REPO / name).read_text())
    run(["git", "init", "-q"], tmp_path)
    run(["dvc", "init", "-q"], tmp_path)
    from pipeline.compose_params import compose_params

    hub = compose_params(["data.path=some-org/stance-tweets", "data.dvc_dependency=params.yaml"])
    (tmp_path / "params.yaml").write_text(hub)
    # Without the setting DVC reports the hub name as a deleted file, and `dvc repro` stops on it.
    stages = run(["dvc", "status", "prepare"], tmp_path)
    assert "some-org" not in stages.stdout + stages.stderr
    dag = run(["dvc", "dag", "--md"], tmp_path).stdout
    assert "prepare" in dag and "evaluate" in dag
