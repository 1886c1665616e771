#!/bin/sh
# TCP echo service (one process per connection, started by nc -ll -e): one greeting
# line naming the guest, then every byte received is sent back.
echo "RUSTACK-ECHO $(hostname)"
exec cat
