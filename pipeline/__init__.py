"""Stance classification pipeline: prepare, train and evaluate classifiers of quoted statements."""

import importlib
import importlib.abc
import importlib.util
import sys

# A saved model names its classes by module path. These modules moved into sub-packages; the models saved before
# (in a registry, a champion the gate re-scores, a .skops file) name the old paths, which import the new modules.
FORMER_MODULES = {
    "pipeline.text_input": "pipeline.features.text_input",
    "pipeline.vectorizers": "pipeline.features.vectorizers",
    "pipeline.embeddings": "pipeline.features.embeddings",
    "pipeline.per_target": "pipeline.models.per_target",
    "pipeline.out_of_core": "pipeline.models.out_of_core",
    "pipeline.finetune": "pipeline.models.finetune",
}


class FormerModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a former module path as the module it moved to (the same module object, not a copy)."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in FORMER_MODULES else None

    def create_module(self, spec):
        return importlib.import_module(FORMER_MODULES[spec.name])

    def exec_module(self, module):
        pass  # it ran when it was imported under its own name


if not any(isinstance(finder, FormerModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(FormerModuleFinder())
