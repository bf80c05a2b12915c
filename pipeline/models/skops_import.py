"""`skops.io`, imported without importing torch as a side effect.

When skops is imported it builds its table of trusted types with scikit-learn's `all_estimators()`, which walks every
scikit-learn package with `pkgutil.walk_packages`. The walk imports each package to look inside it, among them
`sklearn.externals.array_api_compat.torch`, whose `__init__` imports torch when torch is installed (the `embeddings`
extra): 1-1.5 s added to every stage and to `stance-predict`'s start, for models that never use torch. That package
holds no estimator (`all_estimators` skips `externals`), so hiding it for the length of the import changes nothing in
the table: the walk sees it as it would without torch installed (an ImportError, which the walk skips). Afterwards it
imports normally again. When torch is already loaded there is nothing to save and skops is imported as it is.
"""

import importlib
import sys
from types import ModuleType

TORCH_NAMESPACE = "sklearn.externals.array_api_compat.torch"


def import_skops() -> ModuleType:
    """The `skops.io` module (imported once per process; later calls return it at once)."""
    if "skops.io" in sys.modules or "torch" in sys.modules or TORCH_NAMESPACE in sys.modules:
        return importlib.import_module("skops.io")
    # None in sys.modules makes an import of that name raise ModuleNotFoundError, as a missing torch would.
    sys.modules[TORCH_NAMESPACE] = None
    try:
        return importlib.import_module("skops.io")
    finally:
        del sys.modules[TORCH_NAMESPACE]
