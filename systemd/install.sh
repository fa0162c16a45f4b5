#!/bin/bash
# Install (or upgrade) Hinge Mirror on Raspberry Pi OS Bookworm or Trixie.
#
#   sudo systemd/install.sh [--kiosk-user USER | --no-kiosk] [--port N] [--home | --clinic]
#
# --home or --clinic: where the mirror stands, for a new config ([device] mode;
# at home no staff console on the network and nothing of the staff's on the
# glass, the arms' menu on). Neither: asked on a terminal, else a clinic.
#
# What it does, each step only when needed (running it twice changes nothing):
#   1. apt: python3-venv, python3-picamera2 (Raspberry Pi's repository),
#      Debian's numpy and OpenCV, espeak-ng, curl, and chromium for the kiosk
#   2. a system user `hinge-mirror` in the video and render groups
#   3. /etc/hinge-mirror/config.toml (written once, never overwritten),
#      /var/lib/hinge-mirror (data, models) and /var/log/hinge-mirror
#   4. a venv per release in /opt/hinge-mirror/releases, made with
#      --system-site-packages and a constraints file pinning Debian's numpy so
#      pip never replaces it (which breaks picamera2); hinge-mirror installed
#      into it from this checkout. An upgrade is tried on a copy of the store
#      first; then the store is backed up and migrated, and
#      /opt/hinge-mirror/venv switched to the new release. A failure on the way
#      leaves the old version running and the store untouched.
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
MODE=""
PIP_ARGS=()
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { echo "hinge-mirror install: $*"; }
die() { echo "hinge-mirror install: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --kiosk-user) KIOSK_USER="${2:?--kiosk-user needs a user name}"; shift 2 ;;
        --no-kiosk) KIOSK_USER=""; shift ;;
        --port) PORT="${2:?--port needs a number}"; shift 2 ;;
        --home) MODE=home; shift ;;
        --clinic) MODE=clinic; shift ;;
        --pip-arg) PIP_ARGS+=("${2:?}"); shift 2 ;;
        -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
case "$PORT" in ''|*[!0-9]*) die "--port $PORT is not a number" ;; esac
[ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "--port $PORT is out of range (1-65535)"
[ -n "$ROOT" ] || [ "$(id -u)" = 0 ] || die "run it as root: sudo $0"
[ -f "$SRC/pyproject.toml" ] || die "$SRC is not a hinge-mirror checkout"

# Everything that can be refused is checked before anything changes.
if [ -n "$KIOSK_USER" ]; then
    KIOSK_UID=$(getent passwd "$KIOSK_USER" | cut -d: -f3 || true)
    [ -n "$KIOSK_UID" ] || die "--kiosk-user $KIOSK_USER: no such user (or --no-kiosk)"
fi

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
    if [ -z "$MODE" ] && [ -t 0 ]; then
        read -r -p "Is this mirror in a clinic or a home? [clinic/home] (clinic): " MODE || MODE=""
        case "$MODE" in h|home|Home|HOME) MODE=home ;; *) MODE=clinic ;; esac
    fi
    sed "s/^port = 8000$/port = $PORT/" "$SRC/systemd/config.toml" > "$ROOT/etc/hinge-mirror/.config.toml.new"
    if [ "$MODE" = home ]; then
        printf '\n[device]\nmode = "home"  # no staff console on the network; see docs/home.md\n' \
            >> "$ROOT/etc/hinge-mirror/.config.toml.new"
    fi
    install -m 0644 "$ROOT/etc/hinge-mirror/.config.toml.new" "$ROOT/etc/hinge-mirror/config.toml"
    rm -f "$ROOT/etc/hinge-mirror/.config.toml.new"
    say "wrote /etc/hinge-mirror/config.toml (${MODE:-clinic})"
fi
HOME_MODE=0
grep -q '^mode = "home"' "$ROOT/etc/hinge-mirror/config.toml" && HOME_MODE=1

# 4. The program: a venv per release in $PREFIX/releases/VERSION-COMMIT (with
#    Debian's numpy pinned), and $PREFIX/venv a symlink to the one that runs.
#    A new release is built beside the running one and the store's upgrade is
#    tried on a copy while the old version still runs; only then is the
#    service stopped, the store backed up and migrated (one transaction), the
#    symlink switched and the service started. Anything that fails before the
#    switch leaves the old version running and the store as it was.
tmp=$(mktemp)
stopped=0  # this script stopped the service: it is started again on any way out
on_exit() {
    rm -f "$tmp"
    if [ "$stopped" = 1 ]; then systemctl start hinge-mirror.service || true; fi
}
trap on_exit EXIT
stop_service() {
    if [ "$stopped" = 0 ] && systemctl is-active --quiet hinge-mirror.service; then
        systemctl stop hinge-mirror.service
        stopped=1
    fi
}
{
    echo "# Debian's own packages, which pip must never replace (picamera2 is built on them)."
    python3 -c 'import numpy; print(f"numpy=={numpy.__version__}")' 2>/dev/null || true
    python3 -c 'import simplejpeg; print(f"simplejpeg=={simplejpeg.__version__}")' 2>/dev/null || true
} > "$tmp"
put "$tmp" "$ROOT$PREFIX/constraints.txt" 0644 || true
want=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$SRC/pyproject.toml" | head -1)
commit=$(git -C "$SRC" rev-parse HEAD 2>/dev/null || echo -)
rel="$want-${commit:0:12}"
[ "$commit" = - ] && rel="$want"
NEW="$PREFIX/releases/$rel"
stamp="$want $commit"
running=$(readlink "$ROOT$VENV" 2>/dev/null || true)   # releases/...; "" for an older installer's folder
have=$("$ROOT$VENV/bin/python" -I -c 'from importlib.metadata import version; print(version("hinge-mirror"))' 2>/dev/null || true)
as_service() { runuser -u "$SERVICE_USER" -- "$@"; }
# Where the config keeps the store (for the upgrade) and the scheduled backups (for the unit).
read_config() {
    "$ROOT$NEW/bin/python" -I -c 'import sys
from device.config import backup_dir, load_config
c = load_config(sys.argv[1]); print(c.store.path); print(backup_dir(c))' "$ROOT/etc/hinge-mirror/config.toml"
}
# The release that runs says what it is (written just before it was switched to).
if [ ! -L "$ROOT$VENV" ] || [ "$(cat "$ROOT$VENV/.installed" 2>/dev/null)" != "$stamp" ]; then
    say "pip: installing hinge-mirror $want as release $rel (running: ${have:-none})"
    if [ "$running" = "releases/$rel" ]; then  # its stamp is gone: never rebuild under it
        rel="$rel-$(date +%s)"; NEW="$PREFIX/releases/$rel"
    fi
    rm -rf "$ROOT$NEW"  # what a failed attempt left
    abandon() {  # the new release goes; the old one keeps running
        rm -rf "$ROOT$NEW"
        die "$1; hinge-mirror ${have:-(none)} is still the installed version, its data untouched"
    }
    python3 -m venv --system-site-packages "$ROOT$NEW" || abandon "could not make the venv $NEW"
    # LiteRT has wheels for aarch64 (and x86_64); a 32-bit Raspberry Pi OS
    # falls back to tflite-runtime (Python 3.11 at most).
    target="$SRC"
    case "$(uname -m)" in aarch64|x86_64) ;; *) target="$SRC[tflite]" ;; esac
    "$ROOT$NEW/bin/python" -m pip install -q --disable-pip-version-check \
        -c "$ROOT$PREFIX/constraints.txt" "${PIP_ARGS[@]}" "$target" ||
        abandon "pip could not install hinge-mirror $want"
    # 5. The model: verified where it is, else fetched and verified.
    export HINGE_MIRROR_MODELS="$ROOT/var/lib/hinge-mirror/models"
    if ! "$ROOT$NEW/bin/hinge-mirror" models verify --quiet 2>/dev/null; then
        "$ROOT$NEW/bin/hinge-mirror" models fetch || abandon "the pose model could not be installed"
    fi
    # The store: the upgrade tried on a copy (the running version goes on writing).
    conf=$(read_config) || abandon "the config /etc/hinge-mirror/config.toml is not valid for $want"
    store="$ROOT$(echo "$conf" | sed -n 1p)"
    if [ -e "$store" ]; then
        check=$(as_service "$ROOT$NEW/bin/hinge-mirror" store migrate --check --path "$store" 2>&1) ||
            abandon "$(echo "$check" | tail -1)"
        say "$check"
        if echo "$check" | grep -q "would migrate"; then
            # For real: stopped, backed up beside the store, migrated in one transaction.
            stop_service
            if ! done=$(as_service "$ROOT$NEW/bin/hinge-mirror" store migrate --path "$store" \
                        --backup-dir "$(dirname "$store")/backups" 2>&1); then
                abandon "$(echo "$done" | tail -1)"  # the trap starts the old one again
            fi
            say "$done"
        fi
    fi
    echo "$stamp" > "$ROOT$NEW/.installed"
    # The switch: an older installer's venv folder is removed (its scripts name
    # their own path); a release folder is kept as the one to go back to.
    if [ -d "$ROOT$VENV" ] && [ ! -L "$ROOT$VENV" ]; then
        stop_service  # it runs from that folder until the restart
        rm -rf "$ROOT$VENV"
    fi
    ln -sfn "releases/$rel" "$ROOT$VENV.new" && mv -Tf "$ROOT$VENV.new" "$ROOT$VENV"
    say "switched to release $rel"
    for old in "$ROOT$PREFIX"/releases/*; do  # the new one and the one before it stay
        case "$(basename "$old")" in "$rel"|"${running#releases/}") ;; *) rm -rf "$old" ;; esac
    done
    restart=1
else
    export HINGE_MIRROR_MODELS="$ROOT/var/lib/hinge-mirror/models"
    if ! "$ROOT$VENV/bin/hinge-mirror" models verify --quiet 2>/dev/null; then
        "$ROOT$VENV/bin/hinge-mirror" models fetch
        restart=1
    fi
fi
put "$SRC/README.md" "$ROOT$PREFIX/README.md" 0644 || true
for doc in "$SRC"/docs/*.md; do  # the docs the README points to, beside it
    put "$doc" "$ROOT$PREFIX/docs/${doc##*/}" 0644 || true
done
NEW="$VENV"  # from here on, the release that runs
BACKUPS=$(read_config | sed -n 2p)

# 6. The units, the kiosk, the screen.
render() {  # TEMPLATE -> stdout, placeholders filled
    sed -e "s#@PREFIX@#$PREFIX#g" -e "s#@USER@#$SERVICE_USER#g" -e "s#@PORT@#$PORT#g" \
        -e "s#@KIOSK_USER@#${KIOSK_USER}#g" -e "s#@KIOSK_UID@#${KIOSK_UID:-}#g" \
        -e "s#@BACKUPS@#${BACKUPS}#g" "$1"
}
render "$SRC/systemd/hinge-mirror.service.in" > "$tmp"
if put "$tmp" "$UNITS/hinge-mirror.service" 0644; then reload=1; restart=1; fi
units=(hinge-mirror.service)
if [ -n "$KIOSK_USER" ]; then
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
    stopped=0
else
    systemctl is-active --quiet hinge-mirror.service || systemctl start hinge-mirror.service
fi
[ -n "$KIOSK_USER" ] && { systemctl is-active --quiet hinge-mirror-kiosk.service ||
    systemctl start hinge-mirror-kiosk.service; }

say "done: the mirror on http://127.0.0.1:$PORT/, the staff console on port $PORT of this device"
if [ "$HOME_MODE" = 1 ]; then
    say "at home: no account is needed; set your targets with your arms at the glass (docs/home.md)"
elif ! [ -s "$ROOT/var/lib/hinge-mirror/hinge-mirror.db" ]; then
    say "next: make a staff account: sudo -u $SERVICE_USER $VENV/bin/hinge-mirror staff add NAME --role admin --config /etc/hinge-mirror/config.toml"
fi
