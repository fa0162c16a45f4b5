"""The model manifest (`device/vision/manifest.json`, package data): fetch,
verify and locate model files.

Where models are installed: $HINGE_MIRROR_MODELS; else `models/` of the
source checkout this runs from; else `/var/lib/hinge-mirror/models` (the
installer's) when it exists; else `~/.local/share/hinge-mirror/models`.
Installed files are readable by every user (0644): the service user reads
what root installed.

Files are installed atomically: written to a temporary file in the target
folder, checked against the manifest's sha256, then renamed into place, so a
half-downloaded or wrong file never sits where the runtime looks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from device.errors import HingeMirrorError

log = logging.getLogger(__name__)

_CHECKOUT = Path(__file__).resolve().parents[2]
REPO_MODELS_DIR = _CHECKOUT / "models"
SYSTEM_MODELS_DIR = Path("/var/lib/hinge-mirror/models")
MANIFEST_PATH = Path(__file__).resolve().parent / "manifest.json"
DEFAULT_MODEL = "movenet_singlepose_lightning_int8"
MIRROR_ENV = "HINGE_MIRROR_MODEL_DIR"  # a local folder holding official copies
INSTALL_ENV = "HINGE_MIRROR_MODELS"  # where installed models live (see install_dir)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    file: str
    url: str
    sha256: str
    size_bytes: int
    input_size: tuple[int, int]
    input_dtype: str


def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, ModelSpec]:
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HingeMirrorError(
            f"model manifest {path}: cannot be read ({exc}); reinstall hinge-mirror"
        ) from None
    specs = {}
    for m in raw["models"]:
        specs[m["name"]] = ModelSpec(
            name=m["name"], file=m["file"], url=m["url"], sha256=m["sha256"],
            size_bytes=int(m["size_bytes"]), input_size=tuple(m["input_size"]),
            input_dtype=m["input_dtype"],
        )
    return specs


def install_dir() -> Path:
    if os.environ.get(INSTALL_ENV):
        return Path(os.environ[INSTALL_ENV])
    if (_CHECKOUT / "pyproject.toml").is_file():  # running from a source checkout
        return REPO_MODELS_DIR
    if SYSTEM_MODELS_DIR.is_dir():
        return SYSTEM_MODELS_DIR
    return Path.home() / ".local" / "share" / "hinge-mirror" / "models"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_path(name: str = DEFAULT_MODEL) -> Path:
    """Path of an installed model file (it may not exist yet: see `verify`)."""
    return install_dir() / load_manifest()[name].file


def verify(name: str = DEFAULT_MODEL) -> Path:
    """Check the installed file against the manifest; return its path or raise."""
    spec = load_manifest()[name]
    path = install_dir() / spec.file
    if not path.is_file():
        raise HingeMirrorError(
            f"model {path}: not installed; run `hinge-mirror models fetch`"
        )
    got = sha256_of(path)
    if got != spec.sha256:
        raise HingeMirrorError(
            f"model {path}: sha256 {got} does not match the manifest's {spec.sha256} "
            "(truncated or wrong file); run `hinge-mirror models fetch` to replace it"
        )
    return path


def _copy_or_download(spec: ModelSpec, dst: Path) -> str:
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        src = Path(mirror) / spec.file
        if not src.is_file():
            raise HingeMirrorError(
                f"model {src}: not found in {MIRROR_ENV}={mirror}; "
                f"put {spec.file} there or unset {MIRROR_ENV} to download it"
            )
        shutil.copyfile(src, dst)
        return str(src)
    log.info("downloading %s from %s", spec.file, spec.url)
    try:
        with urllib.request.urlopen(spec.url, timeout=60) as resp, open(dst, "wb") as out:
            shutil.copyfileobj(resp, out)
    except OSError as exc:
        raise HingeMirrorError(
            f"model {spec.file}: download from {spec.url} failed ({exc}); check the network "
            f"or set {MIRROR_ENV} to a folder holding the file"
        ) from None
    return spec.url


def fetch(name: str = DEFAULT_MODEL) -> Path:
    """Install a model from the local mirror folder or its official URL, atomically."""
    spec = load_manifest()[name]
    target_dir = install_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / spec.file
    fd, tmp_name = tempfile.mkstemp(prefix=spec.file + ".", suffix=".part", dir=target_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        origin = _copy_or_download(spec, tmp)
        got = sha256_of(tmp)
        if got != spec.sha256:
            raise HingeMirrorError(
                f"model {spec.file} from {origin}: sha256 {got} does not match the "
                f"manifest's {spec.sha256} ({tmp.stat().st_size} of {spec.size_bytes} bytes); "
                "refusing to install it: fetch an unmodified copy"
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; the service user must read it
        os.replace(tmp, target)
    except OSError as exc:
        raise HingeMirrorError(
            f"model {target}: cannot be written ({exc.strerror}); free disk space "
            "or fix the folder's permissions"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    log.info("installed %s (sha256 verified) from %s", target, origin)
    return target
