# shellcheck shell=bash
# Sourced by scripts/build-test-image.sh and tests/host/guest-boot.sh (bash).
# ensure_packages PKG...: installs the Debian packages that are not installed yet,
# with apt-get (root or sudo). qemu-system-x86 and qemu-utils come from
# bookworm-backports on bookworm (this host's qemu-utils is the backports one, which
# bookworm's own qemu-system-common does not accept); the source is added when absent.

_as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else echo "need root for: $*" >&2; return 1; fi
}

_pkg_installed() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

_ensure_backports() {
    grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
    grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release || return 1
    echo "# adding bookworm-backports to apt sources" >&2
    _as_root tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    _APT_UPDATED=""
}

_apt() {
    # INITRD=No: installing linux-image-amd64 here only provides the guest's kernel
    # and modules; the build host needs no initramfs of its own for it.
    _as_root env DEBIAN_FRONTEND=noninteractive INITRD=No \
        apt-get -o DPkg::Lock::Timeout=900 -y -qq --no-install-recommends "$@"
}

ensure_packages() {
    local main=() bpo=() p
    for p in "$@"; do
        _pkg_installed "$p" && continue
        case $p in
            qemu-system-x86|qemu-utils|qemu-system-common|qemu-system-data) bpo+=("$p") ;;
            *) main+=("$p") ;;
        esac
    done
    [[ ${#main[@]} -eq 0 && ${#bpo[@]} -eq 0 ]] && return 0
    local backports=""
    if [[ ${#bpo[@]} -gt 0 ]] && _ensure_backports; then backports="-t bookworm-backports"; fi
    if [[ -z ${_APT_UPDATED:-} ]]; then
        echo "# apt-get update" >&2
        _as_root apt-get -o DPkg::Lock::Timeout=900 update -qq >/dev/null
        _APT_UPDATED=1
    fi
    if [[ ${#main[@]} -gt 0 ]]; then
        echo "# installing ${main[*]}" >&2
        _apt install "${main[@]}" >/dev/null
    fi
    if [[ ${#bpo[@]} -gt 0 ]]; then
        echo "# installing ${bpo[*]} ${backports:+from bookworm-backports}" >&2
        # shellcheck disable=SC2086
        _apt install $backports "${bpo[@]}" >/dev/null
    fi
}
