"""The one exception type a user sees: a problem they can fix, with the file and the problem named."""


class CneepError(Exception):
    """Bad input or an impossible request. The message is one line, meant for the user as it is."""


class Cancelled(CneepError):
    """The user stopped a phase that has no partial result to keep (held-out evaluation, an export).

    `kept` holds what was finished before it, when there is something (the trained seeds)."""

    def __init__(self, message: str, kept=None):
        super().__init__(message)
        self.kept = kept
