"""A wheel built from the repository works outside it: the model manifest, the
templates and the static files are package data."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "-q", "-w", str(out), str(REPO)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    (whl,) = out.glob("hinge_mirror-*.whl")
    return whl


def test_the_wheel_holds_the_manifest_templates_and_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("device/vision/manifest.json", "web_ui/templates/mirror.html",
                   "web_ui/templates/staff/settings.html", "web_ui/static/mirror.js",
                   "web_ui/static/mirror.css", "device/service/child.py"):
        assert needed in names, needed
    assert not [n for n in names if n.endswith((".tflite", ".npz", ".mp4"))]


def test_the_installed_wheel_runs_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q",
                           "--target", str(site), str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    script = (
        "import device, json\n"
        "from pathlib import Path\n"
        f"assert Path(device.__file__).is_relative_to({str(site)!r}), device.__file__\n"
        "import web_ui\n"
        f"assert Path(web_ui.__file__).is_relative_to({str(site)!r}), web_ui.__file__\n"
        "from device.vision import modelfiles\n"
        "spec = modelfiles.load_manifest()[modelfiles.DEFAULT_MODEL]\n"
        "assert spec.sha256 and not str(modelfiles.install_dir()).startswith("
        f"{str(site)!r})\n"
        "from device.service.hub import StateHub\n"
        "from web_ui import create_app\n"
        "app = create_app({}, hub=StateHub(), health=lambda: {'ok': True})\n"
        f"assert Path(app.root_path).is_relative_to({str(site)!r}), app.root_path\n"
        "c = app.test_client()\n"
        "assert c.get('/').status_code == 200\n"
        "assert c.get('/static/mirror.js').status_code == 200\n"
        "print('ok', modelfiles.install_dir())\n")
    env = dict(os.environ, PYTHONPATH=str(site), HOME=str(tmp_path))
    env.pop("HINGE_MIRROR_MODELS", None)
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("ok ")
    version = subprocess.run([sys.executable, "-m", "device.cli", "--version"], cwd=tmp_path,
                             env=env, capture_output=True, text=True)
    assert version.stdout.strip() == "hinge-mirror 0.1.0", version.stdout + version.stderr
