#!/usr/bin/env bash
# Builds rustack (release) and starts the all-in-one: `rustack up`.
#
#   scripts/up.sh [rustack options…]     e.g. scripts/up.sh --bind 0.0.0.0
#
# State goes to /var/lib/rustack (so the server runs under sudo when you are not
# root), or wherever --data-dir says (then no sudo). Stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null && [[ -f $HOME/.cargo/env ]]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null || { echo "up.sh: cargo not found; install Rust (https://rustup.rs)" >&2; exit 1; }

# the network data plane needs dnsmasq and nftables (without them, or without root,
# networks are API-only: `[network] dataplane = auto` falls back to the fake one)
if [[ $EUID -eq 0 ]] && ! { command -v dnsmasq >/dev/null && command -v nft >/dev/null; }; then
  echo "up.sh: installing dnsmasq-base and nftables for the network data plane" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dnsmasq-base nftables iproute2 >/dev/null \
    || echo "up.sh: could not install them; networks will be API-only" >&2
fi

# real VMs: `[compute] driver = auto` runs QEMU guests when rustack is root and QEMU is
# installed; the test guest is built from Debian packages and registered at bootstrap
# as `rustack-test` (SKIP_VMS=1 skips both; servers then live in memory)
if [[ $EUID -eq 0 && ${SKIP_VMS:-} != 1 ]]; then
  # shellcheck source=../tools/guest/host-packages.sh
  . tools/guest/host-packages.sh
  if ! command -v qemu-system-x86_64 >/dev/null || ! command -v genisoimage >/dev/null; then
    echo "up.sh: installing QEMU and genisoimage for real virtual machines" >&2
  fi
  ensure_packages qemu-system-x86 qemu-utils genisoimage novnc >/dev/null \
    || echo "up.sh: could not install QEMU; servers will be kept in memory (fake driver)" >&2
  scripts/build-test-image.sh >/dev/null || echo "up.sh: could not build the test guest image" >&2
fi

cargo build --release -p rustack
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/rustack

sudo=()
if [[ $EUID -ne 0 && " $* " != *" --data-dir"* ]]; then
  data=/var/lib/rustack
  if ! { [[ -d $data && -w $data ]] || { [[ ! -e $data ]] && [[ -w $(dirname "$data") ]]; }; }; then
    echo "up.sh: $data needs root; running rustack with sudo (or pass --data-dir DIR)" >&2
    sudo=(sudo)
  fi
fi
exec "${sudo[@]}" "$BIN" up "$@"
