"""Shared fixtures: the real model and clips from ../shared, skipped with a reason when absent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device import modelfiles
from device.errors import HingeMirrorError

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CLIPS = SHARED / "clips"


@pytest.fixture(scope="session")
def model_path() -> Path:
    try:
        return modelfiles.verify()
    except HingeMirrorError as exc:
        pytest.skip(f"pose model not installed ({exc}); run `make test` with "
                    "HINGE_MIRROR_MODEL_DIR set or network access")


@pytest.fixture(scope="session")
def clips() -> Path:
    if not (CLIPS / "labels.json").is_file():
        pytest.skip(f"real clips not found at {CLIPS} (../shared/clips beside the repo)")
    return CLIPS


@pytest.fixture(scope="session")
def labels(clips) -> dict:
    return json.loads((clips / "labels.json").read_text())
