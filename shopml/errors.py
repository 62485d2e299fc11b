"""Errors a user can cause and fix.

Every package raises a subclass of :class:`ShopmlError` for a mistake in its input, with a message that says
what is wrong and how to fix it. The CLI prints such an error as one line and exits non-zero; the service
turns it into a 4xx answer. Anything else is a bug and keeps its traceback.
"""


class ShopmlError(Exception):
    """A mistake in the user's input or environment, explained in the message."""


class DataValidationError(ShopmlError, ValueError):
    """Input data breaks its contract (strict mode) or cannot be read at all."""


class NotTrainedError(ShopmlError):
    """A model, feature table or artifact that the call needs has not been built yet."""


class VerificationError(ShopmlError):
    """A result (a route plan, an allocation) failed its independent verifier; never returned as an answer.

    ``findings`` lists what the verifier found, one short sentence each; the service answers 422 with them.
    """

    def __init__(self, message: str, findings: list[str] | tuple[str, ...] = ()):
        super().__init__(message)
        self.findings = list(findings)

    def __reduce__(self):  # keeps the findings when the error crosses a process boundary (the solver pool)
        return type(self), (str(self), self.findings)
