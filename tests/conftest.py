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


# `make test-fast` (pytest -m "not slow"): what a developer runs on every edit.
# Slow: MoveNet over the clips, a real browser, spawned supervisor children,
# pip installs and wheel builds, and the tests that wait on real time.
SLOW_MODULES = {"test_clips", "test_browser", "test_supervisor", "test_soak", "test_packaging",
                "test_installer", "test_upgrade", "test_camera_away", "test_systemd_notify",
                "test_server_load"}
SLOW_TESTS = {
    "test_a_camera_that_stalls_is_shown_unavailable_within_3_s_and_recovers",
    "test_what_the_device_does_is_stored",
    "test_health_says_how_busy_the_pose_model_is",
    "test_the_devices_memory_is_read_from_a_real_run_of_both_processes",
    "test_the_invoke_clock_is_gone_when_the_bench_ends_even_on_an_error",
    "test_the_invokes_own_cpu_in_the_devices_threads_is_taken_from_their_cpu",
    "test_a_camera_that_gives_nothing_is_one_line_and_closed",
    "test_bench_json_keeps_designs_keys_and_adds_the_measures_beside_them",
    "test_the_mirror_shows_no_history_client_code_or_staff",
    "test_the_console_listens_where_the_mirror_does_unless_told",
    "test_a_broker_that_is_down_never_blocks_and_the_outbox_stays_bounded",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES or \
                item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
