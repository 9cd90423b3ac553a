"""One exception type for every input the user got wrong: the CLI prints its message as one line."""


class BenchError(Exception):
    """A user-facing error: the message says what was wrong and what is valid."""
