#!/bin/bash
# The installer for real on an emulated 64-bit Raspberry Pi OS: `make pi-check`.
#
#   sudo systemd/pi-check.sh            (PI_RELEASE=trixie, the default, or bookworm)
#
# In an arm64 Debian root (qemu-user through binfmt), built once and cached in
# $PI_CACHE, each run on a fresh copy of it:
#   1. systemd/install.sh for real: Debian's apt, a real useradd, the venv with
#      --system-site-packages and Debian's numpy pinned, pip fetching the aarch64
#      wheels (LiteRT among them); the packages that only Raspberry Pi's
#      repository has are stand-in debs built here (pi_standin_debs, below)
#   2. which numpy and OpenCV the installed venv imports
#   3. the installed program: --version, config check on the installed config,
#      analyze --json and track on $PI_CLIP_NAMES, compared with this machine's
#      (x86) reports and keypoints
#   4. `hinge-mirror run --source CLIP`: /healthz and the page answer
#   5. the files' owners and modes; systemd-analyze verify inside the root
#   6. systemd-nspawn --boot with the unit and its watchdog, where it can boot
# and writes $PI_OUT/REPORT-$PI_RELEASE.md (and .json): each step, its result, its time.
#
# Settings (environment): PI_RELEASE (trixie|bookworm), PI_CACHE
# (/var/cache/hinge-mirror-pi), PI_OUT (build/pi-check), PI_CLIPS (a folder of
# clips: the Makefile passes the team's), PI_CLIP_NAMES (two short clips),
# HINGE_MIRROR_MODEL_DIR (the model, so that nothing fetches it), PI_MIRROR (the
# Debian mirror), PI_HOST_BIN (this machine's hinge-mirror, for the comparison),
# PI_KIOSK (1: --kiosk-user pi, Debian's chromium installed; 0: --no-kiosk),
# PI_BOOT (1: try systemd-nspawn --boot; 0: skip), PI_KEEP_ROOT (1: go on in the
# last run's root instead of a fresh copy, to iterate on the later steps),
# PI_QEMU_CPU (cortex-a76, a Pi 5's; its /proc/cpuinfo is systemd/pi-check/cpuinfo-pi5).
#
#   systemd/pi-check.sh --standins-only DIR   build the stand-in debs into DIR, nothing else
#
# A step that fails ends the run with one line naming it; the report says how far
# it got. The host is left as it was but for $PI_CACHE (the root, its tarball,
# apt's downloads) and $PI_OUT.
set -euo pipefail

RELEASE="${PI_RELEASE:-trixie}"
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() { echo "pi-check: error: $*" >&2; exit 1; }

case "$RELEASE" in
    trixie|bookworm) ;;
    *) die "PI_RELEASE=$RELEASE is not a release pi-check knows (trixie or bookworm)" ;;
esac

# The packages only Raspberry Pi's repository has, as stand-ins: name, what
# they give, and (for the report) why. Bookworm's Raspberry Pi OS calls its
# browser chromium-browser; Debian's own is chromium, which the stand-in pulls in.
standin_names() {
    echo python3-picamera2
    [ "$RELEASE" = bookworm ] && echo chromium-browser
    return 0
}

# Build the stand-in debs (and a Packages index, so apt takes them as it would
# Raspberry Pi's repository) into $1.
pi_standin_debs() {
    local out=$1 name work
    mkdir -p "$out"
    rm -f "$out"/*.deb "$out/Packages"
    for name in $(standin_names); do
        work=$(mktemp -d)
        mkdir -p "$work/DEBIAN" "$work/usr/share/doc/$name"
        local depends="" provides=""
        case "$name" in
            python3-picamera2)
                # No module: `import picamera2` fails as on a Pi with no camera stack,
                # and the device falls back to a file or the demo.
                depends="python3"
                provides="python3-picamera2-standin" ;;
            chromium-browser)
                depends="chromium"
                provides="chromium-browser-standin"
                mkdir -p "$work/usr/bin"
                ln -s chromium "$work/usr/bin/chromium-browser" ;;
        esac
        cat > "$work/DEBIAN/control" <<EOF
Package: $name
Version: 0~pi-check1
Architecture: all
Maintainer: Hinge Mirror pi-check <pi-check@localhost>
Depends: $depends
Provides: $provides
Section: misc
Priority: optional
Description: stand-in for Raspberry Pi's $name (pi-check)
 Made by systemd/pi-check.sh with dpkg-deb: Raspberry Pi's repository is not
 reachable here, so this empty package takes the name for the installer.
EOF
        echo "stand-in for Raspberry Pi's $name, made by systemd/pi-check.sh" \
            > "$work/usr/share/doc/$name/README.pi-check"
        dpkg-deb --root-owner-group -Zgzip --build "$work" "$out/${name}_0~pi-check1_all.deb" >/dev/null
        rm -rf "$work"
    done
    # The index apt reads ([trusted=yes]: unsigned, as a local folder may be).
    local deb
    for deb in "$out"/*.deb; do
        dpkg-deb -f "$deb"
        echo "Filename: ./$(basename "$deb")"
        echo "Size: $(stat -c %s "$deb")"
        echo "SHA256: $(sha256sum "$deb" | cut -d' ' -f1)"
        echo
    done > "$out/Packages"
}

if [ "${1:-}" = --standins-only ]; then
    pi_standin_debs "${2:?--standins-only needs a folder}"
    exit 0
fi
[ $# -eq 0 ] || die "unknown argument $1 (settings are environment variables: see the head of $0)"

CACHE="${PI_CACHE:-/var/cache/hinge-mirror-pi}"
OUT="${PI_OUT:-$SRC/build/pi-check}"
CLIPS="${PI_CLIPS:-}"
CLIP_NAMES="${PI_CLIP_NAMES:-bbdl_squatting.mp4 bbdl_front_studio.mp4}"
MODEL_DIR="${HINGE_MIRROR_MODEL_DIR:-}"
MIRROR="${PI_MIRROR:-http://deb.debian.org/debian}"
HOST_BIN="${PI_HOST_BIN:-$SRC/.venv/bin/hinge-mirror}"
KIOSK="${PI_KIOSK:-1}"
BOOT="${PI_BOOT:-1}"
KEEP_ROOT="${PI_KEEP_ROOT:-0}"
# A Raspberry Pi 5's cores. qemu's default ("max") offers features a Pi has not,
# and LiteRT's XNNPACK, choosing its int8 kernels by them, gave garbage keypoints
# under qemu 7.2 (every clip 0 reps, view unknown); cortex-a72 is a Pi 4's.
QEMU_CPU="${PI_QEMU_CPU:-cortex-a76}"
BASE="$CACHE/$RELEASE-base.tar"       # pristine: debootstrap + what a Pi OS image has
ROOT="$CACHE/$RELEASE-root"           # this run's copy
ARCHIVES="$CACHE/apt-archives-$RELEASE"  # apt's downloads, kept between runs
LOG="$OUT/pi-check-$RELEASE.log"
ROWS="$OUT/.rows-$RELEASE"
NOTE="$OUT/.note"
WORK=/tmp/pi-check                    # inside the root
QEMU=/usr/bin/qemu-aarch64-static

mkdir -p "$OUT"
: > "$LOG"
: > "$ROWS"
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
COMMIT=$(git -C "$SRC" rev-parse --short=12 HEAD 2>/dev/null || echo -)
DIRTY=$(git -C "$SRC" status --porcelain 2>/dev/null | grep -v '^??' | head -1 || true)

# --- the report ------------------------------------------------------------
note() { echo "$*" >> "$NOTE"; }

write_report() {
    local md="$OUT/REPORT-$RELEASE.md" json="$OUT/REPORT-$RELEASE.json"
    python3 - "$ROWS" "$md" "$json" "$RELEASE" "$STARTED" "$COMMIT" "${DIRTY:+dirty}" "${1:-}" <<'EOF'
import json, sys
rows_path, md, js, release, started, commit, dirty, finished = sys.argv[1:9]
rows = []
for line in open(rows_path, encoding="utf-8", newline="\n"):
    name, result, seconds, notes = line.rstrip("\n").replace("\r", "").split("\t", 3)
    rows.append({"step": name, "result": result, "seconds": float(seconds),
                 "notes": [n for n in notes.split("\x1f") if n]})
total = sum(r["seconds"] for r in rows)
ok = bool(rows) and all(r["result"] in ("ok", "skipped") for r in rows)
head = {"release": release, "arch": "arm64 (qemu-user)", "started": started,
        "commit": commit + (" (+ uncommitted changes, not in the root)" if dirty else ""),
        "finished": finished == "finished", "passed": ok and finished == "finished",
        "seconds": round(total, 1), "steps": rows}
json.dump(head, open(js, "w"), indent=1)
with open(md, "w", encoding="utf-8") as f:
    f.write(f"# pi-check: {release} (arm64 under qemu-user)\n\n")
    if finished == "finished":
        state = "finished, all steps passed" if ok else "finished, NOT all steps passed"
    elif ok:
        state = f"running (or stopped) after step '{rows[-1]['step'] if rows else '-'}'"
    else:
        state = f"stopped: step '{rows[-1]['step']}' failed"
    f.write(f"Started {started}, commit {head['commit']}; {state}; {total:.0f} s in all.\n\n")
    f.write("| step | result | time | notes |\n|---|---|---|---|\n")
    for r in rows:
        notes = "<br>".join(n.replace("|", "\\|") for n in r["notes"])
        f.write(f"| {r['step']} | {r['result']} | {r['seconds']:.0f} s | {notes} |\n")
EOF
}

# step NAME FUNCTION: run it (errexit on, output to the log), time it, one row.
step() {
    local name=$1 fn=$2 t0 t1 rc notes
    : > "$NOTE"
    echo "=== $name ($(date -u +%H:%M:%S))" >> "$LOG"
    echo "pi-check: $name ..."
    t0=$(date +%s.%N)
    set +e
    ( set -e; "$fn" ) >> "$LOG" 2>&1
    rc=$?
    set -e
    t1=$(date +%s.%N)
    notes=$(paste -sd $'\x1f' "$NOTE" 2>/dev/null || true)
    local result=ok
    [ "$rc" = 0 ] || result=FAIL
    [ "$rc" = 3 ] && result=skipped
    [ "$rc" = 4 ] && result=DIFFERS  # a difference reported, not a failure: the run goes on
    printf '%s\t%s\t%.1f\t%s\n' "$name" "$result" "$(echo "$t1 - $t0" | bc)" "$notes" >> "$ROWS"
    write_report
    if [ "$result" = FAIL ]; then
        echo "pi-check: error: step '$name' failed (exit $rc; $(tail -1 "$LOG" | cut -c1-160); log: $LOG)" >&2
        exit 1
    fi
}

# --- mounts, always undone -------------------------------------------------
MOUNTS=()
cleanup() {
    local i
    if [ -n "${RUN_PID:-}" ]; then kill "$RUN_PID" 2>/dev/null || true; fi
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount -l "${MOUNTS[$i]}" 2>/dev/null || true
    done
    rm -f "$NOTE"
}
trap cleanup EXIT

# Every mount point under the root that is a mount, deepest first (what a step
# that failed mid-way may have left; kept in a file so the trap undoes them).
mount_into() {  # SRC DEST [options]
    local src=$1 dest=$2; shift 2
    [ -e "$dest" ] || mkdir -p "$dest"
    mount "$@" "$src" "$dest"
    echo "$dest" >> "$OUT/.mounts"
}

# SYSTEMD_OFFLINE=1: the root is not booted, and systemctl there did not see it is
# in a chroot ("System has not been booted with systemd as init system" on
# daemon-reload, which ended install.sh): told, it ignores daemon-reload, start,
# restart and is-active as in any chroot, and enable still makes the links.
in_root() {  # CMD...: inside the root, a clean environment, as root
    chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive SYSTEMD_OFFLINE=1 \
        QEMU_CPU="$QEMU_CPU" \
        PIP_CERT=/etc/pi-check/ca.crt PIP_DEFAULT_TIMEOUT=180 PIP_DISABLE_PIP_VERSION_CHECK=1 \
        ${PI_PIP_INDEX:+PIP_INDEX_URL=$PI_PIP_INDEX} HINGE_MIRROR_MODEL_DIR=$WORK/models "$@"
}
as_service() {  # CMD...: inside the root, as the service user, with its settings
    in_root runuser -u hinge-mirror -- /usr/bin/env HINGE_MIRROR_MODELS=/var/lib/hinge-mirror/models \
        HINGE_MIRROR_CONFIG=/etc/hinge-mirror/config.toml "$@"
}
HM=/opt/hinge-mirror/venv/bin/hinge-mirror

# --- the steps -------------------------------------------------------------
s_preflight() {
    [ "$(id -u)" = 0 ] || { echo "run it as root (debootstrap, chroot, mount)"; return 1; }
    local t
    for t in debootstrap dpkg-deb chroot bc python3 curl; do
        command -v "$t" >/dev/null || { echo "$t is missing (apt-get install debootstrap qemu-user-static binfmt-support curl bc)"; return 1; }
    done
    [ -x "$QEMU" ] || { echo "$QEMU is missing (apt-get install qemu-user-static)"; return 1; }
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] ||
        { echo "aarch64 is not registered with binfmt_misc (update-binfmts --enable qemu-aarch64)"; return 1; }
    grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 || { echo "binfmt qemu-aarch64 is disabled"; return 1; }
    ls "$MODEL_DIR"/*.tflite >/dev/null 2>&1 ||
        { echo "HINGE_MIRROR_MODEL_DIR=$MODEL_DIR holds no .tflite (the root must not fetch the model)"; return 1; }
    local c
    for c in $CLIP_NAMES; do
        [ -f "$CLIPS/$c" ] || { echo "clip $CLIPS/$c is missing (PI_CLIPS, PI_CLIP_NAMES)"; return 1; }
    done
    [ -x "$HOST_BIN" ] || { echo "$HOST_BIN is missing (make venv; or PI_HOST_BIN)"; return 1; }
    note "binfmt: $(sed -n 's/^flags: //p' /proc/sys/fs/binfmt_misc/qemu-aarch64) flags; $($QEMU --version | head -1); QEMU_CPU=$QEMU_CPU"
    note "clips: $CLIP_NAMES from $CLIPS"
    [ -z "$DIRTY" ] || note "uncommitted changes are NOT in the root (it gets git archive HEAD)"
}

s_base() {
    if [ -s "$BASE" ]; then
        note "reused $BASE ($(du -h "$BASE" | cut -f1), made $(date -u -r "$BASE" +%Y-%m-%dT%H:%MZ))"
        return 0
    fi
    local b="$CACHE/$RELEASE.building"
    mkdir -p "$CACHE"
    # The first stage on the host (downloads, unpacks); unless an earlier run got that far.
    if [ ! -x "$b/debootstrap/debootstrap" ] && [ ! -e "$b/.second-stage-done" ]; then
        rm -rf --one-file-system "$b"
        note "debootstrap --foreign (first stage, on the host): from $(date -u +%H:%M:%S)"
        debootstrap --arch=arm64 --variant=minbase --foreign --include=ca-certificates \
            "$RELEASE" "$b" "$MIRROR"
    fi
    # qemu inside the root, where binfmt's interpreter is looked for when its
    # flags lack F (Debian registers it without): the host's registration is left alone.
    mkdir -p "$b/usr/libexec/qemu-binfmt"
    cp "$QEMU" "$b/usr/libexec/qemu-binfmt/aarch64-binfmt-P"
    cp "$QEMU" "$b/usr/bin/qemu-aarch64-static"
    if [ ! -e "$b/.second-stage-done" ]; then
        note "debootstrap --second-stage (emulated): from $(date -u +%H:%M:%S)"
        chroot "$b" /debootstrap/debootstrap --second-stage
        touch "$b/.second-stage-done"
    fi
    # What Raspberry Pi OS Lite has out of the box and minbase has not: systemd
    # as init (systemctl, systemd-analyze, a root nspawn can boot), sudo, the
    # desktop user pi (uid 1000), the render and video groups.
    cp /etc/resolv.conf "$b/etc/resolv.conf"
    note "apt-get install systemd systemd-sysv dbus sudo iproute2 (emulated): from $(date -u +%H:%M:%S)"
    chroot "$b" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends systemd systemd-sysv dbus sudo iproute2 &&
               apt-get clean && (getent passwd pi || useradd -m -u 1000 -s /bin/bash pi) &&
               (getent group render || groupadd --system render) && usermod -a -G video,render,sudo pi'
    rm -f "$b/.second-stage-done"
    tar -C "$b" --numeric-owner -cpf "$BASE.part" .
    mv "$BASE.part" "$BASE"
    rm -rf --one-file-system "$b"
    note "built $BASE ($(du -h "$BASE" | cut -f1)): debootstrap --variant=minbase $RELEASE arm64 + systemd, sudo, user pi"
}

s_fresh_copy() {
    if [ "$KEEP_ROOT" = 1 ] && [ -x "$ROOT/bin/bash" ]; then
        note "PI_KEEP_ROOT=1: the last run's root, as it was left (NOT a clean install)"
        return 0
    fi
    # A step that failed mid-way in an earlier run may have left mounts.
    if [ -d "$ROOT" ]; then
        # (grep finds none in the usual case: not a failure under pipefail)
        findmnt -rn -o TARGET | { grep "^$ROOT/" || true; } | sort -r |
            while read -r m; do umount -l "$m"; done
        rm -rf --one-file-system "$ROOT"
    fi
    mkdir -p "$ROOT" "$ARCHIVES/partial"
    tar -C "$ROOT" --numeric-owner -xpf "$BASE"
    cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
    note "$ROOT from $(basename "$BASE") ($(du -sh "$ROOT" | cut -f1))"
}

s_mounts() {
    : > "$OUT/.mounts"
    mount_into /proc "$ROOT/proc" -t proc
    # qemu-user (7.2) shows the root this machine's x86 /proc/cpuinfo: LiteRT's
    # XNNPACK (cpuinfo) then segfaults in allocate_tensors, once /sys says there
    # are CPUs. A Raspberry Pi 5's (two Cortex-A76 cores, as many as /sys has
    # here) stands in; the instruction set itself is qemu's, told by HWCAP.
    mount_into "$SRC/systemd/pi-check/cpuinfo-pi5" "$ROOT/proc/cpuinfo" --bind
    mount_into /sys "$ROOT/sys" --rbind
    mount --make-rslave "$ROOT/sys"
    mount_into /dev "$ROOT/dev" --rbind
    mount --make-rslave "$ROOT/dev"
    mount_into "$ARCHIVES" "$ROOT/var/cache/apt/archives" --bind
    note "/proc (with a Raspberry Pi 5's /proc/cpuinfo: under qemu-user the host's x86 one makes LiteRT segfault), /sys, /dev and apt's download cache ($ARCHIVES) mounted; undone on exit"
}

s_standins() {
    local repo="$ROOT/opt/pi-standins"
    pi_standin_debs "$repo"
    echo "deb [trusted=yes] file:/opt/pi-standins ./" > "$ROOT/etc/apt/sources.list.d/pi-standins.list"
    local deb
    for deb in "$repo"/*.deb; do
        note "stand-in $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) (Depends: $(dpkg-deb -f "$deb" Depends))"
    done
}

s_checkout() {
    rm -rf "$ROOT$WORK"
    mkdir -p "$ROOT$WORK/src" "$ROOT$WORK/models" "$ROOT$WORK/clips" "$ROOT/etc/pi-check"
    git -C "$SRC" archive HEAD | tar -x -C "$ROOT$WORK/src"
    cp "$MODEL_DIR"/*.tflite "$ROOT$WORK/models/"
    local c
    for c in $CLIP_NAMES; do cp "$CLIPS/$c" "$ROOT$WORK/clips/"; done
    chmod -R a+rX "$ROOT$WORK"
    # This machine's certificate bundle, for pip (its registry is reached through it).
    cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/pi-check/ca.crt"
    note "git archive $COMMIT into $WORK/src; the model from $MODEL_DIR; pip uses the host's CA bundle"
}

s_install() {
    local args=(--no-kiosk)
    [ "$KIOSK" = 1 ] && args=(--kiosk-user pi)
    in_root bash "$WORK/src/systemd/install.sh" "${args[@]}" 2>&1 | tee "$OUT/install-$RELEASE.log"
    note "install.sh ${args[*]}: $(grep -c . "$OUT/install-$RELEASE.log") lines of output ($OUT/install-$RELEASE.log)"
    grep -E "^hinge-mirror install: (apt|pip|made|switched|done)" "$OUT/install-$RELEASE.log" |
        sed 's/^hinge-mirror install: //' | cut -c1-200 | while read -r l; do note "$l"; done
}

s_versions() {
    local py=/opt/hinge-mirror/venv/bin/python
    in_root "$py" -c 'import sys, numpy, cv2, ai_edge_litert, platform
from importlib.metadata import version
print("python", platform.python_version(), platform.machine())
print("numpy", numpy.__version__, numpy.__file__)
print("cv2", cv2.__version__, cv2.__file__)
print("ai-edge-litert", version("ai-edge-litert"), ai_edge_litert.__file__)' > "$OUT/versions-$RELEASE.txt"
    while read -r l; do note "$l"; done < "$OUT/versions-$RELEASE.txt"
    note "Debian's: $(in_root dpkg-query -W -f='${Package} ${Version}; ' python3-numpy python3-opencv python3 2>/dev/null)"
    note "in the venv itself (pip): $(in_root "$py" -m pip list --local --format=freeze 2>/dev/null |
        grep -iE '^(numpy|opencv|ai-edge)' | tr '\n' ' ')"
    note "constraints: $(grep -v '^#' "$ROOT/opt/hinge-mirror/constraints.txt" | tr '\n' ' ')"
    # Debian's numpy must be the one imported.
    grep -q "^numpy .* /usr/lib/python3/dist-packages/" "$OUT/versions-$RELEASE.txt" ||
        { echo "the venv does not import Debian's numpy"; return 1; }
}

s_version_cmd() {
    local v
    v=$(as_service "$HM" --version)
    echo "$v"
    note "$v"
    [[ "$v" == "hinge-mirror "* ]]
}

s_config_check() {
    as_service "$HM" config check /etc/hinge-mirror/config.toml > "$OUT/config-check-$RELEASE.txt"
    note "config check /etc/hinge-mirror/config.toml: exit 0, $(grep -c . "$OUT/config-check-$RELEASE.txt") lines"
}

s_analyze() {
    local c n
    mkdir -p "$OUT/arm" "$OUT/x86"
    for c in $CLIP_NAMES; do
        n=${c%.*}
        local t0=$SECONDS
        as_service "$HM" analyze "$WORK/clips/$c" --json > "$OUT/arm/$n.json"
        local t_arm=$((SECONDS - t0)) frames
        frames=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames"])' "$OUT/arm/$n.json")
        note "$c: $frames frames in ${t_arm} s under emulation ($(echo "scale=2; $t_arm / $frames" | bc) s a frame)"
    done
}

s_host_reports() {
    local c n
    export HINGE_MIRROR_MODELS="$OUT/x86/models" HINGE_MIRROR_MODEL_DIR="$MODEL_DIR"
    "$HOST_BIN" models verify --quiet 2>/dev/null || "$HOST_BIN" models fetch
    for c in $CLIP_NAMES; do
        n=${c%.*}
        "$HOST_BIN" analyze "$CLIPS/$c" --json > "$OUT/x86/$n.json"
        "$HOST_BIN" track "$CLIPS/$c" -o "$OUT/x86/$n.npz"
    done
    note "x86: $("$HOST_BIN" --version) from $HOST_BIN"
}

s_compare_reports() {
    # The counts must be equal (exit 1 ends the run). A fault called on one side
    # only is reported with its measure on both (exit 4: the run goes on, the
    # step reads DIFFERS): a measure within the decode's noise of its threshold.
    local c rc=0 one
    for c in $CLIP_NAMES; do
        set +e
        python3 - "$OUT/x86/${c%.*}.json" "$OUT/arm/${c%.*}.json" <<'EOF' >> "$NOTE"
import json, sys
x, a = (json.load(open(p)) for p in sys.argv[1:3])
counts = (x["rep_count"] == a["rep_count"] and x["view"] == a["view"]
          and x["frames"] == a["frames"])
faults = x["faults"] == a["faults"] and \
    [r["faults"] for r in x["reps"]] == [r["faults"] for r in a["reps"]]
word = "same" if counts and faults else "faults DIFFER" if counts else "DIFFERENT"
line = (f"{x['source']}: {word}: reps x86 {x['rep_count']} / arm "
        f"{a['rep_count']}, faults x86 {x['faults']} / arm {a['faults']}, view {x['view']} / {a['view']}")
# Each fault's measure in the rep (the analysis report's names).
MEASURE = {"hips_shifting": "hip_shift", "back_rounding": "neck_max_deg",
           "weight_on_toes": "com_foot_max", "weight_on_heels": "com_foot_min",
           "incomplete_lockout": "top_hip_deg", "back_overarching": "top_lean_deg",
           "knees_caving": "knee_ratio", "too_fast": "down_s", "knees_bent_too_much": "knee_deg"}
if counts:
    moved = []
    for rx, ra in zip(x["reps"], a["reps"]):
        for k in ("hinge_deg", "knee_deg", "hip_deg", "confidence", "score"):
            if isinstance(rx.get(k), (int, float)) and isinstance(ra.get(k), (int, float)):
                moved.append((abs(rx[k] - ra[k]), k))
        for f in sorted(set(rx["faults"]) ^ set(ra["faults"])):
            m = MEASURE[f]
            line += (f"; rep {rx['index']}: {f} on {'x86' if f in rx['faults'] else 'arm'} "
                     f"only, {m} x86 {rx.get(m)} / arm {ra.get(m)}")
    if moved:
        d, k = max(moved)
        line += f"; the rep numbers moved at most {d:.3g} ({k})"
print(line)
sys.exit(0 if counts and faults else 4 if counts else 1)
EOF
        one=$?
        set -e
        [ "$one" = 1 ] && rc=1
        [ "$one" = 4 ] && [ "$rc" = 0 ] && rc=4
    done
    return $rc
}

s_track() {
    local c n
    for c in $CLIP_NAMES; do
        n=${c%.*}
        install -d -o "$(stat -c %u "$ROOT/var/lib/hinge-mirror")" -m 0755 "$ROOT$WORK/out"
        as_service "$HM" track "$WORK/clips/$c" -o "$WORK/out/$n.npz"
        cp "$ROOT$WORK/out/$n.npz" "$OUT/arm/$n.npz"
        "$(dirname "$HOST_BIN")/python" - "$OUT/x86/$n.npz" "$OUT/arm/$n.npz" "$c" >> "$NOTE" <<'EOF'
import sys
import numpy as np
x, a = (np.load(p)["keypoints"].astype(np.float64) for p in sys.argv[1:3])
if x.shape != a.shape:
    print(f"{sys.argv[3]}: shapes differ: x86 {x.shape}, arm {a.shape}"); sys.exit(1)
yx = np.abs(x[..., :2] - a[..., :2]); s = np.abs(x[..., 2] - a[..., 2])
same = np.mean(np.all(x == a, axis=-1)) * 100
print(f"{sys.argv[3]} keypoints, arm vs x86 over {x.shape[0]} frames: y/x (of the frame) max "
      f"{yx.max():.4f}, median {np.median(yx):.5f}, p99 {np.percentile(yx, 99):.4f}; score max "
      f"{s.max():.4f}, median {np.median(s):.5f}; {same:.1f}% of keypoints bit-identical")
EOF
    done
}

# The frames before the model: OpenCV's decoding on both (every 8th frame of the first clip).
s_frames() {
    local c n py
    c=$(echo "$CLIP_NAMES" | awk '{print $1}'); n=${c%.*}
    py="$(dirname "$HOST_BIN")/python"
    cat > "$ROOT$WORK/frames.py" <<'PY'
import sys
import cv2
import numpy as np
cap, frames = cv2.VideoCapture(sys.argv[1]), []
while True:
    ok, f = cap.read()
    if not ok:
        break
    frames.append(f)
np.save(sys.argv[2], np.stack(frames[::8]))
print(f"{len(frames)} frames, OpenCV {cv2.__version__}")
PY
    install -d -m 0755 "$ROOT$WORK/out"
    in_root /opt/hinge-mirror/venv/bin/python "$WORK/frames.py" "$WORK/clips/$c" "$WORK/out/frames-$n.npy"
    "$py" "$ROOT$WORK/frames.py" "$CLIPS/$c" "$OUT/x86/frames-$n.npy"
    "$py" - "$OUT/x86/frames-$n.npy" "$ROOT$WORK/out/frames-$n.npy" "$c" >> "$NOTE" <<'PY'
import sys
import numpy as np
x, a = (np.load(p).astype(np.int16) for p in sys.argv[1:3])
d = np.abs(x - a)
print(f"{sys.argv[3]}, {x.shape[0]} decoded frames (BGR, uint8), arm vs x86: max {d.max()}, "
      f"mean {d.mean():.3f}; {100 * (d > 0).mean():.1f}% of the values differ")
PY
}

s_run() {
    local port https cfg=$WORK/run.toml
    read -r port https < <(python3 -c 'import socket
ps = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ps.append(s)
print(*(s.getsockname()[1] for s in ps))')
    sed -e "s/^https_port = .*/https_port = $https/" "$ROOT/etc/hinge-mirror/config.toml" > "$ROOT$cfg"
    chmod 0644 "$ROOT$cfg"
    local clip
    clip=$(echo "$CLIP_NAMES" | awk '{print $1}')
    as_service "$HM" run --source "$WORK/clips/$clip" --loop --config "$cfg" \
        --host 127.0.0.1 --port "$port" > "$OUT/run-$RELEASE.log" 2>&1 &
    local pid=$! t0=$SECONDS health=""
    while [ $((SECONDS - t0)) -lt 300 ]; do
        kill -0 "$pid" 2>/dev/null || { echo "run exited:"; tail -20 "$OUT/run-$RELEASE.log"; return 1; }
        health=$(curl -fsS "http://127.0.0.1:$port/healthz" 2>/dev/null) && break
        sleep 2
    done
    [ -n "$health" ] || { pkill -P "$pid" || true; kill "$pid"; echo "/healthz did not answer in 300 s"; return 1; }
    local t_up=$((SECONDS - t0))
    sleep 10  # a few frames through the model
    health=$(curl -fsS "http://127.0.0.1:$port/healthz")
    local page
    page=$(curl -fsS -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$port/")
    echo "$health" > "$OUT/healthz-$RELEASE.json"
    # $pid is runuser (chroot and env exec); hinge-mirror run is its child.
    local kids k
    kids=$(pgrep -P "$pid" || true)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    for k in $kids; do kill "$k" 2>/dev/null || true; done
    sleep 2
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; then
        echo "hinge-mirror run still answers after it was stopped"; return 1
    fi
    note "/healthz answered after ${t_up} s; 10 s later: $(echo "$health" | cut -c1-300)"
    note "GET / : $page (status, bytes)"
    [[ "$page" == 200* ]]
}

s_files() {
    # PATH OWNER:GROUP MODE, as install.sh means them.
    local bad=0 path want mode got
    while read -r path want mode; do
        [ -n "$path" ] || continue
        if [ ! -e "$ROOT$path" ]; then note "$path: MISSING"; bad=1; continue; fi
        got="$(chroot "$ROOT" stat -c '%U:%G %a' "$path")"
        if [ "$got" != "$want $mode" ]; then note "$path: $got, wanted $want $mode"; bad=1; fi
    done <<EOF
/etc/hinge-mirror root:root 755
/etc/hinge-mirror/config.toml root:root 644
/opt/hinge-mirror root:root 755
/opt/hinge-mirror/constraints.txt root:root 644
/opt/hinge-mirror/README.md root:root 644
/var/lib/hinge-mirror hinge-mirror:hinge-mirror 750
/var/log/hinge-mirror hinge-mirror:hinge-mirror 750
/var/lib/hinge-mirror/models root:root 755
/etc/systemd/system/hinge-mirror.service root:root 644
$( [ "$KIOSK" = 1 ] && echo "/etc/systemd/system/hinge-mirror-kiosk.service root:root 644" )
$( [ "$KIOSK" = 1 ] && echo "/opt/hinge-mirror/bin/hinge-mirror-kiosk root:root 755" )
EOF
    local m
    for m in "$ROOT"/var/lib/hinge-mirror/models/*.tflite; do
        got=$(stat -c '%a' "$m")
        [ "$got" = 644 ] || { note "${m#"$ROOT"}: mode $got, wanted 644"; bad=1; }
    done
    # Nothing of the program writable but by root; the venv link points at a release.
    local writable
    writable=$(find "$ROOT/opt/hinge-mirror" ! -type l -perm /022 | head -5)
    [ -z "$writable" ] || { note "writable by group/others: ${writable//$ROOT/}"; bad=1; }
    writable=$(find "$ROOT/opt/hinge-mirror" ! -user root | head -5)
    [ -z "$writable" ] || { note "not root's: ${writable//$ROOT/}"; bad=1; }
    note "venv -> $(readlink "$ROOT/opt/hinge-mirror/venv"); $(chroot "$ROOT" id hinge-mirror)"
    chroot "$ROOT" id -nG hinge-mirror | tr ' ' '\n' | grep -qx video || { note "hinge-mirror is not in video"; bad=1; }
    [ "$bad" = 0 ] && note "owners and modes as install.sh means them (11 paths, the model, nothing under /opt/hinge-mirror writable but by root)"
    return $bad
}

s_verify() {
    local units=(/etc/systemd/system/hinge-mirror.service)
    [ "$KIOSK" = 1 ] && units+=(/etc/systemd/system/hinge-mirror-kiosk.service)
    local out rc=0
    out=$(in_root env SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "${units[@]}" 2>&1) || rc=$?
    echo "$out"
    note "systemd-analyze $(in_root systemd-analyze --version | head -1 | cut -d' ' -f2-3) verify ${units[*]}: exit $rc"
    local problems
    problems=$(echo "$out" | grep hinge-mirror || true)
    [ -z "$problems" ] || note "said: $(echo "$problems" | head -5 | tr '\n' ' ')"
    [ "$rc" = 0 ] && [ -z "$problems" ]
}

s_boot() {
    [ "$BOOT" = 1 ] || { note "PI_BOOT=0"; return 3; }
    if ! command -v systemd-nspawn >/dev/null; then
        note "systemd-nspawn is not on this machine (apt-get install systemd-container)"; return 3
    fi
    # Briefly: a booted root, the unit started by systemd, its watchdog. No
    # systemd runs on this host, so no scope and no registration (--keep-unit).
    local log="$OUT/nspawn-$RELEASE.log" pid init t0=$SECONDS
    systemd-nspawn -q -D "$ROOT" --boot --register=no --keep-unit \
        --setenv=QEMU_CPU="$QEMU_CPU" < /dev/null > "$log" 2>&1 &
    pid=$!
    while [ $((SECONDS - t0)) -lt 120 ] && kill -0 "$pid" 2>/dev/null; do
        grep -aq "Startup finished" "$log" && break
        sleep 2
    done
    # Where systemd can spawn units (Bookworm's 252 can, Trixie's 257 cannot under
    # qemu-user), the unit loads the model under emulation before READY: up to 5
    # minutes for it to start, then 90 s (three times WatchdogSec=30) in which its
    # watchdog must not fire.
    local started=""
    while [ $((SECONDS - t0)) -lt 420 ] && kill -0 "$pid" 2>/dev/null; do
        if grep -aq "Started .*hinge-mirror.service\|Started .*Hinge Mirror" "$log"; then
            started=$SECONDS; break
        fi
        grep -aq "Failed to start .*hinge-mirror\|Failed to spawn executor" "$log" && break
        sleep 2
    done
    local shown="" status=""
    if [ -z "$started" ] && kill -0 "$pid" 2>/dev/null; then
        # Why not: the unit's own status and journal, asked of the booted root.
        init=$(pgrep -P "$pid" || true)
        status=$(timeout 90 nsenter -t "${init%% *}" -a -r -w systemctl status --no-pager -l \
            -n 15 hinge-mirror.service 2>&1 | tail -20 | tr '\n' ' ' | cut -c1-1500 || true)
    fi
    if [ -n "$started" ]; then
        while [ $((SECONDS - started)) -lt 90 ] && kill -0 "$pid" 2>/dev/null; do sleep 5; done
        # Asked of the booted root's own systemd, in its namespaces.
        init=$(pgrep -P "$pid" || true)
        shown=$(timeout 60 nsenter -t "${init%% *}" -a -r -w systemctl show hinge-mirror.service \
            -p ActiveState -p SubState -p NRestarts -p WatchdogUSec -p WatchdogTimestamp 2>&1 \
            | tr '\n' ' ' || true)
    fi
    sleep 5
    init=$(pgrep -P "$pid" || true)
    kill -KILL "$pid" 2>/dev/null || true
    for i in $init; do kill -KILL "$i" 2>/dev/null || true; done
    wait "$pid" 2>/dev/null || true
    local clean
    clean=$(sed 's/\x1b\[[0-9;:]*[a-zA-Z]//g' "$log" | tr -d '\r')
    note "systemd-nspawn --boot: $(echo "$clean" | grep -m1 -o 'systemd [0-9.a-z~+-]* running in system mode' || echo 'systemd did not start')"
    note "units that systemd could not spawn ('Failed to spawn executor: Invalid argument'): $(echo "$clean" | grep -c 'Failed to spawn executor')"
    note "hinge-mirror.service: $(echo "$clean" | grep 'hinge-mirror.service' | head -3 | tr '\n' ' ' | cut -c1-300)"
    if [ -n "$started" ]; then
        note "hinge-mirror.service started $((started - t0)) s after the boot began"
        note "90 s later, systemctl show: ${shown:-nothing said}"
        if echo "$clean" | grep -q "Watchdog timeout" || ! echo "$shown" | grep -q "NRestarts=0" \
                || ! echo "$shown" | grep -q "ActiveState=active"; then
            note "restarted, stopped or its watchdog fired (log: $log)"; return 1
        fi
        note "running, never restarted: its watchdog was fed for 90 s"
        return 0
    fi
    [ -n "$status" ] && note "systemctl status: $status"
    note "not started, so its watchdog could not be tried (log: $log)"
    return 3
}

s_unmount() {
    local m
    if [ -s "$OUT/.mounts" ]; then
        tac "$OUT/.mounts" | while read -r m; do umount -R "$m" 2>/dev/null || umount -l "$m"; done
    fi
    : > "$OUT/.mounts"
    ! findmnt -rn -o TARGET | grep -q "^$ROOT/"
    note "nothing of the host left mounted in the root"
}
# The trap undoes what a failing step left mounted.
MOUNTS=("$ROOT/var/cache/apt/archives" "$ROOT/dev" "$ROOT/sys" "$ROOT/proc/cpuinfo" "$ROOT/proc")

step "preflight" s_preflight
step "base root ($RELEASE, arm64)" s_base
step "fresh copy of the root" s_fresh_copy
step "bind mounts" s_mounts
step "stand-in debs" s_standins
step "checkout and model into the root" s_checkout
step "install.sh (apt, useradd, venv, pip, model, units)" s_install
step "venv imports (numpy, OpenCV, LiteRT)" s_versions
step "hinge-mirror --version" s_version_cmd
step "config check (installed config)" s_config_check
step "analyze --json (arm64)" s_analyze
step "analyze --json and track (x86, this machine)" s_host_reports
step "reports arm64 = x86 (count; faults)" s_compare_reports
step "track (arm64) and keypoint differences" s_track
step "decoded frames (arm64 vs x86)" s_frames
step "run --source FILE: /healthz and the page" s_run
step "owners and modes" s_files
step "systemd-analyze verify (in the root)" s_verify
step "unmount" s_unmount
step "systemd-nspawn --boot (unit + watchdog)" s_boot
write_report finished
echo "pi-check: $RELEASE: done; $OUT/REPORT-$RELEASE.md"
