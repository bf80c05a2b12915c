"""The real-text check: labelled quotes from outside the corpus are scored, and bad files get a one-line error."""

import pandas as pd
import pytest
from conftest import REPO, compose_config

from pipeline.errors import UserInputError
from pipeline.scoring.real_text import flat_metrics, read_labelled_quotes, real_text_checks, score_quotes
from pipeline.train import fit_classifier

LABELS = ["pro-intervention", "anti-intervention", "neutral"]


class FixedAnswers:
    """A stand-in classifier that answers from a lookup table, so that the expected scores are known exactly."""

    def __init__(self, answers: dict[str, str]):
        self.answers = answers

    def predict(self, frame):
        return pd.Series([self.answers[text] for text in frame["text"]]).to_numpy()


def test_the_seed_quotes_are_read_from_their_quote_column():
    quotes = read_labelled_quotes(str(REPO / "data" / "seed_quotes.csv"), "text", "label", LABELS)
    assert len(quotes) == 6 and set(quotes["label"]) <= set(LABELS)
    assert quotes["text"].str.len().min() > 20


def test_scores_count_the_correct_quotes():
    quotes = pd.DataFrame(
        {"text": ["a", "b", "c", "d"], "label": ["neutral", "neutral", "pro-intervention", "anti-intervention"]}
    )
    classifier = FixedAnswers({"a": "neutral", "b": "anti-intervention", "c": "pro-intervention", "d": "neutral"})
    metrics, rows = score_quotes(classifier, quotes, LABELS)
    assert metrics["correct"] == 2 and metrics["total"] == 4 and metrics["accuracy"] == 0.5
    assert list(rows["predicted"]) == ["neutral", "anti-intervention", "pro-intervention", "neutral"]
    results = {"seed_quotes": (metrics, rows)}
    assert flat_metrics(results, "all_labels_")["all_labels_seed_quotes_correct"] == 2


def test_every_extra_eval_file_gets_its_own_metrics(statements, tmp_path):
    extra = tmp_path / "my_quotes.jsonl"
    pd.DataFrame({"text": ["The strikes must stop now."], "label": ["anti-intervention"]}).to_json(
        extra, orient="records", lines=True
    )
    cfg = compose_config([f"data.extra_eval=[{REPO / 'data' / 'seed_quotes.csv'},{extra}]", "features=word"])
    classifier = fit_classifier(cfg, statements.rename(columns={"source": "group"}))
    results = real_text_checks(cfg, classifier)
    assert set(results) == {"seed_quotes", "my_quotes"}
    assert results["seed_quotes"][0]["total"] == 6 and results["my_quotes"][0]["total"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("quote,stance\nThe strikes must stop.,neutral\n", "expected a text column"),
        ("quote,label\nThe strikes must stop.,neutral\nWe must act.,supportive\n", "row 3: label 'supportive'"),
    ],
)
def test_a_bad_file_gets_a_one_line_error_naming_it(tmp_path, content, message):
    path = tmp_path / "quotes.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserInputError, match=message) as error:
        read_labelled_quotes(str(path), "text", "label", LABELS)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_a_missing_file_is_named():
    with pytest.raises(UserInputError, match="data.extra_eval: nowhere.csv: no such file"):
        read_labelled_quotes("nowhere.csv", "text", "label", LABELS)


def test_a_data_set_with_targets_scores_extra_quotes_with_their_targets(statements, tmp_path):
    quotes = pd.DataFrame(
        {
            "quote": ["The strikes must stop now.", "We support the mission.", "The convoy left at noon."],
            "conflict": ["Syria", "Mali", "Libya"],  # Libya: no model of its own, the pooled one answers
            "label": ["anti-intervention", "pro-intervention", "neutral"],
        }
    )
    extra = tmp_path / "targeted_quotes.csv"
    quotes.to_csv(extra, index=False)
    cfg = compose_config(
        [
            "data.target_column=conflict",
            "model.per_target=true",
            "model.per_target_min_statements=5",
            "features=word",
            f"data.extra_eval=[{extra}]",
        ]
    )
    train = statements.rename(columns={"source": "group"})
    train = train.assign(target=["Syria", "Mali"] * (len(train) // 2) + ["Syria"] * (len(train) % 2))
    classifier = fit_classifier(cfg, train)
    metrics, rows = real_text_checks(cfg, classifier)["targeted_quotes"]
    assert metrics["total"] == 3
    # Each quote is routed by its own target: the same predictions as the model gives the table directly.
    expected = classifier.predict(pd.DataFrame({"text": quotes["quote"], "target": quotes["conflict"]}))
    assert list(rows["predicted"]) == list(expected)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"quote": ["The strikes must stop."], "label": ["neutral"]}, "expected a 'conflict' or 'target' column"),
        ({"quote": ["Stop.", "Go."], "conflict": ["Syria", None], "label": ["neutral"] * 2}, "row 3: empty 'conflict'"),
    ],
)
def test_a_data_set_with_targets_refuses_extra_quotes_without_them(tmp_path, columns, message):
    path = tmp_path / "quotes.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    with pytest.raises(UserInputError, match=message) as error:
        read_labelled_quotes(str(path), "text", "label", LABELS, target_column="conflict")
    assert str(path) in str(error.value) and "\n" not in str(error.value)
