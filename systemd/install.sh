#!/bin/bash
# Install (or upgrade) Hinge Mirror on Raspberry Pi OS Bookworm or Trixie.
#
#   sudo systemd/install.sh [--kiosk-user USER | --no-kiosk] [--port N]
#
# What it does, each step only when needed (running it twice changes nothing):
#   1. apt: python3-venv, python3-picamera2 (Raspberry Pi's repository),
#      Debian's numpy and OpenCV, espeak-ng, curl, and chromium for the kiosk
#   2. a system user `hinge-mirror` in the video and render groups
#   3. /etc/hinge-mirror/config.toml (written once, never overwritten),
#      /var/lib/hinge-mirror (data, models) and /var/log/hinge-mirror
#   4. a venv in /opt/hinge-mirror/venv made with --system-site-packages, and
#      a constraints file pinning Debian's numpy so pip never replaces it
#      (which breaks picamera2); hinge-mirror installed into it from this checkout
#   5. the pose model, fetched and verified (sha256), readable by the service
#   6. hinge-mirror.service and, for the desktop user, hinge-mirror-kiosk.service,
#      enabled and (re)started; screen blanking off (raspi-config)
#
# HINGE_MIRROR_ROOT=DIR installs under DIR instead of / (a scratch root, for
# tests); HINGE_MIRROR_MODEL_DIR=DIR takes the model from DIR, not the network.
set -euo pipefail

ROOT="${HINGE_MIRROR_ROOT:-}"
PREFIX=/opt/hinge-mirror
SERVICE_USER=hinge-mirror
KIOSK_USER="${SUDO_USER:-}"
PORT=8000
PIP_ARGS=()
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { echo "hinge-mirror install: $*"; }
die() { echo "hinge-mirror install: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --kiosk-user) KIOSK_USER="${2:?--kiosk-user needs a user name}"; shift 2 ;;
        --no-kiosk) KIOSK_USER=""; shift ;;
        --port) PORT="${2:?--port needs a number}"; shift 2 ;;
        --pip-arg) PIP_ARGS+=("${2:?}"); shift 2 ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
case "$PORT" in ''|*[!0-9]*) die "--port $PORT is not a number" ;; esac
[ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "--port $PORT is out of range (1-65535)"
[ -n "$ROOT" ] || [ "$(id -u)" = 0 ] || die "run it as root: sudo $0"
[ -f "$SRC/pyproject.toml" ] || die "$SRC is not a hinge-mirror checkout"

# shellcheck disable=SC1091
. "${ROOT}/etc/os-release" 2>/dev/null || . /etc/os-release
case "${VERSION_CODENAME:-}" in
    bookworm|trixie) ;;
    *) say "warning: ${PRETTY_NAME:-this system} is not Raspberry Pi OS Bookworm or Trixie; going on" ;;
esac

VENV="$PREFIX/venv"
UNITS="$ROOT/etc/systemd/system"
restart=0   # the service needs a restart: new code, new units
reload=0    # systemd needs a daemon-reload: new units

# Install FILE as DEST (mode MODE) only when its content differs.
put() {
    local src=$1 dest=$2 mode=$3
    if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
        return 1
    fi
    install -D -m "$mode" "$src" "$dest"
    say "wrote ${dest#"$ROOT"}"
}

# 1. Packages from apt (only the missing ones).
chromium_pkg=chromium
[ "${VERSION_CODENAME:-}" = bookworm ] && chromium_pkg=chromium-browser
packages=(python3-venv python3-pip python3-numpy python3-opencv python3-picamera2
          espeak-ng curl)
[ -n "$KIOSK_USER" ] && packages+=("$chromium_pkg")
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "apt: installing ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# 2. The service's user, in the groups that open cameras.
if ! getent passwd "$SERVICE_USER" >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/hinge-mirror --no-create-home \
        --shell /usr/sbin/nologin "$SERVICE_USER"
    say "made the system user $SERVICE_USER"
fi
for g in video render; do
    if getent group "$g" >/dev/null && ! id -nG "$SERVICE_USER" | tr ' ' '\n' | grep -qx "$g"; then
        usermod -a -G "$g" "$SERVICE_USER"
    fi
done

# 3. Folders and the config.
install -d -m 0755 "$ROOT/etc/hinge-mirror" "$ROOT$PREFIX" "$ROOT$PREFIX/bin"
install -d -m 0750 "$ROOT/var/lib/hinge-mirror" "$ROOT/var/log/hinge-mirror"
install -d -m 0755 "$ROOT/var/lib/hinge-mirror/models"
chown "$SERVICE_USER:$SERVICE_USER" "$ROOT/var/lib/hinge-mirror" "$ROOT/var/log/hinge-mirror"
if [ ! -e "$ROOT/etc/hinge-mirror/config.toml" ]; then
    sed "s/^port = 8000$/port = $PORT/" "$SRC/systemd/config.toml" > "$ROOT/etc/hinge-mirror/.config.toml.new"
    install -m 0644 "$ROOT/etc/hinge-mirror/.config.toml.new" "$ROOT/etc/hinge-mirror/config.toml"
    rm -f "$ROOT/etc/hinge-mirror/.config.toml.new"
    say "wrote /etc/hinge-mirror/config.toml"
fi

# 4. The venv, with Debian's numpy pinned, and hinge-mirror in it.
if [ ! -x "$ROOT$VENV/bin/python" ]; then
    python3 -m venv --system-site-packages "$ROOT$VENV"
    say "made the venv $VENV"
fi
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
    echo "# Debian's own packages, which pip must never replace (picamera2 is built on them)."
    python3 -c 'import numpy; print(f"numpy=={numpy.__version__}")' 2>/dev/null || true
    python3 -c 'import simplejpeg; print(f"simplejpeg=={simplejpeg.__version__}")' 2>/dev/null || true
} > "$tmp"
put "$tmp" "$ROOT$PREFIX/constraints.txt" 0644 || true
want=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$SRC/pyproject.toml" | head -1)
have=$("$ROOT$VENV/bin/python" -c 'from importlib.metadata import version; print(version("hinge-mirror"))' 2>/dev/null || true)
# The version and, in a git checkout, the commit: a new one is installed over the old.
stamp="$want $(git -C "$SRC" rev-parse HEAD 2>/dev/null || echo -)"
if [ "$have" != "$want" ] || [ "$(cat "$ROOT$PREFIX/.installed" 2>/dev/null)" != "$stamp" ]; then
    say "pip: installing hinge-mirror $want (was: ${have:-none})"
    # LiteRT has wheels for aarch64 (and x86_64); a 32-bit Raspberry Pi OS
    # falls back to tflite-runtime (Python 3.11 at most).
    target="$SRC"
    case "$(uname -m)" in aarch64|x86_64) ;; *) target="$SRC[tflite]" ;; esac
    "$ROOT$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        -c "$ROOT$PREFIX/constraints.txt" "${PIP_ARGS[@]}" "$target"
    echo "$stamp" > "$ROOT$PREFIX/.installed"
    restart=1
fi
put "$SRC/README.md" "$ROOT$PREFIX/README.md" 0644 || true

# 5. The model: verified where it is, else fetched and verified.
export HINGE_MIRROR_MODELS="$ROOT/var/lib/hinge-mirror/models"
if ! "$ROOT$VENV/bin/hinge-mirror" models verify --quiet 2>/dev/null; then
    "$ROOT$VENV/bin/hinge-mirror" models fetch
    restart=1
fi

# 6. The units, the kiosk, the screen.
render() {  # TEMPLATE -> stdout, placeholders filled
    sed -e "s#@PREFIX@#$PREFIX#g" -e "s#@USER@#$SERVICE_USER#g" -e "s#@PORT@#$PORT#g" \
        -e "s#@KIOSK_USER@#${KIOSK_USER}#g" -e "s#@KIOSK_UID@#${KIOSK_UID:-}#g" "$1"
}
render "$SRC/systemd/hinge-mirror.service.in" > "$tmp"
if put "$tmp" "$UNITS/hinge-mirror.service" 0644; then reload=1; restart=1; fi
units=(hinge-mirror.service)
if [ -n "$KIOSK_USER" ]; then
    KIOSK_UID=$(getent passwd "$KIOSK_USER" | cut -d: -f3)
    [ -n "$KIOSK_UID" ] || die "--kiosk-user $KIOSK_USER: no such user (or --no-kiosk)"
    put "$SRC/systemd/hinge-mirror-kiosk" "$ROOT$PREFIX/bin/hinge-mirror-kiosk" 0755 || true
    render "$SRC/systemd/hinge-mirror-kiosk.service.in" > "$tmp"
    if put "$tmp" "$UNITS/hinge-mirror-kiosk.service" 0644; then reload=1; fi
    units+=(hinge-mirror-kiosk.service)
    # The mirror page darkens the glass itself when nobody is there; the
    # desktop's own blanking would hide it while someone trains.
    if command -v raspi-config >/dev/null; then
        raspi-config nonint do_blanking 1 || say "warning: could not turn screen blanking off"
    fi
fi
if [ "$reload" = 1 ]; then systemctl daemon-reload; fi
for u in "${units[@]}"; do
    systemctl is-enabled --quiet "$u" 2>/dev/null || systemctl enable "$u"
done
if [ "$restart" = 1 ]; then
    systemctl restart hinge-mirror.service
else
    systemctl is-active --quiet hinge-mirror.service || systemctl start hinge-mirror.service
fi
[ -n "$KIOSK_USER" ] && { systemctl is-active --quiet hinge-mirror-kiosk.service ||
    systemctl start hinge-mirror-kiosk.service; }

say "done: the mirror on http://127.0.0.1:$PORT/, the staff console on port $PORT of this device"
if ! [ -s "$ROOT/var/lib/hinge-mirror/hinge-mirror.db" ]; then
    say "next: make a staff account: sudo -u $SERVICE_USER $VENV/bin/hinge-mirror staff add NAME --role admin --config /etc/hinge-mirror/config.toml"
fi
