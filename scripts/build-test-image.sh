#!/usr/bin/env bash
# Builds rustack's test guest from Debian packages only (no download but apt):
# Debian's kernel, a busybox initramfs with the virtio modules, dropbear, and the
# /init of tools/guest/rootfs (DHCP, metadata or config drive, SSH key, user data,
# a marker line on ttyS0). See docs/guest-image.md.
#
# Usage: scripts/build-test-image.sh [OUT_DIR]
#   OUT_DIR defaults to ${XDG_CACHE_HOME:-~/.cache}/rustack/test-image and receives
#     vmlinux             the kernel as an uncompressed ELF (PVH entry: qemu -kernel)
#     initramfs.cpio.gz   the guest's whole userland
#     disk.qcow2          a bootable disk: MBR + FAT + syslinux + kernel + initramfs
#     manifest.txt        versions, kernel command line, sizes and sha256 of the above
# A second run with unchanged inputs (packages, tools/guest, this script) does nothing.
# Needs root (or sudo) only to install missing packages. FORCE=1 rebuilds anyway.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GUEST=$ROOT/tools/guest
OUT=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/rustack/test-image}
log() { echo "# build-test-image: $*" >&2; }

# shellcheck source=../tools/guest/build.conf
. "$GUEST/build.conf"
# shellcheck source=../tools/guest/host-packages.sh
. "$GUEST/host-packages.sh"

# shellcheck disable=SC2086
ensure_packages $GUEST_PACKAGES cpio kmod xz-utils gzip syslinux syslinux-common \
    mtools dosfstools fdisk qemu-utils

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
exec 9>"$OUT/.lock"
flock 9   # two builds into one directory take turns

# --- inputs ---------------------------------------------------------------------------
pick_kernel() {
    local d
    for d in /lib/modules/*-amd64; do
        [[ -f /boot/vmlinuz-${d##*/} && -d $d/kernel ]] && echo "${d##*/}"
    done | sort -V | tail -n1
}
K=${GUEST_KERNEL_VERSION:-$(pick_kernel)}
[[ -n $K && -f /boot/vmlinuz-$K ]] || { log "no Debian amd64 kernel found (linux-image-amd64)"; exit 1; }
[[ -f /lib/modules/$K/modules.dep ]] || depmod "$K"

pkgver() { dpkg-query -W -f='${Package} ${Version}' "$1" 2>/dev/null || echo "$1 ?"; }
KPKG=$(dpkg-query -S "/boot/vmlinuz-$K" 2>/dev/null | cut -d: -f1 || true)

# Modules in dependency order ("insmod PATH" lines of modprobe --show-depends),
# each once, early ones first.
module_paths() {
    local m
    for m in "$@"; do modprobe -S "$K" --show-depends "$m"; done | awk '$1 == "insmod" { print $2 }'
}
mapfile -t EARLY_KO < <(module_paths $GUEST_MODULES_EARLY | awk '!seen[$0]++')
mapfile -t LATE_KO < <( (printf '%s\n' "${EARLY_KO[@]}" | sed 's/^/EARLY /'; module_paths $GUEST_MODULES_LATE) \
    | awk '$1 == "EARLY" { seen[$2] = 1; next } !seen[$0]++')

DROPBEAR_BINS=(/usr/sbin/dropbear /usr/bin/dropbearkey /usr/bin/dbclient)
mapfile -t LIBS < <(ldd "${DROPBEAR_BINS[@]}" | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }' | sort -u)

inputs_digest() {
    {
        echo "kernel $K $(pkgver "$KPKG")"
        for p in busybox-static dropbear-bin syslinux syslinux-common; do pkgver "$p"; echo; done
        echo "cmdline $GUEST_CMDLINE"; echo "disk $GUEST_DISK_MB"
        printf '%s\n' "${DROPBEAR_BINS[@]}" "${LIBS[@]}" "${EARLY_KO[@]}" "${LATE_KO[@]}"
        # contents only: the same inputs reached by another path are the same inputs
        for f in "/boot/vmlinuz-$K" /bin/busybox "${DROPBEAR_BINS[@]}" "${LIBS[@]}" \
            "${EARLY_KO[@]}" "${LATE_KO[@]}" /usr/lib/syslinux/mbr/mbr.bin "${BASH_SOURCE[0]}"; do
            sha256sum < "$f"
        done
        (cd "$GUEST" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 stat -c '%n %a' \
            && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -d' ' -f1
}
DIGEST=$(inputs_digest)

if [[ ${FORCE:-0} != 1 && -f $OUT/.inputs && $(cat "$OUT/.inputs") == "$DIGEST" ]] \
   && [[ -s $OUT/vmlinux && -s $OUT/initramfs.cpio.gz && -s $OUT/disk.qcow2 && -s $OUT/manifest.txt ]]; then
    log "up to date: $OUT (inputs $DIGEST)"
    exit 0
fi

T0=$(date +%s.%N)
WORK=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- kernel: the ELF inside Debian's bzImage ---------------------------------------------
# The bzImage carries an xz-compressed vmlinux; the ELF has a PVH note, so qemu -kernel
# enters it directly (no decompressor, no real-mode setup): twice as fast under TCG.
extract_vmlinux() {
    local in=$1 out=$2 pos
    for pos in $(LC_ALL=C grep -abo $'\xfd7zXZ' "$in" | cut -d: -f1); do
        tail -c +$((pos + 1)) "$in" | xz -dc 2>/dev/null > "$out" || true
        [[ $(head -c4 "$out" | od -An -c | tr -d ' ') == 177ELF ]] && return 0
    done
    return 1
}
KSUM=$(sha256sum "/boot/vmlinuz-$K" | cut -d' ' -f1)
if [[ -s $OUT/vmlinux && -f $OUT/.vmlinux-from && $(cat "$OUT/.vmlinux-from") == "$KSUM" ]]; then
    cp "$OUT/vmlinux" "$WORK/vmlinux"
else
    log "extracting vmlinux from /boot/vmlinuz-$K"
    extract_vmlinux "/boot/vmlinuz-$K" "$WORK/vmlinux" || { log "no ELF kernel inside /boot/vmlinuz-$K"; exit 1; }
fi

# --- initramfs ------------------------------------------------------------------------
R=$WORK/root
mkdir -p "$R"
cp -a "$GUEST/rootfs/." "$R/"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib/modules,proc,sys,dev,run,tmp,root,mnt,var/log,etc/dropbear}
ln -sfn ../run "$R/var/run"
chmod 1777 "$R/tmp"; chmod 700 "$R/root"

cp /bin/busybox "$R/bin/busybox"
for app in $(/bin/busybox --list); do
    [[ $app == busybox || -e $R/bin/$app ]] || ln -s busybox "$R/bin/$app"
done
ln -sfn ../bin/busybox "$R/sbin/init"

cp /usr/sbin/dropbear "$R/usr/sbin/"
cp /usr/bin/dropbearkey /usr/bin/dbclient "$R/usr/bin/"
for lib in "${LIBS[@]}"; do
    mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"
done

copy_modules() {  # LISTFILE KO...
    local list=$1 ko name; shift
    : > "$R/etc/$list"
    for ko in "$@"; do
        name=$(basename "$ko"); name=${name%%.ko*}
        case $ko in
            *.ko) cp "$ko" "$R/lib/modules/$name.ko" ;;
            *.ko.xz) xz -dc "$ko" > "$R/lib/modules/$name.ko" ;;
            *) log "unsupported module file $ko"; exit 1 ;;
        esac
        echo "$name" >> "$R/etc/$list"
    done
}
copy_modules modules.early "${EARLY_KO[@]}"
copy_modules modules.late "${LATE_KO[@]}"

cat > "$R/etc/rustack-guest-release" <<EOF
rustack test guest
kernel=$K
busybox=$(pkgver busybox-static)
dropbear=$(pkgver dropbear-bin)
inputs=$DIGEST
EOF
# The kernel opens /dev/console before /init runs (devtmpfs is not mounted yet).
mknod -m 600 "$R/dev/console" c 5 1 2>/dev/null || log "cannot mknod /dev/console (init redirects later)"

# Reproducible archive: sorted names, owner root, one fixed mtime.
find "$R" -exec touch -h -d @0 {} +
(cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) \
    | gzip -9n > "$WORK/initramfs.cpio.gz"

# --- bootable disk: MBR + one FAT partition with syslinux, built without loop mounts -----
RAW=$WORK/disk.raw
truncate -s "${GUEST_DISK_MB}M" "$RAW"
printf 'label: dos\nstart=2048, type=c, bootable\n' | sfdisk -q "$RAW"
OFF=$((2048 * 512))
mkfs.vfat -i 52535447 -n RUSTACK --offset 2048 "$RAW" $(((GUEST_DISK_MB * 1024 * 1024 - OFF) / 1024)) >/dev/null
cat > "$WORK/syslinux.cfg" <<EOF
DEFAULT rustack
PROMPT 0
TIMEOUT 0
LABEL rustack
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND $GUEST_CMDLINE
EOF
syslinux --offset "$OFF" --install "$RAW"
cp "/boot/vmlinuz-$K" "$WORK/vmlinuz"
cp "$WORK/initramfs.cpio.gz" "$WORK/initrd.gz"
touch -d @0 "$WORK/vmlinuz" "$WORK/initrd.gz" "$WORK/syslinux.cfg"
mcopy -m -i "$RAW@@$OFF" "$WORK/vmlinuz" "$WORK/initrd.gz" "$WORK/syslinux.cfg" ::/
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$RAW" bs=440 count=1 conv=notrunc status=none
qemu-img convert -f raw -O qcow2 "$RAW" "$WORK/disk.qcow2"

# --- manifest and publish ---------------------------------------------------------------
filerow() {
    printf 'file=%s size=%s sha256=%s\n' "$1" "$(stat -c %s "$WORK/$1")" "$(sha256sum "$WORK/$1" | cut -d' ' -f1)"
}
{
    echo "# rustack test guest image (scripts/build-test-image.sh; docs/guest-image.md)"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "inputs_sha256=$DIGEST"
    echo "kernel_version=$K"
    echo "kernel_package=$(pkgver "$KPKG")"
    echo "busybox_package=$(pkgver busybox-static)"
    echo "dropbear_package=$(pkgver dropbear-bin)"
    echo "syslinux_package=$(pkgver syslinux)"
    echo "cmdline=$GUEST_CMDLINE"
    echo "modules_early=$(tr '\n' ' ' < "$R/etc/modules.early" | sed 's/ $//')"
    echo "modules_late=$(tr '\n' ' ' < "$R/etc/modules.late" | sed 's/ $//')"
    filerow vmlinux
    filerow initramfs.cpio.gz
    filerow disk.qcow2
    echo "disk_virtual_size=$((GUEST_DISK_MB * 1024 * 1024))"
} > "$WORK/manifest.txt"

for f in vmlinux initramfs.cpio.gz disk.qcow2 manifest.txt; do mv -f "$WORK/$f" "$OUT/$f"; done
echo "$KSUM" > "$OUT/.vmlinux-from"
echo "$DIGEST" > "$OUT/.inputs"
log "built $OUT in $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
cat "$OUT/manifest.txt"
