"""The runtime's errors: each knows its HTTP status, mapped to responses only at the edge."""


class TirkeuError(Exception):
    """Base of the runtime's errors, with an HTTP status and a message for people."""

    status = 500

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(TirkeuError):
    """The instance, task or file asked for does not exist."""

    status = 404


class Forbidden(TirkeuError):
    """The actor may not do this."""

    status = 403


class Conflict(TirkeuError):
    """The step no longer applies: the task was completed, cancelled or claimed by another."""

    status = 409


class InvalidData(TirkeuError):
    """Submitted data does not match the form's schema; `errors` maps fields to reasons."""

    status = 422

    def __init__(self, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.errors = errors or {}


class InvalidDiagram(TirkeuError):
    """A deployment would fail at run time; `problems` lists why."""

    status = 422

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = problems or []
