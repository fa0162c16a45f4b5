"""The Raspberry Pi installer, run for real in a scratch root: apt, systemctl and
the user tools are stand-ins that record what they were asked (there is no Pi
here); the venv, pip, the model fetch and the files are real. Then the units it
wrote are checked by `systemd-analyze verify`."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, install, log_of, unavailable


def tree(root: Path) -> dict[str, tuple]:
    """Every file under root: mode, size, sha256, mtime (what a change would move)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if "__pycache__" in p.parts or p.is_dir() or p.is_symlink():
            continue
        st = p.stat()
        out[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns,
                                         hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def test_the_installer_sets_up_a_device_and_a_second_run_changes_nothing(scratch):
    root, state, env = scratch
    first = install(env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    calls = log_of(state)
    apt = next(c for c in calls if c.startswith("apt-get install"))
    for pkg in ("python3-picamera2", "python3-numpy", "python3-opencv", "espeak-ng",
                "chromium-browser"):
        assert pkg in apt.split()
    assert any(c.startswith("useradd --system") and c.endswith("hinge-mirror") for c in calls)
    assert "usermod -a -G video hinge-mirror" in calls
    assert "systemctl enable hinge-mirror.service" in calls
    assert "systemctl enable hinge-mirror-kiosk.service" in calls
    assert "raspi-config nonint do_blanking 1" in calls
    assert any(c.startswith("chown hinge-mirror:hinge-mirror") and "var/lib/hinge-mirror" in c
               for c in calls)
    # The venv sees Debian's packages and pins Debian's numpy, if it has one.
    venv = root / "opt/hinge-mirror/venv"
    assert "include-system-site-packages = true" in (venv / "pyvenv.cfg").read_text()
    version = subprocess.run([str(venv / "bin/hinge-mirror"), "--version"], capture_output=True,
                             text=True, env=env)
    assert version.stdout.startswith("hinge-mirror "), version.stderr
    # The model, verified and readable by the service user.
    model = next((root / "var/lib/hinge-mirror/models").glob("*.tflite"))
    assert model.stat().st_mode & 0o777 == 0o644
    # The config is valid by the device's own schema.
    from device.config import load_config

    config = load_config(root / "etc/hinge-mirror/config.toml")
    assert config.store.path == "/var/lib/hinge-mirror/hinge-mirror.db"
    assert config.log.dir == "/var/log/hinge-mirror"
    unit = (root / "etc/systemd/system/hinge-mirror.service").read_text()
    kiosk = (root / "etc/systemd/system/hinge-mirror-kiosk.service").read_text()
    assert "@" not in unit.replace("file://", "") and "User=pi" in kiosk
    assert "XDG_RUNTIME_DIR=/run/user/1000" in kiosk
    # Twice: nothing changes, nothing is installed, restarted or re-enabled.
    before = tree(root)
    second = install(env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert tree(root) == before
    calls = log_of(state)
    assert not [c for c in calls if c.split()[0] in ("apt-get", "useradd", "usermod")
                or c.split()[:2] in (["systemctl", "restart"], ["systemctl", "enable"],
                                     ["systemctl", "daemon-reload"])], calls
    assert "wrote" not in second.stdout and "pip:" not in second.stdout
    # A config the staff edited is never overwritten.
    cfg = root / "etc/hinge-mirror/config.toml"
    cfg.write_text(cfg.read_text().replace("retention_days = 365", "retention_days = 30"))
    assert install(env).returncode == 0
    assert "retention_days = 30" in cfg.read_text()
    # Last, as it needs Debian's numpy on this machine: pip is pinned to it.
    system_numpy = subprocess.run(
        ["/usr/bin/python3", "-c", "import numpy; print(numpy.__version__)"],
        capture_output=True, text=True).stdout.strip()
    if not system_numpy:
        unavailable("Debian's python3-numpy is not installed (apt install python3-numpy): "
                    "the constraints pin cannot be checked")
    constraints = (root / "opt/hinge-mirror/constraints.txt").read_text()
    assert f"numpy=={system_numpy}" in constraints


def test_the_units_pass_systemd_analyze_verify(scratch, tmp_path):
    root, state, env = scratch
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        unavailable("systemd-analyze is not installed (apt install systemd)")
    assert install(env).returncode == 0
    # The units name /opt/hinge-mirror; here it lives under the scratch root.
    checked = tmp_path / "units"
    checked.mkdir()
    for name in ("hinge-mirror.service", "hinge-mirror-kiosk.service"):
        text = (root / "etc/systemd/system" / name).read_text()
        (checked / name).write_text(text.replace("/opt/hinge-mirror",
                                                 str(root / "opt/hinge-mirror")))
    done = subprocess.run([analyze, "verify", *sorted(map(str, checked.iterdir()))],
                          capture_output=True, text=True, env=dict(os.environ,
                                                                   SYSTEMD_LOG_LEVEL="notice"))
    problems = [line for line in (done.stdout + done.stderr).splitlines()
                if "hinge-mirror" in line]
    assert done.returncode == 0 and not problems, done.stdout + done.stderr
    unit = (checked / "hinge-mirror.service").read_text()
    for needed in ("Type=notify", "WatchdogSec=", "Restart=on-failure", "StartLimitBurst=",
                   "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                   "ReadWritePaths=/var/lib/hinge-mirror /var/log/hinge-mirror",
                   "DeviceAllow=char-video4linux rw"):
        assert needed in unit, needed


def test_uninstall_keeps_the_data_unless_purged(scratch):
    root, state, env = scratch
    assert install(env).returncode == 0
    (root / "var/lib/hinge-mirror/hinge-mirror.db").write_bytes(b"sessions")
    done = subprocess.run(["bash", str(REPO / "systemd/uninstall.sh")], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not (root / "opt/hinge-mirror").exists()
    assert not (root / "etc/systemd/system/hinge-mirror.service").exists()
    assert (root / "var/lib/hinge-mirror/hinge-mirror.db").read_bytes() == b"sessions"
    assert (root / "etc/hinge-mirror/config.toml").exists()
    assert "systemctl disable --now hinge-mirror.service" in log_of(state)
    done = subprocess.run(["bash", str(REPO / "systemd/uninstall.sh"), "--purge"], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not (root / "var/lib/hinge-mirror").exists()
    assert "userdel hinge-mirror" in log_of(state)


def test_a_home_install_says_so_in_its_config_and_needs_no_account(scratch):
    """Issue 26, item 5: the installer's --home (what a home user answers to its
    question on a terminal) writes [device] mode = "home"; a clinic's does not."""
    from device.config import load_config

    root, state, env = scratch
    done = install(env, "--home")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    config = load_config(root / "etc/hinge-mirror/config.toml")
    assert config.device.mode == "home" and config.device.menu()
    assert "wrote /etc/hinge-mirror/config.toml (home)" in done.stdout
    assert "at home: no account is needed" in done.stdout and "staff add" not in done.stdout


def test_the_installer_refuses_bad_options(scratch):
    root, state, env = scratch
    for args, says in ((["--port", "80000"], "out of range"), (["--bogus"], "unknown option")):
        done = subprocess.run(["bash", str(REPO / "systemd/install.sh"), *args], env=env,
                              capture_output=True, text=True)
        assert done.returncode != 0 and says in done.stderr
    assert not (root / "opt").exists()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))
