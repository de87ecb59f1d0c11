"""Errors the engine raises, each with a message a person can act on."""

from __future__ import annotations


class DicomDecodeError(Exception):
    """A file cannot be read or decoded; the message names the file and the problem."""

    def __init__(self, path: object, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"Cannot open '{self.path}': {problem}")


class BackendUnavailableError(RuntimeError):
    """An explicitly requested backend cannot run on this machine."""
