"""`python -m pipeline.learning_curve`: cross-validated scores of the data set the splits hold."""

import json
import sys

import pytest
from conftest import REPO, compose_config, run

from pipeline.prepare import write_prepared_splits

SEMEVAL_OVERRIDES = ["data=semeval2016", f"data.path={REPO / 'tests' / 'fixtures' / 'semeval2016'}"]


@pytest.mark.slow
def test_the_curve_is_of_the_prepared_data_set_with_its_own_labels(tmp_path):
    """After `make run OVERRIDES="data=semeval2016"` the curve is SemEval's, scored with FAVOR/AGAINST/NONE, not with
    the shipped corpus's labels (which no SemEval statement has)."""
    processed, reports = tmp_path / "processed", tmp_path / "reports"
    write_prepared_splits(compose_config([*SEMEVAL_OVERRIDES, f"paths.processed={processed}"]))
    command = [sys.executable, "-m", "pipeline.learning_curve", f"paths.processed={processed}"]
    run([*command, f"paths.reports={reports}", "hydra.run.dir=" + str(tmp_path / "hydra")], cwd=REPO)
    written = json.loads((reports / "learning_curve.json").read_text())
    labels = {pair["label"] for pair in written["confused_pairs"]} | {
        pair["predicted"] for pair in written["confused_pairs"]
    }
    assert labels <= {"FAVOR", "AGAINST", "NONE"}
    assert written["curve"][-1]["f_avg_mean"] > 0.5
