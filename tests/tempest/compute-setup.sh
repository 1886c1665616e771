#!/usr/bin/env bash
# Before the compute Tempest run: two small public images for image_ref and
# image_ref_alt, made with the openstack CLI as the admin of the cloud in
# OS_CLIENT_CONFIG_FILE. Idempotent. Prints `export IMAGE_REF=… IMAGE_REF_ALT=…`
# for the caller (tempest.sh would otherwise take whatever images it lists first).
set -euo pipefail
command -v openstack >/dev/null || { echo "compute-setup: no openstack CLI" >&2; exit 1; }
img=$(mktemp)
trap 'rm -f "$img"' EXIT
head -c 1048576 /dev/zero > "$img"
for name in tempest-image-1 tempest-image-2; do
  if ! openstack --os-cloud rustack-admin image show "$name" >/dev/null 2>&1; then
    openstack --os-cloud rustack-admin image create "$name" --public --disk-format raw \
      --container-format bare --file "$img" >/dev/null
  fi
done
id() { openstack --os-cloud rustack-admin image show "$1" -f value -c id; }
echo "export IMAGE_REF=$(id tempest-image-1) IMAGE_REF_ALT=$(id tempest-image-2)"
