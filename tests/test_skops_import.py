"""skops is imported without dragging torch in, and trusts exactly the types it would trust otherwise.

Each check runs in a fresh interpreter: an import happens once per process.
"""

import json
import subprocess
import sys

import pytest
from extras import needs_embeddings

TRUSTED_TABLE = (
    "import json, skops.io._trusted_types as table; "
    "print(json.dumps(sorted(table.SKLEARN_ESTIMATOR_TYPE_NAMES + table.SKLEARN_INTERNAL_TYPE_NAMES)))"
)


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


@needs_embeddings()
def test_importing_skops_does_not_import_torch_and_torch_stays_importable():
    code = (
        "import importlib, sys\n"
        "from pipeline.models.skops_import import TORCH_NAMESPACE, import_skops\n"
        "import_skops()\n"
        "print('torch' in sys.modules, TORCH_NAMESPACE in sys.modules)\n"
        "importlib.import_module(TORCH_NAMESPACE)\n"
        "print('torch' in sys.modules)\n"
    )
    after_skops, after_explicit_import = run_python(code).splitlines()
    assert after_skops == "False False"
    # Hidden only while skops was imported: scikit-learn's torch namespace (and torch) import normally afterwards.
    assert after_explicit_import == "True"


def test_skops_trusts_the_same_types_either_way():
    plain = json.loads(run_python(TRUSTED_TABLE))
    through_the_project = json.loads(
        run_python("from pipeline.models.skops_import import import_skops; import_skops(); " + TRUSTED_TABLE)
    )
    assert len(plain) > 100  # every scikit-learn estimator
    assert through_the_project == plain


ALL_TABLES = (
    "import json, skops.io._trusted_types as table; "
    "print(json.dumps({name: sorted(value) for name, value in vars(table).items() if name.endswith('_TYPE_NAMES')}))"
)
# stance-predict and the model server, loading a registered model (from a store that is not there: the imports are
# what counts here)
LOAD_REGISTERED_MODEL = """
from pipeline.errors import UserInputError
from pipeline.inference import load_from_mlflow
try:
    load_from_mlflow("models:/stance-classifier/1", "sqlite:////nonexistent/mlflow.db")
except UserInputError:
    pass
"""


@pytest.mark.parametrize("code", ["import pipeline.train", "import pipeline.evaluate", LOAD_REGISTERED_MODEL])
def test_the_stages_import_skops_before_mlflow(code):
    """skops searches every loaded module for each ufunc as it builds its table: 1.1 s more after MLflow's modules."""
    order = run_python(
        code + "\nimport sys\nloaded = list(sys.modules)\nprint(loaded.index('skops.io'), loaded.index('mlflow'))"
    )
    skops_position, mlflow_position = map(int, order.split())
    assert skops_position < mlflow_position


def test_skops_imported_before_or_after_mlflow_trusts_the_same_types():
    first = json.loads(run_python("from pipeline.models import skops_first; import mlflow.sklearn; " + ALL_TABLES))
    after = json.loads(run_python("import mlflow.sklearn; import skops.io; " + ALL_TABLES))
    assert len(first["SKLEARN_ESTIMATOR_TYPE_NAMES"]) > 100 and len(first["NUMPY_UFUNC_TYPE_NAMES"]) > 10
    assert first == after
