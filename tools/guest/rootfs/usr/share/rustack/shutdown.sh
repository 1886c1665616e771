#!/bin/sh
# Run by busybox init on reboot/poweroff.
echo "RUSTACK-GUEST-SHUTDOWN up=$(cut -d' ' -f1 /proc/uptime)" > /dev/console
kill $(cat /run/dropbear.pid 2>/dev/null) 2>/dev/null
sync
