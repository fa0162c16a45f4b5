"""Shared fixtures: the real model, the clips from ../shared and a headless Chromium.

Without them the tests that need them skip and say why. With
``HINGE_MIRROR_REQUIRE_ALL=1`` (set by `.ci/run`, where ../shared and Debian's
chromium are there) they fail instead: in CI nothing may silently skip.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from device.errors import HingeMirrorError
from device.vision import modelfiles

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CLIPS = SHARED / "clips"
REQUIRE_ALL = os.environ.get("HINGE_MIRROR_REQUIRE_ALL") == "1"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def unavailable(reason: str):
    """Skip with the reason, or fail where everything must be there (CI)."""
    if REQUIRE_ALL:
        pytest.fail(f"{reason} (HINGE_MIRROR_REQUIRE_ALL=1: required here)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def model_path() -> Path:
    try:
        return modelfiles.verify()
    except HingeMirrorError as exc:
        unavailable(f"pose model not installed ({exc}); run `make test` with "
                    "HINGE_MIRROR_MODEL_DIR set or network access")


@pytest.fixture(scope="session")
def clips() -> Path:
    if not (CLIPS / "labels.json").is_file():
        unavailable(f"real clips not found at {CLIPS} (../shared/clips beside the repo)")
    return CLIPS


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium driven through Debian's chromium-driver (selenium)."""
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        unavailable(f"Chromium not found ({CHROMIUM}, {CHROMEDRIVER}); on Debian: "
                    "apt install chromium chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium not installed; run `make test` (it installs the dev extras)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                 "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where browser tests leave their screenshots (build/test-artifacts, not in git)."""
    path = Path(os.environ.get("HINGE_MIRROR_ARTIFACTS", REPO / "build" / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def labels(clips) -> dict:
    return json.loads((clips / "labels.json").read_text())
