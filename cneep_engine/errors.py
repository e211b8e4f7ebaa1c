"""The one exception type a user sees: a problem they can fix, with the file and the problem named."""


class CneepError(Exception):
    """Bad input or an impossible request. The message is one line, meant for the user as it is."""
