#!/bin/bash
# Remove Hinge Mirror's service, kiosk and program; keep its data unless --purge.
#
#   sudo systemd/uninstall.sh           stops and removes the units and /opt/hinge-mirror;
#                                       keeps /etc/hinge-mirror, /var/lib/hinge-mirror
#                                       (sessions, accounts) and /var/log/hinge-mirror
#   sudo systemd/uninstall.sh --purge   also deletes those and the hinge-mirror user
set -euo pipefail
ROOT="${HINGE_MIRROR_ROOT:-}"
PREFIX=/opt/hinge-mirror
SERVICE_USER=hinge-mirror
purge=0
say() { echo "hinge-mirror uninstall: $*"; }
case "${1:-}" in
    --purge) purge=1 ;;
    "") ;;
    *) echo "hinge-mirror uninstall: error: unknown option $1 (--purge or nothing)" >&2; exit 1 ;;
esac
[ -n "$ROOT" ] || [ "$(id -u)" = 0 ] || { echo "hinge-mirror uninstall: error: run it as root" >&2; exit 1; }

reload=0
for u in hinge-mirror-kiosk.service hinge-mirror.service; do
    if [ -e "$ROOT/etc/systemd/system/$u" ]; then
        systemctl disable --now "$u" || true
        rm -f "$ROOT/etc/systemd/system/$u"
        reload=1
        say "removed $u"
    fi
done
[ "$reload" = 1 ] && systemctl daemon-reload
if [ -d "$ROOT$PREFIX" ]; then
    rm -rf "$ROOT$PREFIX"  # ROOT is "" on a real device
    say "removed $PREFIX"
fi
if [ "$purge" = 1 ]; then
    rm -rf "$ROOT/etc/hinge-mirror" "$ROOT/var/lib/hinge-mirror" "$ROOT/var/log/hinge-mirror"
    getent passwd "$SERVICE_USER" >/dev/null && userdel "$SERVICE_USER"
    say "purged the config, the data, the logs and the user $SERVICE_USER"
else
    say "kept /etc/hinge-mirror, /var/lib/hinge-mirror and /var/log/hinge-mirror (--purge deletes them)"
fi
