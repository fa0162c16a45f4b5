"""Shared fixtures: the real model, the clips from ../shared and a headless Chromium.

Without them the tests that need them skip and say why. With
``HINGE_MIRROR_REQUIRE_ALL=1`` (set by `.ci/run`, where ../shared and Debian's
chromium are there) they fail instead: in CI nothing may silently skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest

from device.errors import HingeMirrorError
from device.vision import modelfiles
from tests.helpers import FAKES, REPO, Rig, unavailable

SHARED = REPO.parent / "shared"
CLIPS = SHARED / "clips"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"




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


# Tracks of the clips kept between runs, outside the checkout (they are derived
# from the clips: never in git). A track is kept under the hash of what makes
# it: the clip's bytes, the model's, the pose path's code (device/vision, the joints and the
# tracking loop) and the versions of the runtime and of OpenCV that decode and
# run it. Any change to one of them tracks the clip anew.
# HINGE_MIRROR_TRACK_CACHE="" turns it off.
TRACK_CACHE = os.environ.get("HINGE_MIRROR_TRACK_CACHE", str(
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hinge-mirror" / "tracks"))
POSE_CODE = [*sorted((REPO / "device" / "vision").glob("*.py")),
             REPO / "device" / "core" / "skeleton.py",  # the joints the crop follows
             REPO / "device" / "offline" / "analysis.py"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pose_path_key(model: Path) -> str:
    """The hash of everything but the clip that a track depends on."""
    from importlib import metadata

    versions = []
    for dist in ("ai-edge-litert", "tflite-runtime", "opencv-python-headless", "numpy"):
        try:
            versions.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist}=none")
    import cv2

    parts = [_sha(model), *(f"{p.relative_to(REPO)}:{_sha(p)}" for p in POSE_CODE),
             *versions, f"cv2={cv2.__version__}"]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@pytest.fixture(scope="session")
def tracks(tmp_path_factory, model_path):
    """A folder for the clips' tracks (evaluate_dir's cache), filled from the
    kept tracks whose key matches, and the new ones kept at the end."""
    folder = tmp_path_factory.mktemp("tracks")
    store = Path(TRACK_CACHE) if TRACK_CACHE else None
    videos = {p.stem: p for d in (CLIPS, CLIPS / "warps") for p in d.glob("*.mp4")}
    if store is None or not videos:
        yield folder
        return
    pose_key = pose_path_key(model_path)
    keys = {stem: hashlib.sha256(f"{pose_key}:{_sha(v)}".encode()).hexdigest()
            for stem, v in videos.items()}
    for stem, key in keys.items():
        kept = store / f"{key}.npz"
        if kept.is_file():
            shutil.copy(kept, folder / f"{stem}.npz")
    yield folder
    try:
        store.mkdir(parents=True, exist_ok=True)
        for track in folder.glob("*.npz"):
            key = keys.get(track.stem)
            if key and not (store / f"{key}.npz").is_file():
                part = store / f"{key}.npz.part"  # whole or not there, never half a track
                shutil.copy(track, part)
                os.replace(part, store / f"{key}.npz")
    except OSError:
        pass  # a cache that cannot be written only costs time


@pytest.fixture
def rig(tmp_path):
    made = []

    def make(job, **kw):
        r = Rig(tmp_path, job, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def scratch(tmp_path, model_path):
    fakes, state, root = tmp_path / "bin", tmp_path / "state", tmp_path / "root"
    for d in (fakes, state, root / "etc"):
        d.mkdir(parents=True)
    for name, body in FAKES.items():
        f = fakes / name
        f.write_text("#!/bin/bash\n" + textwrap.dedent(body))
        f.chmod(0o755)
    (state / "users").write_text("pi:1000\n")
    (root / "etc" / "os-release").write_text(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\n')
    if not Path("/usr/bin/python3").exists():
        unavailable("the system's python3 is needed to make the device's venv")
    env = dict(os.environ, PATH=f"{fakes}:/usr/sbin:/usr/bin:/sbin:/bin", FAKE_STATE=str(state),
               HINGE_MIRROR_ROOT=str(root), HINGE_MIRROR_MODEL_DIR=str(model_path.parent))
    for key in ("VIRTUAL_ENV", "PYTHONPATH", "HINGE_MIRROR_MODELS"):
        env.pop(key, None)
    return root, state, env


@pytest.fixture(scope="session")
def labels(clips) -> dict:
    return json.loads((clips / "labels.json").read_text())


# `make test-fast` (pytest -m "not slow"): what a developer runs on every edit.
# Slow: MoveNet over the clips, a real browser, spawned supervisor children,
# pip installs and wheel builds, and the tests that wait on real time.
SLOW_MODULES = {"test_clips", "test_browser", "test_supervisor", "test_soak", "test_packaging",
                "test_installer", "test_upgrade", "test_camera_away", "test_systemd_notify",
                "test_server_load", "test_home"}
SLOW_TESTS = {
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
