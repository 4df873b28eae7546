"""What the client and the model process say to each other over their pipe.

The client sends one :class:`Request` and then reads :class:`Progress` messages until a
:class:`Reply`. Arrays never travel here: a request names shared-memory segments
(:class:`~ctseg_core.engine.shared_array.SharedArrayRef`). Errors travel as :class:`RemoteError`,
because ctseg's errors take ``(path, problem)`` and so do not unpickle as plain exceptions do.
"""

from __future__ import annotations

import importlib
import pickle
from dataclasses import dataclass, field
from typing import Any

from ctseg_core.errors import CtsegError

LOAD, PREDICT, FINE_TUNE, STOP = "load", "predict", "fine_tune", "stop"


@dataclass(frozen=True)
class Request:
    """One piece of work: ``kind`` (LOAD, PREDICT, FINE_TUNE, STOP) and its keywords."""

    kind: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    stage: str


@dataclass(frozen=True)
class Reply:
    """The request's result (``ok``) or its error (``error``)."""

    value: Any = None
    error: RemoteError | None = None


@dataclass(frozen=True)
class RemoteError:
    """An exception, carried as its class's dotted name, its args and its attributes."""

    module: str
    name: str
    args: tuple[Any, ...]
    state: dict[str, Any]
    text: str

    @classmethod
    def of(cls, error: BaseException) -> RemoteError:
        state = {key: value for key, value in vars(error).items() if _picklable(value)}
        args = error.args if _picklable(error.args) else (str(error),)
        return cls(type(error).__module__, type(error).__qualname__, args, state, str(error))

    def rebuild(self) -> BaseException:
        """The same exception in this process; a CtsegError with its text if its class cannot be made."""
        try:
            kind = getattr(importlib.import_module(self.module), self.name)
            error = kind.__new__(kind)
            error.args = self.args
            error.__dict__.update(self.state)
            if isinstance(error, BaseException):
                return error
        except Exception:  # a class only the child knows, or one that refuses __new__
            pass
        return CtsegError(None, f"{self.name}: {self.text}")


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True
