"""The runtime's errors: each knows the HTTP status the web layer answers with."""

from dataclasses import dataclass


class TirkeuError(Exception):
    """Base of every error a caller can cause; `status` is the HTTP status for it."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(TirkeuError):
    status = 404
    code = "not_found"


class Forbidden(TirkeuError):
    status = 403
    code = "forbidden"


class Unavailable(TirkeuError):
    """A registry the act needs did not answer: nothing changed, the caller may try again."""

    status = 503
    code = "unavailable"


class Conflict(TirkeuError):
    status = 409
    code = "conflict"


class TakenKey(Conflict):
    """A start whose business key (an application number) an instance of the process holds.

    `errors` names the field and the reason, as for invalid data.
    """

    code = "business_key_taken"

    def __init__(self, message: str, errors: dict[str, str]):
        super().__init__(message)
        self.errors = errors


class InvalidData(TirkeuError):
    """Data refused by a form schema or a contract rule; `errors` maps each field to a reason."""

    status = 422
    code = "invalid_data"

    def __init__(self, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.errors = errors or {}


@dataclass(frozen=True)
class Problem:
    """One problem found in a diagram, a decision table, a form file or a translation.

    A `warning` lets a version be proposed. One that `stops_effect` (a text missing in a
    language) keeps it from taking effect, so that its texts are completed first: `tirkeu
    deploy` and approval refuse it; one that does not (a translation the process no longer
    uses) is only reported.
    """

    file: str
    line: int | None
    element: str | None
    message: str
    warning: bool = False
    stops_effect: bool = True

    def __str__(self) -> str:
        where = f"{self.file}:{self.line or 0}"
        return f"{where}: {self.element + ': ' if self.element else ''}{self.message}"


class InvalidDiagram(TirkeuError):
    """A bundle that would fail at run time; nothing of it is deployed."""

    status = 422
    code = "invalid_diagram"

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems[:5]))
        self.problems = problems


class ScriptError(TirkeuError):
    """A script or expression refused by the restrictions, or one that ran too long."""

    status = 422
    code = "script_refused"


def field_errors(error: TirkeuError) -> dict[str, str] | None:
    """Return the reason for each field an error refuses; None for an error about no data."""
    errors = getattr(error, "errors", None)
    return None if errors is None else dict(errors)
