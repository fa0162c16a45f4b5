"""`make pi-check` (systemd/pi-check.sh) without its emulated root: the parts
that need no root, no debootstrap and no qemu. The run itself is `make pi-check`
(docs/install.md, "Checked on an emulated Pi")."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.helpers import REPO, unavailable

SCRIPT = REPO / "systemd" / "pi-check.sh"


def pi_check(*args, **env):
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, **env))


def deb_field(deb, field):
    return subprocess.run(["dpkg-deb", "-f", str(deb), field], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_an_unknown_release_is_refused_in_one_line_before_anything(tmp_path):
    # (No clips: were the check gone, the run would stop at its preflight.)
    done = pi_check(PI_RELEASE="sid", PI_OUT=str(tmp_path / "out"), PI_CACHE=str(tmp_path / "c"),
                    PI_CLIPS=str(tmp_path / "no-clips"))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "pi-check: error: PI_RELEASE=sid is not a release pi-check knows (trixie or bookworm)"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "c").exists()
    assert pi_check("--bogus").stderr.startswith("pi-check: error: unknown argument --bogus")


@pytest.mark.parametrize("release, names", [
    ("trixie", ["python3-picamera2"]),
    ("bookworm", ["chromium-browser", "python3-picamera2"]),
])
def test_the_stand_in_debs_take_only_raspberry_pis_names(tmp_path, release, names):
    if not shutil.which("dpkg-deb"):
        unavailable("dpkg-deb is not installed (a Debian system has it)")
    done = pi_check("--standins-only", str(tmp_path), PI_RELEASE=release)
    assert done.returncode == 0, done.stderr
    debs = sorted(tmp_path.glob("*.deb"))
    assert [deb_field(d, "Package") for d in debs] == names
    for deb in debs:
        name = deb_field(deb, "Package")
        assert deb.name == f"{name}_0~pi-check1_all.deb"
        assert deb_field(deb, "Architecture") == "all"
        assert deb_field(deb, "Provides") == f"{name}-standin"
        assert "pi-check" in deb_field(deb, "Description")
        listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                                 check=True).stdout
        # Empty but for its note: no picamera2 module that would pretend a camera stack.
        assert "site-packages" not in listing and "dist-packages" not in listing
        assert "root/root" in listing
    if "chromium-browser" in names:
        deb = tmp_path / "chromium-browser_0~pi-check1_all.deb"
        assert deb_field(deb, "Depends") == "chromium"  # Debian's browser does the work
        assert "./usr/bin/chromium-browser -> chromium" in subprocess.run(
            ["dpkg-deb", "-c", str(deb)], capture_output=True, text=True).stdout
    # apt's index names each one with its size and checksum.
    index = (tmp_path / "Packages").read_text()
    assert index.count("Package: ") == len(names)
    for deb in debs:
        assert f"Filename: ./{deb.name}\nSize: {deb.stat().st_size}\n" in index


def test_the_makefile_runs_it_niced_with_the_release_and_the_clips_folder():
    make = (REPO / "Makefile").read_text()
    assert "PI_RELEASE ?= trixie" in make
    assert "PI_CLIPS ?=" in make
    recipe = make.split("\npi-check:", 1)[1].split("\n\n", 1)[0]
    assert "nice -n 19 ionice -c3" in recipe and "systemd/pi-check.sh" in recipe
    # The package never names ../shared: only the Makefile does.
    assert "../shared" not in SCRIPT.read_text()
