#!/usr/bin/env bash
# Installs the Debian packages vmforensics and its tests use, when they are missing and we
# can (root with apt-get); otherwise says exactly what is missing. Never fails the build
# for optional tools: tests that need them skip with the reason.
set -u
required=(libmagic1)
optional=(adb libimobiledevice-utils minisign age sox libsox-fmt-all libvo-amrwbenc0 foremost scalpel testdisk tmux openssh-client ffmpeg)
missing=()
for p in "${required[@]}" "${optional[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || echo "system-deps: could not install some of: ${missing[*]} (tests needing them will skip)"
else
  echo "system-deps: missing Debian packages: ${missing[*]}"
  echo "system-deps: install them with: sudo apt-get install ${missing[*]}"
  for p in "${required[@]}"; do
    if printf '%s\n' "${missing[@]}" | grep -qx "$p"; then
      echo "system-deps: $p is required (python-magic needs libmagic)"; exit 1
    fi
  done
fi
exit 0
