"""The one error type for bad city data: it names the input and says what to fix."""

from __future__ import annotations


class TwinInputError(ValueError):
    """Input data that cannot make a twin; the message names the input and the fix."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")
