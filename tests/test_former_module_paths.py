"""Models saved before the package's modules moved into sub-packages still load and predict the same.

tests/fixtures/models holds two small models written by the train code of that time (a per-target model and an
out-of-core model on hashing features, fitted on tests/fixtures/statements.csv with every second statement's target
"Syria", the others "Libya"), and the labels they gave then. Their files name the former module paths
(`pipeline.text_input.StatementText`...): what a registry's champion from before the move names too.
"""

import pandas as pd
import pytest
import skops.io
from conftest import FIXTURE_CSV, REPO

from pipeline import FORMER_MODULES
from pipeline.features import text_input
from pipeline.features.text_input import SKOPS_TRUSTED_TYPES
from pipeline.inference import load_model

MODELS = REPO / "tests" / "fixtures" / "models"
SAVED = ["per_target_word", "out_of_core_hashing"]


@pytest.fixture(scope="module")
def statements() -> pd.DataFrame:
    frame = pd.read_csv(FIXTURE_CSV)
    frame["target"] = ["Syria" if row % 2 else "Libya" for row in range(len(frame))]
    return frame


@pytest.mark.parametrize("name", SAVED)
def test_a_model_saved_under_the_former_module_paths_loads_and_gives_the_same_labels(statements, name):
    path = MODELS / f"{name}.skops"
    named = set(skops.io.get_untrusted_types(file=path))
    assert any(type_path.rsplit(".", 1)[0] in FORMER_MODULES for type_path in named)  # the fixture is the old kind
    expected = pd.read_csv(MODELS / "predictions.csv")[name].tolist()

    model = skops.io.load(path, trusted=SKOPS_TRUSTED_TYPES)
    assert model.predict(statements[["text", "target"]]).tolist() == expected
    # stance-predict's and the Python API's loader: the project's trusted types only, nothing refused.
    tagged = load_model(path).tag(statements[["text", "target"]])
    assert tagged["label"].tolist() == expected


def test_a_former_module_path_is_the_moved_module_itself():
    import pipeline.text_input as former

    assert former is text_input
    assert former.StatementText is text_input.StatementText
    with pytest.raises(ModuleNotFoundError):
        import pipeline.no_such_module  # noqa: F401  only the listed former paths are answered
