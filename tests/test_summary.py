"""The lines `make run` ends with: scores, the registered model and champion, and how to call the model."""

import os
import time

from pipeline.files import write_json
from pipeline.summary import summary

METRICS = {
    "test": {"macro_f1": 0.8009, "f_avg": 0.7562, "accuracy": 0.7991},
    "baseline": {"macro_f1": 0.1678, "f_avg": 0.0, "accuracy": 0.3362},
}


def registered(**extra) -> dict:
    return {
        "uri": "models:/stance-my-quotes/3",
        "run_id": "5805d6ee",
        "experiment_id": "4",
        "champion_uri": "models:/stance-my-quotes@champion",
        "promoted": True,
        "refit": "all_labels",
        "decision": "0.81 beats the champion's 0.79 by more than 0.0",
        **extra,
    }


def summary_of(tmp_path, registered_model: dict) -> str:
    write_json(tmp_path / "metrics.json", METRICS)
    write_json(tmp_path / "registered_model.json", registered_model)
    return summary(tmp_path)


def test_the_summary_names_scores_model_and_champion(tmp_path):
    text = summary_of(tmp_path, registered(input_columns=["text"]))
    assert "Test set:  macro-F1 0.801   F_avg 0.756   accuracy 0.799" in text
    assert "Registered model:  models:/stance-my-quotes/3" in text and "refitted on all labelled statements" in text
    assert "this model promoted: 0.81 beats" in text
    # The project's loader, not MLflow's: whoever sets the alias on a shared store chooses what this line loads.
    assert (
        'Load it:  from pipeline.inference import load_model; model = load_model("models:/stance-my-quotes@champion")'
        in text
    )
    assert "mlflow.pyfunc" not in text and "mlflow.sklearn" not in text


def test_the_load_line_asks_for_targets_where_the_model_reads_them(tmp_path):
    assert "then model.tag(statements): a label" in summary_of(tmp_path, registered(input_columns=["quote"]))
    with_target = summary_of(tmp_path, registered(input_columns=["Tweet", "Target"]))
    assert "then model.tag(statements, target=targets): a label" in with_target


def test_a_report_from_before_input_columns_were_recorded_still_summarises(tmp_path):
    text = summary_of(tmp_path, registered())
    assert "Load it:" in text and "then model.tag(statements): a label" in text


def test_a_run_that_re_ran_nothing_says_whose_results_it_shows(tmp_path):
    """`make run` when DVC finds everything up to date: the champion decision shown is an earlier run's."""
    started = time.time()
    fresh = summary_of(tmp_path, registered())
    assert "Nothing was retrained" not in summary(tmp_path, since=started - 1)
    hour_ago = started - 3600
    os.utime(tmp_path / "registered_model.json", (hour_ago, hour_ago))
    stale = summary(tmp_path, since=started)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(hour_ago))
    assert f"Nothing was retrained: the prepared statements, code and parameters are as in the run of {when}" in stale
    assert stale.endswith(fresh) and "Nothing was retrained" not in fresh


def test_load_and_browse_lines_name_the_store_the_run_went_to(tmp_path):
    local = summary_of(tmp_path, registered(tracking_uri="sqlite:///mlflow.db"))
    assert "(MLFLOW_TRACKING_URI=sqlite:///mlflow.db; " in local
    assert "mlflow ui --backend-store-uri sqlite:///mlflow.db" in local
    assert "http://127.0.0.1:5000/#/experiments/4?workflowType=machine_learning" in local
    team = summary_of(tmp_path, registered(tracking_uri="http://mlflow.newsroom.internal:5050/"))
    assert "(MLFLOW_TRACKING_URI=http://mlflow.newsroom.internal:5050/; " in team
    assert "Browse runs:  http://mlflow.newsroom.internal:5050/#/experiments/4?workflowType=machine_learning" in team
    assert "mlflow ui" not in team and "sqlite" not in team


def test_a_model_the_gate_kept_out_can_be_promoted_by_hand(tmp_path):
    text = summary_of(tmp_path, registered(promoted=False, decision="macro_f1 0.79 does not beat the champion's 0.81"))
    assert "this model not promoted: macro_f1 0.79 does not beat" in text
    assert 'set_registered_model_alias("stance-my-quotes", "champion", "3")' in text
    assert "set_registered_model_alias" not in summary_of(tmp_path, registered())


def test_target_data_adds_the_lowest_and_highest_scoring_target_by_the_selection_metric(tmp_path):
    per_target = {
        "Atheism": {"macro_f1": 0.62, "f_avg": 0.55, "accuracy": 0.7, "statements": 220},
        "Feminist Movement": {"macro_f1": 0.58, "f_avg": 0.61, "accuracy": 0.6, "statements": 285},
        "Hillary Clinton": {"macro_f1": 0.71, "f_avg": 0.69, "accuracy": 0.72, "statements": 295},
    }
    write_json(tmp_path / "per_target_metrics.json", per_target)
    text = summary_of(tmp_path, registered(selection_metric="f_avg"))
    line = "Per target:  F_avg from 0.550 (Atheism, 220 statements) to 0.690 (Hillary Clinton, 295); 3 targets in "
    assert line + "per_target_metrics.json" in text.splitlines()
    by_macro_f1 = summary_of(tmp_path, registered(selection_metric="macro_f1"))
    assert "macro-F1 from 0.580 (Feminist Movement, 285 statements) to 0.710 (Hillary Clinton, 295)" in by_macro_f1


def test_data_without_targets_has_no_per_target_line(tmp_path):
    assert "Per target" not in summary_of(tmp_path, registered())  # a report from before the file was written
    write_json(tmp_path / "per_target_metrics.json", {})
    assert "Per target" not in summary_of(tmp_path, registered(selection_metric="macro_f1"))


def test_a_model_registered_before_names_that_run_unless_it_is_this_one(tmp_path):
    """Trained again (dvc repro --force, a data set switched back): the version registered by an earlier run. When
    only the evaluate stage ran again, the run that registered it is this one: the usual line."""
    before = registered(
        registered_before_by="1e017b74",
        promoted=False,
        holds_champion=True,
        decision="it is the champion already (version 3)",
    )
    text = summary_of(tmp_path, before)
    assert "models:/stance-my-quotes/3, registered before by MLflow run 1e017b74: this run (5805d6ee)" in text
    assert "this model kept as champion: it is the champion already (version 3)" in text
    assert "give it the alias yourself" not in text
    again = summary_of(tmp_path, registered(registered_before_by="5805d6ee"))
    assert "Registered model:  models:/stance-my-quotes/3   (MLflow run 5805d6ee)" in again
    assert "registered before" not in again


def test_reports_pulled_from_another_run_summarise_without_its_registration_record(tmp_path, monkeypatch, capsys):
    """A colleague's clone after `git pull` and `dvc pull`: DVC re-runs nothing, and registered_model.json, written
    only where the evaluate stage ran, is not there. `make run` must still end in a summary, not an error."""
    from pipeline import summary as summary_module

    monkeypatch.chdir(tmp_path)
    # params.yaml's store wins over the environment's, as in the stages (tracking.resolve_tracking_uri).
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    write_json(tmp_path / "reports" / "metrics.json", METRICS)
    (tmp_path / "params.yaml").write_text(
        "mlflow:\n  tracking_uri: http://127.0.0.1:5050\n  registered_model: stance-my-quotes\n", encoding="utf-8"
    )
    summary_module.main(["--since", str(time.time())])
    text = capsys.readouterr().out
    assert "Nothing was retrained" in text
    assert "Test set:  macro-F1 0.801   F_avg 0.756   accuracy 0.799" in text
    assert "its versions are in http://127.0.0.1:5050" in text
    assert 'model = load_model("models:/stance-my-quotes@champion")' in text
    (tmp_path / "reports" / "metrics.json").unlink()  # no reports at all: the pipeline has not run
    try:
        summary_module.main([])
    except SystemExit as exit_info:
        assert "reports/metrics.json is missing; run the pipeline first" in str(exit_info.code)
    else:
        raise AssertionError("no reports, and no error")
