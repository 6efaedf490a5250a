"""jtsgen: synthetic (anomalous) time series on JAX/Flax.

``jtsgen.fit``, ``jtsgen.generate``, ``jtsgen.evaluate`` and ``jtsgen.report`` are the
own-data workflow of :mod:`jtsgen.app.api` (the ``jtsgen`` command's Python side);
they are imported on first use, so ``import jtsgen`` stays light.
"""

_API = ("fit", "generate", "report", "load", "configure")


def __getattr__(name: str):
    if name in _API:
        from jtsgen.app import api

        return getattr(api, name)
    if name == "evaluate":  # the subpackage, callable as jtsgen.app.api.evaluate
        import jtsgen.evaluate

        return jtsgen.evaluate
    raise AttributeError(f"module 'jtsgen' has no attribute {name!r}")
