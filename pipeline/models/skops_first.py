"""Imported for its effect: `skops.io`, before MLflow, by the stages that save and load skops models.

When skops is first imported it builds its table of trusted types, and for each numpy and scipy ufunc (they carry
no `__module__`) it searches every module already loaded, in import order, for the one that holds it. After
MLflow (about 1,300 more modules) the search is longer: loading a model from the registry takes 0.35 s less with
skops first, the train stage about the same (docs/benchmarks.md, "Train-stage overhead"). The table is the same
either way, as each ufunc is found in a module loaded before both.
"""

from pipeline.models.skops_import import import_skops

import_skops()
