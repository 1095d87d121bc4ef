"""The two kinds of failure a connector reports: business outcomes and technical faults."""


class BusinessError(Exception):
    """A registry answered, and the answer ends the happy path (the diagram handles it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = code
        self.error_message = message

    def __repr__(self) -> str:
        return f"BusinessError({self.error_code!r}, {self.error_message!r})"


class TechnicalError(Exception):
    """A registry could not be asked or gave an unusable answer; the call is retried later."""


class KeyReused(TechnicalError):
    """The registry holds a different write under this idempotency key and refuses this one.

    A retry re-sends the same key with the same content and is answered as the first call was;
    the same key with other content is a fault of the caller, never a second write.
    """
