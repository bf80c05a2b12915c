"""The scores users compare runs by, checked against values worked out by hand."""

import pytest

from pipeline.scoring.metrics import classification_metrics, f_avg, majority_baseline_metrics

LABELS = ["pro-intervention", "anti-intervention", "neutral"]
STANCES = LABELS[:2]
PRO, ANTI, NEUTRAL = LABELS


def test_f_avg_is_the_mean_f1_of_the_two_stance_classes_only():
    truth = [PRO, PRO, ANTI, ANTI, NEUTRAL, NEUTRAL]
    guess = [PRO, ANTI, ANTI, ANTI, PRO, PRO]
    # pro: precision 1/3, recall 1/2 -> F1 0.4 ; anti: precision 2/3, recall 1 -> F1 0.8 ; neutral ignored
    assert f_avg(truth, guess, STANCES) == pytest.approx(0.6)


def test_classification_metrics_by_hand():
    truth = [PRO, PRO, ANTI, ANTI, NEUTRAL, NEUTRAL]
    guess = [PRO, ANTI, ANTI, ANTI, PRO, PRO]
    metrics = classification_metrics(truth, guess, LABELS, STANCES)
    assert metrics["accuracy"] == pytest.approx(3 / 6)
    assert metrics["macro_f1"] == pytest.approx((0.4 + 0.8 + 0.0) / 3)
    assert metrics["f_avg"] == pytest.approx(0.6)
    assert metrics["precision/pro-intervention"] == pytest.approx(1 / 3)
    assert metrics["recall/anti-intervention"] == pytest.approx(1.0)
    assert metrics["f1/neutral"] == 0.0
    assert metrics["support/neutral"] == 2


def test_majority_baseline_always_predicts_the_most_frequent_training_label():
    train = [NEUTRAL, NEUTRAL, NEUTRAL, PRO, ANTI]
    test = [NEUTRAL, PRO, ANTI, NEUTRAL]
    baseline = majority_baseline_metrics(train, test, LABELS, STANCES)
    assert baseline["accuracy"] == pytest.approx(0.5)
    assert baseline["f_avg"] == 0.0
    # neutral: precision 0.5, recall 1 -> F1 2/3; the stance classes score 0
    assert baseline["macro_f1"] == pytest.approx((2 / 3) / 3)
