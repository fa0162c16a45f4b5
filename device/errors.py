"""User-facing errors: one line that names the thing, the problem and the fix."""


class HingeMirrorError(Exception):
    """An error the CLI prints as one line (no traceback) before exiting non-zero.

    The message must name the thing (a file, a camera, a port), say what is
    wrong with it and what to do about it.
    """

    exit_code = 2


class CameraError(HingeMirrorError):
    """A camera that is not there or will not open. `reason` is an id the
    mirror words for the glass (device/words.py, CAMERA): "not_found",
    "cannot_open", "no_module" or "lost"."""

    def __init__(self, message: str, reason: str = "cannot_open") -> None:
        super().__init__(message)
        self.reason = reason
