#!/usr/bin/env bash
# Builds and installs Switchyard: the binary (Swift runtime and Foundation linked in, so
# the host needs no Swift toolchain), the config, the systemd units and the docs they
# point at.
#
#   deploy/install.sh                          build, install under /usr/local and /etc
#   PREFIX=/usr deploy/install.sh              binary in /usr/bin, units in /usr/lib/systemd/system
#   DESTDIR=/tmp/root deploy/install.sh        stage into /tmp/root (packaging; nothing else touched)
#   BINARY=path/to/switchyard deploy/install.sh   install that binary instead of building one
#
# Variables: PREFIX (/usr/local), SYSCONFDIR (/etc), UNITDIR ($PREFIX/lib/systemd/system),
# DOCDIR ($PREFIX/share/doc/switchyard), DESTDIR (empty), BINARY (empty: build).
#
# What goes where (with the defaults):
#   /usr/local/bin/switchyard
#   /etc/switchyard/switchyard.yaml, /etc/switchyard/routes.d/*.yaml
#       only when /etc/switchyard/switchyard.yaml does not exist yet: an existing config
#       (the main file and its routes.d/) is never touched
#   /usr/local/lib/systemd/system/switchyard.service, switchyard.socket
#       with their paths rewritten to PREFIX and SYSCONFDIR
#   /usr/local/share/doc/switchyard/README.md, OPERATIONS.md, INSTALL.md,
#       switchyard.yaml (the commented reference), notify-reload.conf (the drop-in for
#       systemd >= 253)
# It does not run systemctl; it prints the commands to run next.
#
# The runtime needs glibc, libsystemd0, zlib1g and libstdc++6 (all in a Debian 12 base).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PREFIX=${PREFIX:-/usr/local}
SYSCONFDIR=${SYSCONFDIR:-/etc}
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
DOCDIR=${DOCDIR:-$PREFIX/share/doc/switchyard}
DESTDIR=${DESTDIR:-}
BINARY=${BINARY:-}

for path in "$PREFIX" "$SYSCONFDIR" "$UNITDIR" "$DOCDIR"; do
    [[ $path == /* ]] || { echo "error: PREFIX, SYSCONFDIR, UNITDIR and DOCDIR must be absolute; got $path" >&2; exit 1; }
done

if [[ -z $BINARY ]]; then
    # shellcheck source=scripts/lib/require-packages.sh
    source scripts/lib/require-packages.sh
    require_swift
    require_packages pkg-config libsystemd-dev zlib1g-dev
    # Its own scratch path: the static build does not disturb .build/release.
    swift build -c release --product switchyard --static-swift-stdlib --scratch-path .build-static
    BINARY=.build-static/release/switchyard
fi
[[ -x $BINARY ]] || { echo "error: no executable at $BINARY" >&2; exit 1; }

bindir=$DESTDIR$PREFIX/bin
confdir=$DESTDIR$SYSCONFDIR/switchyard
unitdir=$DESTDIR$UNITDIR
docdir=$DESTDIR$DOCDIR

install -d "$bindir" "$unitdir" "$docdir"
[[ $BINARY -ef $bindir/switchyard ]] || install -m 0755 "$BINARY" "$bindir/switchyard"
echo "installed $bindir/switchyard ($("$bindir/switchyard" --version))"

if [[ -e $confdir/switchyard.yaml ]]; then
    echo "kept the existing config in $confdir (the shipped reference is $docdir/switchyard.yaml)"
else
    install -d "$confdir" "$confdir/routes.d"
    install -m 0644 config/switchyard.yaml "$confdir/switchyard.yaml"
    install -m 0644 config/routes.d/*.yaml "$confdir/routes.d/"
    echo "installed the config: $confdir/switchyard.yaml and $confdir/routes.d/"
fi

# The units name /usr/local and /etc; point them at where things went.
for unit in switchyard.service switchyard.socket; do
    sed -e "s|/usr/local/bin/switchyard|$PREFIX/bin/switchyard|g" \
        -e "s|/usr/local/share/doc/switchyard|$DOCDIR|g" \
        -e "s|/etc/switchyard|$SYSCONFDIR/switchyard|g" \
        "systemd/$unit" >"$unitdir/$unit.tmp"
    chmod 0644 "$unitdir/$unit.tmp"
    mv "$unitdir/$unit.tmp" "$unitdir/$unit"
done
echo "installed $unitdir/switchyard.service and switchyard.socket"

install -m 0644 README.md "$docdir/README.md"
install -m 0644 deploy/OPERATIONS.md "$docdir/OPERATIONS.md"
install -m 0644 deploy/README.md "$docdir/INSTALL.md"
install -m 0644 config/switchyard.yaml "$docdir/switchyard.yaml"
install -m 0644 systemd/switchyard.service.d/notify-reload.conf "$docdir/notify-reload.conf"
echo "installed the docs in $docdir"

if [[ -z $DESTDIR ]]; then
    "$PREFIX/bin/switchyard" check --config "$SYSCONFDIR/switchyard/switchyard.yaml"
    cat <<EOF
next:
  systemctl daemon-reload
  systemctl enable --now switchyard.service     # or switchyard.socket, to start it on the first connection
  systemctl status switchyard
EOF
fi
