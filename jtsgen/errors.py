"""Errors raised on bad user input.

Every check on user-provided data or arguments raises :class:`InputError`
with a message that names the offending file or argument and the problem,
so users never see a traceback from deep inside JAX.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a file, an array or an argument that cannot be used.

    Args:
      source: what was wrong, e.g. a file path or an argument name.
      problem: a short description of the problem, in plain words.
    """

    def __init__(self, source: str, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")
