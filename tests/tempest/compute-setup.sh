#!/usr/bin/env bash
# Before the compute Tempest run: two small public images for image_ref and
# image_ref_alt (tempest.sh takes the first and last image it lists), made with the
# openstack CLI as the admin of the cloud in OS_CLIENT_CONFIG_FILE. Idempotent.
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
openstack --os-cloud rustack-admin image list -f value -c Name -c Status
