# shellcheck shell=bash
# Sourced by scripts/serve, scripts/test and bench/*: makes sure what they need is installed.
#
#   require_swift                      swift on PATH (adds /opt/swift/usr/bin if it is there)
#   require_packages PKG|ALT ...       Debian packages; "a|b" is satisfied by either, installs a
#
# Missing packages are installed with apt-get when running as root (apt-get update first);
# otherwise the exact install command is printed and the script exits 1.

require_swift() {
    if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
        PATH="/opt/swift/usr/bin:$PATH"
        export PATH
    fi
    if ! command -v swift >/dev/null 2>&1; then
        echo "error: swift is not on PATH (nor at /opt/swift/usr/bin/swift)." >&2
        echo "       Install a Swift 6 toolchain and add its usr/bin to PATH." >&2
        exit 1
    fi
}

package_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

require_packages() {
    local missing=() spec alt found
    for spec in "$@"; do
        found=no
        for alt in ${spec//|/ }; do
            if package_installed "$alt"; then found=yes; break; fi
        done
        [[ $found == yes ]] || missing+=("${spec%%|*}")
    done
    ((${#missing[@]} == 0)) && return 0

    if ((EUID != 0)); then
        echo "error: missing packages: ${missing[*]}. Install them with:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "installing: ${missing[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2
}
