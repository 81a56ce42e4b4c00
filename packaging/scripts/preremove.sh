#!/bin/sh
# Before the .deb or .rpm is removed (deb: "remove", "upgrade" or "deconfigure"; rpm: 0 on
# erase, 1 on upgrade). On removal only, stop and disable both units, so that no cgihttpd
# keeps running from a deleted binary; an upgrade leaves them running.
set -e

case "$1" in
    remove | 0)
        if [ -d /run/systemd/system ]; then
            systemctl --no-reload disable --now cgihttpd.socket cgihttpd.service >/dev/null 2>&1 || true
        fi
        ;;
esac
exit 0
