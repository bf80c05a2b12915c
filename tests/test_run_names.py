"""Run names tell runs apart; registered versions describe themselves; DVC experiments are named in MLflow."""

import warnings

import mlflow
import pandas as pd
import pytest
from conftest import compose_config

from pipeline import quiet
from pipeline.experiments.dvc_experiment import experiment_tags
from pipeline.experiments.run_names import run_name, unique_name
from pipeline.experiments.version_notes import version_description, version_tags
from pipeline.tracking import logged_model_name


def test_optuna_trials_differ_in_their_names_by_every_searched_value():
    cfg = compose_config(["features=word", "model.estimator.C=0.6646459471581082"])
    trial = [
        "model.estimator.C=0.6646459471581082",
        "features.vectorizer.ngram_range=[1, 3]",
        "features.vectorizer.min_df=2",
        "data.path=/tmp/x.csv",
        "mlflow.tracking_uri=sqlite:///m.db",
    ]
    assert run_name(cfg, trial) == "logreg · word · C=0.6646 · ngram_range=[1,3] · min_df=2"


@pytest.mark.parametrize(
    "overrides, name",
    [
        ([], "logreg · word_char · C=4"),
        (["data=semeval2016"], "logreg · word_char · C=4"),  # per-target by the data set's own default
        (["model.per_target=true"], "logreg · word_char · C=4 · per_target=true"),
        (["data=semeval2016", "model.per_target=false"], "logreg · word_char · C=4 · per_target=false"),
        (
            ["model.estimator.class_weight=null", "features.vectorizer.transformer_list.1.1.ngram_range=[1,3]"],
            "logreg · word_char · C=4 · class_weight=null · char.ngram_range=[1,3]",
        ),
        (["seed=7", "model=linear_svm", "features=char"], "linear_svm · char · C=0.5 · seed=7"),
    ],
)
def test_a_stage_run_from_params_yaml_is_named_by_the_settings_it_changed(overrides, name):
    """`make run OVERRIDES=...` composes params.yaml, and `dvc repro` runs the stage with no overrides of its own:
    the name still shows what was changed from the config files."""
    assert run_name(compose_config(overrides), []) == name


def test_a_whole_number_names_one_configuration_whether_written_4_or_4_0():
    """conf/model/logreg.yaml says C: 4.0; `model.estimator.C=4` on the command line is the same model."""
    default = run_name(compose_config([]), [])
    overridden = run_name(compose_config(["model.estimator.C=4"]), ["model.estimator.C=4"])
    assert default == overridden == "logreg · word_char · C=4"
    assert run_name(compose_config(["model.estimator.C=4.5"]), ["model.estimator.C=4.5"]).endswith("C=4.5")


def test_class_weight_variants_and_seeds_get_different_names():
    balanced = run_name(compose_config([]), [])
    unweighted = run_name(compose_config(["model.estimator.class_weight=null"]), ["model.estimator.class_weight=null"])
    seeded = run_name(compose_config(["seed=7"]), ["seed=7"])
    assert len({balanced, unweighted, seeded}) == 3
    assert unweighted.endswith("class_weight=null") and seeded.endswith("seed=7")


def test_a_searched_vectorizer_inside_a_union_is_named_by_its_part():
    cfg = compose_config(["model=linear_svm"])
    name = run_name(cfg, ["features.vectorizer.transformer_list.1.1.ngram_range=[3,6]"])
    assert name == "linear_svm · word_char · C=0.5 · char.ngram_range=[3,6]"


def test_a_dvc_experiment_is_named_and_tagged(monkeypatch):
    assert run_name(compose_config([]), [], "bronze-fish").endswith("· dvc exp bronze-fish")
    monkeypatch.setenv("DVC_EXP_NAME", "bronze-fish")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "0123abcd" * 5)
    assert experiment_tags() == {"dvc_experiment": "bronze-fish", "dvc_baseline_rev": "0123abcd" * 5}
    monkeypatch.delenv("DVC_EXP_NAME")
    monkeypatch.delenv("DVC_EXP_BASELINE_REV")
    assert experiment_tags() == {}


def test_names_already_taken_in_the_experiment_are_numbered():
    assert unique_name("logreg · word", set()) == "logreg · word"
    assert unique_name("logreg · word", {"logreg · word", "logreg · word (2)"}) == "logreg · word (3)"


def test_logged_models_carry_the_run_name_in_a_form_mlflow_accepts():
    from mlflow.utils.validation import _validate_logged_model_name

    name = logged_model_name("logreg · word · C=0.6646 · path=a/b:c '%'")
    _validate_logged_model_name(name)
    assert name.startswith("logreg · word · C=0") and "6646" in name
    assert logged_model_name(None) == "model"


def test_a_version_description_names_model_data_and_scores():
    text = version_description(
        "logreg · word_char · C=4",
        "intervention-statements",
        "0123456789abcdef0123456789abcdef",
        {"macro_f1": 0.8012, "f_avg": 0.756, "accuracy": 0.7991, "f1/neutral": 0.8},
        {"macro_f1": 0.168},
        "no champion yet",
        True,
        {"train": 1113, "validation": 248, "test": 229},
    )
    # The registry's versions table shows the start of the description as written, markup included.
    assert text.startswith("logreg · word_char · C=4  \n")
    assert (
        "Data: intervention-statements (md5 01234567), 1,590 statements: 1,113 train · 248 validation · 229 test"
        in text
    )
    assert "macro-F1 0.801 · F_avg 0.756 · accuracy 0.799 (majority baseline macro-F1 0.168)" in text
    assert "promoted (no champion yet)" in text
    tags = version_tags({"git_commit": "abc", "data_md5": "def"}, {"dvc_experiment": "x"})
    assert tags == {"git_commit": "abc", "dvc_experiment": "x"}


@pytest.mark.parametrize("verbose", [False, True])
def test_mlflows_dataset_source_warning_is_shown_only_when_verbose(verbose, fixture_csv):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet.quiet_stage(verbose=verbose)
        mlflow.data.from_pandas(pd.DataFrame({"text": ["a"], "label": ["neutral"]}), source=str(fixture_csv))
    shown = any(quiet.DATASET_SOURCE_WARNING in str(warning.message) for warning in caught)
    assert shown == verbose
