#!/usr/bin/env bash
# The image service with the `openstack` CLI against a started rustack: a small
# qcow2 made with qemu-img is created from a file, listed, shown (checksum and
# sha512 of the file), changed with `image set`, saved (downloaded) and compared
# byte for byte, shared with the demo project, deactivated and reactivated,
# and deleted. Cleans up what it made.
#
#   OS_CLIENT_CONFIG_FILE=<data dir>/clouds.yaml tests/cli/image.sh
#
# Needs `openstack` and `qemu-img` on PATH and the clouds `rustack-admin` and
# `rustack-demo` that `rustack up` writes. Exits non-zero at the first failure.
set -euo pipefail

: "${OS_CLIENT_CONFIG_FILE:?set OS_CLIENT_CONFIG_FILE to the clouds.yaml written by rustack up}"
[[ -r $OS_CLIENT_CONFIG_FILE ]] || { echo "image: cannot read $OS_CLIENT_CONFIG_FILE" >&2; exit 1; }
command -v openstack >/dev/null || { echo "image: the openstack CLI is not on PATH" >&2; exit 1; }
command -v qemu-img >/dev/null || { echo "image: qemu-img is not on PATH (apt-get install qemu-utils)" >&2; exit 1; }
export OS_CLIENT_CONFIG_FILE PYTHONWARNINGS=ignore
for v in $(env | sed -n 's/^\(OS_[A-Z_]*\)=.*/\1/p'); do
  [[ $v == OS_CLIENT_CONFIG_FILE ]] || unset "$v"
done

NAME=cli-image-$(date +%s)-$$
WORK=$(mktemp -d)
IMAGE_ID=""
STEPS=0
OUT=""
run() {
  STEPS=$((STEPS + 1))
  echo "+ $*" >&2
  OUT=$("$@" 2>&1) || { echo "$OUT" >&2; echo "image: FAILED at step $STEPS: $*" >&2; exit 1; }
  echo "$OUT" | sed 's/^/  /' >&2
}
expect() {
  for w in "$@"; do
    grep -qF -- "$w" <<<"$OUT" || { echo "image: FAILED at step $STEPS: output lacks '$w'" >&2; exit 1; }
  done
}
fail() { echo "image: FAILED at step $STEPS: $*" >&2; exit 1; }
json() {
  python3 -c '
import json, sys
raw = json.load(sys.stdin)
# openstackclient shows some image fields under "properties"
props = raw.get("properties") if isinstance(raw.get("properties"), dict) else {}
d = {k.lower().replace(" ", "_"): v for k, v in {**props, **raw}.items()}
v = d.get(sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$1" <<<"$OUT"
}
admin() { openstack --os-cloud rustack-admin "$@"; }
demo() { openstack --os-cloud rustack-demo "$@"; }
cleanup() {
  [[ -n $IMAGE_ID ]] && admin image delete "$IMAGE_ID" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# a small real qcow2 with some data in it
head -c 300000 /dev/urandom > "$WORK/raw"
truncate -s 64M "$WORK/raw"
qemu-img convert -f raw -O qcow2 "$WORK/raw" "$WORK/disk.qcow2"
MD5=$(md5sum "$WORK/disk.qcow2" | cut -d' ' -f1)
SHA512=$(sha512sum "$WORK/disk.qcow2" | cut -d' ' -f1)
SIZE=$(stat -c %s "$WORK/disk.qcow2")

run admin image create "$NAME" --file "$WORK/disk.qcow2" --disk-format qcow2 --container-format bare \
  --private --property os_distro=cirros --tag cli -f json
IMAGE_ID=$(json id)
[[ $(json status) == active ]] || fail "status $(json status), want active"
[[ $(json checksum) == "$MD5" ]] || fail "checksum $(json checksum), want $MD5"
[[ $(json size) == "$SIZE" ]] || fail "size $(json size), want $SIZE"

run admin image list -f value
expect "$IMAGE_ID" "$NAME"

run admin image show "$IMAGE_ID" -f json
[[ $(json os_hash_algo) == sha512 && $(json os_hash_value) == "$SHA512" ]] || fail "sha512 does not match the file"
[[ $(json virtual_size) == 67108864 ]] || fail "virtual_size $(json virtual_size), want 67108864 (from the qcow2 header)"
[[ $(json disk_format) == qcow2 && $(json visibility) == private ]] || fail "unexpected image: $OUT"

run admin image set "$IMAGE_ID" --name "$NAME-renamed" --property hw_disk_bus=virtio --min-disk 1 --protected
run admin image show "$IMAGE_ID" -f json
[[ $(json name) == "$NAME-renamed" && $(json min_disk) == 1 && $(json protected) == True ]] || fail "image set did not apply: $OUT"
expect hw_disk_bus

run admin image save --file "$WORK/saved.qcow2" "$IMAGE_ID"
cmp "$WORK/disk.qcow2" "$WORK/saved.qcow2" || fail "the saved image differs from the uploaded file"
[[ $(md5sum "$WORK/saved.qcow2" | cut -d' ' -f1) == "$MD5" ]] || fail "checksum of the saved file"

# the demo project cannot see a private image; sharing lets it
run demo image list -f value
if grep -qF "$IMAGE_ID" <<<"$OUT"; then fail "a private image is listed to another project"; fi
DEMO_PROJECT=$(admin project show demo -f value -c id)
run admin image set --shared "$IMAGE_ID"
run admin image add project "$IMAGE_ID" "$DEMO_PROJECT"
run demo image set --accept "$IMAGE_ID"
run demo image list -f value
expect "$IMAGE_ID"

run admin image set --deactivate "$IMAGE_ID"
run admin image show "$IMAGE_ID" -f value -c status
expect deactivated
run admin image set --activate "$IMAGE_ID"

# protected: the delete is refused until unprotected
STEPS=$((STEPS + 1))
if admin image delete "$IMAGE_ID" >/dev/null 2>&1; then fail "a protected image was deleted"; fi
run admin image set --unprotected "$IMAGE_ID"
run admin image delete "$IMAGE_ID"
run admin image list -f value
if grep -qF "$IMAGE_ID" <<<"$OUT"; then fail "$IMAGE_ID still listed after delete"; fi
IMAGE_ID=""

echo "image: all $STEPS steps passed" >&2
echo "$STEPS passed, 0 failed"
