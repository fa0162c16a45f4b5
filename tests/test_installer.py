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
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO, unavailable

# Stand-ins for the commands that would change the real system. Each logs its
# arguments; state (packages, users, enabled units) lives in $FAKE_STATE.
FAKES = {
    "apt-get": """
        echo "apt-get $*" >> "$FAKE_STATE/log"
        if [ "$1" = install ]; then shift; for p in "$@"; do
            case "$p" in -*) ;; *) echo "$p" >> "$FAKE_STATE/pkgs" ;; esac; done; fi
    """,
    "dpkg-query": """
        p="${@: -1}"
        grep -qx "$p" "$FAKE_STATE/pkgs" 2>/dev/null && printf 'install ok installed'
        exit 0
    """,
    "systemctl": """
        echo "systemctl $*" >> "$FAKE_STATE/log"
        case "$1" in
            is-enabled) [ -e "$FAKE_STATE/enabled-${@: -1}" ] ;;
            is-active) [ -e "$FAKE_STATE/active-${@: -1}" ] ;;
            enable) touch "$FAKE_STATE/enabled-$2" ;;
            start|restart) touch "$FAKE_STATE/active-$2" ;;
            stop) rm -f "$FAKE_STATE/active-$2"
                  if [ -x "$FAKE_STATE/on-stop" ]; then "$FAKE_STATE/on-stop"; fi ;;
            disable) rm -f "$FAKE_STATE/enabled-${@: -1}" "$FAKE_STATE/active-${@: -1}" ;;
        esac
    """,
    "useradd": """
        echo "useradd $*" >> "$FAKE_STATE/log"; echo "${@: -1}:998" >> "$FAKE_STATE/users"
    """,
    "userdel": """
        echo "userdel $*" >> "$FAKE_STATE/log"; sed -i "/^$1:/d" "$FAKE_STATE/users"
    """,
    "usermod": """
        echo "usermod $*" >> "$FAKE_STATE/log"; echo "${@: -1}:$3" >> "$FAKE_STATE/groups"
    """,
    "chown": """echo "chown $*" >> "$FAKE_STATE/log" """,
    "runuser": """
        echo "runuser $*" >> "$FAKE_STATE/log"
        while [ "$1" != -- ]; do shift; done; shift; exec "$@"
    """,
    "raspi-config": """echo "raspi-config $*" >> "$FAKE_STATE/log" """,
    "getent": """
        line=$(grep "^$2:" "$FAKE_STATE/users" 2>/dev/null) || { [ "$1" = group ]; exit $?; }
        [ "$1" = group ] && { echo "$2:x:44:"; exit 0; }
        echo "$2:x:${line#*:}:${line#*:}::/home/$2:/bin/sh"
    """,
    "id": """
        if [ "$1" = -nG ]; then
            grep "^$2:" "$FAKE_STATE/groups" 2>/dev/null | cut -d: -f2 | tr '\\n' ' '; echo
            exit 0
        fi
        exec /usr/bin/id "$@"
    """,
}


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


def install(env, *args, src: Path = REPO):
    # --no-deps: the device's dependencies come from PyPI on a Pi; here the
    # package itself is installed for real, its dependencies are not needed.
    return subprocess.run(["bash", str(src / "systemd" / "install.sh"), "--kiosk-user", "pi",
                           "--pip-arg", "--no-deps", *args], env=env, capture_output=True,
                          text=True, timeout=600)


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


def log_of(state: Path) -> list[str]:
    path = state / "log"
    lines = path.read_text().splitlines() if path.exists() else []
    path.write_text("")
    return lines


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


def test_the_installer_refuses_bad_options(scratch):
    root, state, env = scratch
    for args, says in ((["--port", "80000"], "out of range"), (["--bogus"], "unknown option")):
        done = subprocess.run(["bash", str(REPO / "systemd/install.sh"), *args], env=env,
                              capture_output=True, text=True)
        assert done.returncode != 0 and says in done.stderr
    assert not (root / "opt").exists()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))
