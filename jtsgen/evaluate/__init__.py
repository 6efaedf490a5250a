"""The four frameworks, tables, fidelity, privacy and realism (metrics: jtsgen.metrics).

The package is also callable: ``jtsgen.evaluate(workdir, ...)`` runs
:func:`jtsgen.app.api.evaluate` (the own-data workflow's tables), so the workflow reads
``jtsgen.fit`` / ``jtsgen.generate`` / ``jtsgen.evaluate`` while the modules here keep
their names.
"""

import sys
import types


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from jtsgen.app.api import evaluate

        return evaluate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
