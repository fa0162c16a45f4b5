"""Keypoint track files (`.npz`, DESIGN.md): read with validation, write atomically."""

from __future__ import annotations

import errno
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.errors import HingeMirrorError
from device.files import not_a_file


@dataclass(frozen=True)
class Track:
    keypoints: np.ndarray  # float32 (N, 17, 3): (y, x, score), y and x on the full frame 0..1
    t: np.ndarray  # float64 (N,): seconds since the first frame
    frame_size: tuple[int, int]  # (height, width) in pixels

    def __len__(self) -> int:
        return len(self.t)


def _bad(path: Path, problem: str) -> HingeMirrorError:
    return HingeMirrorError(
        f"track {path}: {problem}; re-create it with `hinge-mirror track VIDEO -o {path.name}`"
    )


def load_track(path: Path) -> Track:
    """Read and check a track file; any defect raises a one-line HingeMirrorError."""
    path = Path(path)
    if not path.is_file():
        raise not_a_file("track", path)
    try:
        with open(path, "rb") as f:
            torn = f.read(4) == b"PK\x03\x04"  # an archive's start (its end may be missing)
    except OSError as exc:
        raise HingeMirrorError(f"track {path}: cannot be read ({exc.strerror}); check its "
                               "permissions") from None
    if not zipfile.is_zipfile(path):  # numpy would say it holds pickled data and how to load it
        raise _bad(path, "a damaged .npz archive (cut short, or not fully copied)" if torn
                   else "not a keypoint track (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("keypoints", "t", "frame_size") if k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise _bad(path, f"not a readable .npz ({exc})") from None
    missing = {"keypoints", "t", "frame_size"} - arrays.keys()
    if missing:
        raise _bad(path, f"missing array(s) {sorted(missing)}")
    odd = sorted(k for k, v in arrays.items() if not isinstance(v, np.ndarray))
    if odd:  # numpy hands back the bytes of a member that is no .npy
        raise _bad(path, f"not a readable .npz ({', '.join(odd)} not an array)")
    kp, t, size = arrays["keypoints"], arrays["t"], arrays["frame_size"]
    if kp.ndim != 3 or kp.shape[1:] != (17, 3):
        raise _bad(path, f"keypoints have shape {kp.shape}, expected (N, 17, 3)")
    if t.shape != (kp.shape[0],):
        raise _bad(path, f"t has shape {t.shape}, expected ({kp.shape[0]},) like keypoints")
    if size.shape != (2,) or not np.all(size > 0):
        raise _bad(path, f"frame_size is {size.tolist()}, expected (height, width) > 0")
    if len(t) == 0:
        raise _bad(path, "it holds no frames")
    if not (np.all(np.isfinite(kp)) and np.all(np.isfinite(t))):
        raise _bad(path, "keypoints or t contain NaN or infinity")
    if np.any(np.diff(t) < 0):
        raise _bad(path, "t is not non-decreasing")
    return Track(kp.astype(np.float32, copy=False), t.astype(np.float64, copy=False),
                 (int(size[0]), int(size[1])))


def save_track(path: Path, track: Track, option: str = "-o") -> None:
    """Write a track atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f, keypoints=track.keypoints.astype(np.float32),
                t=track.t.astype(np.float64),
                frame_size=np.asarray(track.frame_size, dtype=np.int32),
            )
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        hint = (f"free disk space or pick another folder with {option}"
                if exc.errno == errno.ENOSPC else f"pick another folder with {option}")
        raise HingeMirrorError(f"track {path}: cannot be written ({exc.strerror}); {hint}"
                               ) from None
