"""The project's error type for problems with the user's input or environment.

Library code raises `AiaynError` (or `ValueError` for a bad argument value) with a message that
names the value and says what was expected or what to do. The CLI prints it as one line,
`aiayn: error: <message>`, and exits with code 2, never with a traceback.
"""


class AiaynError(Exception):
    """A user-facing error: bad input, missing data, a run directory that does not fit."""


class DataNotFoundError(AiaynError):
    """A data set is neither in a local copy nor in the cache, and cannot be downloaded."""
