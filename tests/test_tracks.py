from __future__ import annotations

import zipfile

import numpy as np
import pytest

from device.errors import HingeMirrorError
from device.vision.tracks import Track, load_track, save_track


def good() -> dict:
    return {"keypoints": np.random.default_rng(0).random((5, 17, 3)).astype(np.float32),
            "t": np.arange(5) / 30.0, "frame_size": np.array([480, 640], np.int32)}


def test_round_trip_and_extra_arrays_are_ignored(tmp_path):
    p = tmp_path / "a.npz"
    np.savez(p, extra=np.zeros(3), **good())
    tr = load_track(p)
    assert tr.keypoints.shape == (5, 17, 3) and tr.frame_size == (480, 640)
    save_track(tmp_path / "b.npz", tr)
    assert np.array_equal(load_track(tmp_path / "b.npz").keypoints, tr.keypoints)


@pytest.mark.parametrize("change, message", [
    ({"keypoints": np.zeros((5, 16, 3), np.float32)}, "expected \\(N, 17, 3\\)"),
    ({"t": np.arange(4) / 30.0}, "t has shape"),
    ({"frame_size": np.array([0, 640])}, "frame_size"),
    ({"t": np.array([0, 1, np.nan, 3, 4.0])}, "NaN"),
])
def test_malformed_tracks_are_refused_in_one_line(tmp_path, change, message):
    arrays = good() | change
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(HingeMirrorError, match=message) as exc:
        load_track(p)
    assert "\n" not in str(exc.value) and "hinge-mirror track" in str(exc.value)


def test_missing_array_and_not_an_npz(tmp_path):
    p = tmp_path / "m.npz"
    np.savez(p, t=np.arange(3.0))
    with pytest.raises(HingeMirrorError, match="missing"):
        load_track(p)
    q = tmp_path / "x.npz"
    q.write_text("not a zip")
    with pytest.raises(HingeMirrorError, match=r"not a keypoint track \(not an .npz archive\)"
                       ) as exc:
        load_track(q)
    assert "pickle" not in str(exc.value)  # numpy's own advice: to unpickle the file
    torn = tmp_path / "torn.npz"  # an archive cut short
    np.savez(torn, keypoints=np.zeros((5, 17, 3)), t=np.arange(5.0), frame_size=[10, 10])
    torn.write_bytes(torn.read_bytes()[:-40])
    with pytest.raises(HingeMirrorError, match="a damaged .npz archive"):
        load_track(torn)
    odd = tmp_path / "odd.npz"  # an archive, one of its members no array
    np.savez(odd, t=np.arange(5.0), frame_size=[10, 10])
    with zipfile.ZipFile(odd, "a") as z:
        z.writestr("keypoints.npy", b"not an array")
    with pytest.raises(HingeMirrorError, match=r"not a readable .npz \(keypoints not an array"):
        load_track(odd)


def test_a_track_that_cannot_be_read_is_one_line(tmp_path, monkeypatch):
    from device.vision import tracks

    p = tmp_path / "t.npz"
    save_track(p, Track(good()["keypoints"], good()["t"], (480, 640)))

    def denied(*_a, **_k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tracks, "open", denied, raising=False)
    with pytest.raises(HingeMirrorError, match=r"t.npz: cannot be read \(Permission denied\)"):
        load_track(p)


def test_save_to_an_unwritable_place_says_so(tmp_path):
    tr = Track(np.zeros((1, 17, 3), np.float32), np.zeros(1), (10, 10))
    with pytest.raises(HingeMirrorError, match="cannot be written"):
        save_track(tmp_path / "no" / "such" / "dir.npz", tr)


def test_a_full_disk_is_reported_and_leaves_nothing_behind(tmp_path, monkeypatch):
    import errno

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full)
    tr = Track(np.zeros((1, 17, 3), np.float32), np.zeros(1), (10, 10))
    with pytest.raises(HingeMirrorError, match="No space left on device.*free disk space"):
        save_track(tmp_path / "t.npz", tr)
    assert list(tmp_path.iterdir()) == []
