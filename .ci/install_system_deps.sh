#!/usr/bin/env bash
# System packages for the live-preview tests: software Vulkan (lavapipe) for Taichi's GGUI and a
# virtual X display. Installs only what is missing; prints what it did. Safe to run repeatedly.
# Without root (or without apt-get) it only reports: the preview tests then skip what they need.
set -euo pipefail

PACKAGES=(mesa-vulkan-drivers libvulkan1 xvfb)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install_system_deps: already installed: ${PACKAGES[*]}"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_system_deps: no apt-get; missing: ${missing[*]} (preview tests will skip)" >&2
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "install_system_deps: not root; missing: ${missing[*]} (preview tests will skip)" >&2
        exit 0
    fi
fi

echo "install_system_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install_system_deps: installed ${missing[*]}"
