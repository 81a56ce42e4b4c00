#!/bin/sh
# After the .deb or .rpm is removed or purged. systemd forgets the units. The cgihttpd
# account stays, as Debian's policy asks: files on this machine may still belong to it, and
# a later account with the same number would own them.
set -e

if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
