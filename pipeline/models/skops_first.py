"""Imported for its effect: `skops.io`, before MLflow, by the stages that save and load skops models.

When skops is first imported it builds its table of trusted types, and for each numpy and scipy ufunc (they carry
no `__module__`) it searches every module already loaded, in import order, for the one that holds it. Imported
after MLflow (about 1,300 more modules), the same search took 1.9-2.9 s instead of 0.75-1.1 s here; the table is
the same either way, as each ufunc is found in a module loaded before both (numbers in docs/benchmarks.md).
"""

from pipeline.models.skops_import import import_skops

import_skops()
