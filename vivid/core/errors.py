"""The one exception type for problems a user can fix."""


class VividError(Exception):
    """A user-facing error: bad input, wrong checkpoint, unwritable output.

    The message is one line that says what was wrong and what to do about it. The CLI prints it
    to stderr and exits with status 2; ``--debug`` shows the traceback instead.
    """
