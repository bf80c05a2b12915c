"""The same config, data and seed give the same `.skops` bytes, so that dvc.lock does not change on a retrain."""

import hashlib
import io
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import skops.io
from conftest import REPO, compose_config

from pipeline.features.text_input import SKOPS_TRUSTED_TYPES
from pipeline.models.model_files import FIXED_TIME, reproducible_skops_bytes, save_skops
from pipeline.train import fit_classifier

# The fine-tuned encoder needs the optional extra; tests/test_finetune.py checks its bytes the same way.
MODELS = sorted(path.stem for path in (REPO / "conf" / "model").glob("*.yaml") if path.stem != "minilm_finetune")


def trained(statements, model: str):
    # The out-of-core model learns in batches only from stateless (hashing) features.
    cfg = compose_config([f"model={model}", *(["features=hashing"] if model == "sgd_out_of_core" else [])])
    return fit_classifier(cfg, statements.rename(columns={"source": "group"}))


@pytest.mark.parametrize("model", MODELS)
def test_two_trainings_give_identical_bytes_that_load_and_predict_the_same(statements, model, tmp_path):
    first, second = trained(statements, model), trained(statements, model)
    # What skops writes on its own differs between two equal models (member names from id(), timestamps).
    assert skops.io.dumps(first) != skops.io.dumps(second)
    save_skops(first, tmp_path / "first.skops")
    save_skops(second, tmp_path / "second.skops")
    assert (tmp_path / "first.skops").read_bytes() == (tmp_path / "second.skops").read_bytes()
    restored = skops.io.load(tmp_path / "first.skops", trusted=SKOPS_TRUSTED_TYPES)
    np.testing.assert_array_equal(restored.predict(statements), first.predict(statements))
    if hasattr(first, "predict_proba"):
        np.testing.assert_array_equal(restored.predict_proba(statements), first.predict_proba(statements))


def test_members_carry_a_fixed_time_and_numbered_names(statements):
    with zipfile.ZipFile(io.BytesIO(reproducible_skops_bytes(trained(statements, "logreg")))) as zipped:
        infos = zipped.infolist()
    assert infos[0].filename == "schema.json"
    assert all(info.date_time == FIXED_TIME for info in infos)
    assert [info.filename.split(".")[0] for info in infos[1:]] == [str(n) for n in range(len(infos) - 1)]


TRAIN_AND_PRINT_DIGEST = """
import hashlib, sys
import pandas as pd
sys.path.insert(0, "tests")
from conftest import FIXTURE_CSV, compose_config
from pipeline.models.model_files import reproducible_skops_bytes
from pipeline.train import fit_classifier
cfg = compose_config(sys.argv[1:])
classifier = fit_classifier(cfg, pd.read_csv(FIXTURE_CSV).rename(columns={"source": "group"}))
print(hashlib.sha256(reproducible_skops_bytes(classifier)).hexdigest())
"""


@pytest.mark.slow
@pytest.mark.parametrize("model", ["logreg", "sgd_out_of_core"])
def test_another_process_with_another_hash_seed_writes_the_same_bytes(statements, model):
    """Memory addresses, and set and dict order under PYTHONHASHSEED, differ between processes; the file must not
    (the out-of-core model's hashing features once saved id(stop_words)).

    The other process keeps this one's environment: OPENBLAS_CORETYPE picks OpenBLAS's kernels, and another kernel
    rounds the last bit of a coefficient differently (measured: 1.7e-16 in coef_), which is the machine's
    arithmetic, not the file's reproducibility."""
    here = hashlib.sha256(reproducible_skops_bytes(trained(statements, model))).hexdigest()
    hash_seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    overrides = [f"model={model}", *(["features=hashing"] if model == "sgd_out_of_core" else [])]
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_AND_PRINT_DIGEST, *overrides],
        cwd=REPO,
        env={**os.environ, "PYTHONHASHSEED": hash_seed, "MLFLOW_DISABLE_TELEMETRY": "true"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == here
