"""TFLite runtime selection: LiteRT (`ai_edge_litert`) first, `tflite_runtime` second.

tflite-runtime 2.14 lacks the XNNPACK int8 kernels LiteRT uses, and is an order
of magnitude slower per invoke on the same model (docs/measured.md, "Speed"), so
the fallback is for devices without a LiteRT wheel only.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from device.errors import HingeMirrorError

log = logging.getLogger(__name__)

RUNTIMES = ("ai_edge_litert", "tflite_runtime")


def _interpreter_class(runtime: str) -> Any:
    module = importlib.import_module(f"{runtime}.interpreter")
    return module.Interpreter


def available_runtime(prefer: str | None = None) -> tuple[str, Any]:
    """Return (runtime name, Interpreter class) of the first runtime that imports."""
    order = [prefer] if prefer else list(RUNTIMES)
    errors = []
    for name in order:
        try:
            return name, _interpreter_class(name)
        except ImportError as exc:  # an optional runtime that is missing is skipped
            errors.append(f"{name}: {exc}")
    raise HingeMirrorError(
        "TFLite runtime: none of " + ", ".join(order) + " can be imported ("
        + "; ".join(errors) + "); run `make run` to reinstall the venv"
    )


def load_interpreter(model: Path, threads: int = 1, prefer: str | None = None):
    """Load and allocate a TFLite interpreter. Returns (interpreter, runtime name)."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    name, cls = available_runtime(prefer)
    try:
        interp = cls(model_path=str(model), num_threads=threads)
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise HingeMirrorError(
            f"model {model}: the {name} runtime cannot load it ({str(exc).splitlines()[0]}); "
            "run `hinge-mirror models fetch` to reinstall it"
        ) from None
    log.info("pose runtime %s, %d thread(s), model %s", name, threads, model.name)
    return interp, name
