#!/bin/sh
# After the .deb or .rpm is unpacked (deb: "configure"; rpm: 1 on install, 2 on upgrade).
# cgihttpd.service runs scripts as the cgihttpd account (--user cgihttpd): make it, as a
# system account with no home, no password and no login shell, unless it is there already.
# The server itself runs as root and never as this account.
set -e

if ! getent passwd cgihttpd >/dev/null 2>&1; then
    if ! getent group cgihttpd >/dev/null 2>&1; then
        groupadd --system cgihttpd
    fi
    useradd --system --gid cgihttpd --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin --comment "cgihttpd CGI scripts" cgihttpd
fi

# Units are neither enabled nor started: that is the admin's choice (see cgihttpd(1)).
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
