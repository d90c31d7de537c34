#!/usr/bin/env bash
# System packages the tests need: an X server (Xvfb) and the Qt/GL libraries for the napari
# GUI tests, ffmpeg's libraries come with PyAV. Checks them with dpkg and installs what is
# missing with apt-get when it can (root, or sudo without a password); otherwise it says what
# is missing and the GUI tests skip with that reason (exit 0 unless STABLEMOTION_REQUIRE_DEPS).
#     bash scripts/system_deps.sh          # check and install
#     STABLEMOTION_NO_APT=1 ...            # only check
#     STABLEMOTION_REQUIRE_DEPS=1 ...      # fail when something is still missing (CI)
set -uo pipefail
apt_pkgs="xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxkbcommon-x11-0 \
  libxcb-cursor0 libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 \
  libxcb-xkb1 libgl1 libgl1-mesa-dri libegl1 libglib2.0-0 libdbus-1-3 libfontconfig1"
if ! command -v dpkg >/dev/null 2>&1; then
  command -v Xvfb >/dev/null 2>&1 || \
    echo "[deps] no dpkg and no Xvfb: GUI tests will be skipped (install Xvfb to run them)" >&2
  exit 0
fi
missing=""
for p in $apt_pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; fi
fi
if [ -z "${STABLEMOTION_NO_APT:-}" ] && command -v apt-get >/dev/null 2>&1 \
    && { [ "$(id -u)" = 0 ] || [ -n "$sudo" ]; }; then
  echo "[deps] apt-get install:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  if $sudo apt-get update -qq >/dev/null 2>&1 \
      && $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
    exit 0
  fi
  echo "[deps] apt-get failed (offline?)" >&2
fi
echo "[deps] missing system packages:$missing" >&2
if [ -n "${STABLEMOTION_REQUIRE_DEPS:-}" ]; then exit 1; fi
echo "[deps] GUI tests will be skipped; to run them: sudo apt-get install$missing" >&2
exit 0
