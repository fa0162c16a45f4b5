"""Model fetch/verify: sha256 always checked, installs atomic, refusals name both hashes."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from device.errors import HingeMirrorError
from device.vision import modelfiles

SPEC = modelfiles.load_manifest()[modelfiles.DEFAULT_MODEL]


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    install, mirror = tmp_path / "install", tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv(modelfiles.INSTALL_ENV, str(install))
    monkeypatch.setenv(modelfiles.MIRROR_ENV, str(mirror))
    return install, mirror


def test_a_wrong_file_is_refused_with_both_hashes_and_nothing_installed(dirs):
    install, mirror = dirs
    (mirror / SPEC.file).write_bytes(b"truncated")
    with pytest.raises(HingeMirrorError) as exc:
        modelfiles.fetch()
    msg = str(exc.value)
    assert SPEC.sha256 in msg and hashlib.sha256(b"truncated").hexdigest() in msg
    assert SPEC.file in msg
    assert not (install / SPEC.file).exists()
    assert list(install.iterdir()) == []  # no temporary file left behind


def test_verify_reports_missing_and_corrupt_installs(dirs):
    install, _ = dirs
    with pytest.raises(HingeMirrorError, match="not installed"):
        modelfiles.verify()
    install.mkdir()
    (install / SPEC.file).write_bytes(b"x" * 100)
    with pytest.raises(HingeMirrorError, match="does not match"):
        modelfiles.verify()


def test_missing_file_in_the_mirror_folder(dirs):
    with pytest.raises(HingeMirrorError, match="not found in HINGE_MIRROR_MODEL_DIR"):
        modelfiles.fetch()


def test_fetch_installs_the_real_model(model_path, dirs):  # model_path first: before env changes
    install, mirror = dirs
    shutil.copyfile(model_path, mirror / SPEC.file)
    assert modelfiles.fetch() == install / SPEC.file
    assert modelfiles.verify() == install / SPEC.file
    # Readable by the service user, who did not install it (root did).
    assert (install / SPEC.file).stat().st_mode & 0o777 == 0o644


def test_the_models_folder_readme_says_what_the_manifest_says():
    """models/README.md (tracked; the weights are not) and the manifest, one
    source: every model's file, size, sha256, URL and licence appear in it."""
    import json
    from pathlib import Path

    from device.vision.modelfiles import MANIFEST_PATH

    readme = (Path(__file__).resolve().parents[1] / "models" / "README.md").read_text()
    for m in json.loads(MANIFEST_PATH.read_text())["models"]:
        for key in ("file", "sha256", "url", "license", "size_bytes"):
            assert str(m[key]) in readme, f"models/README.md does not say the manifest's {key}"
