"""User-facing errors: one line that names the thing, the problem and the fix."""


class HingeMirrorError(Exception):
    """An error the CLI prints as one line (no traceback) before exiting non-zero.

    The message must name the thing (a file, a camera, a port), say what is
    wrong with it and what to do about it.
    """

    exit_code = 2
