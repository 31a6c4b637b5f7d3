#!/usr/bin/env bash
# deps.sh — install, from Debian 12's packages, whatever the build, the demo
# and the tests need and this machine lacks. Sourced by demo.sh and check.sh;
# installs nothing that is already there and runs apt-get update only when
# something is missing.

WD_PACKAGES=(
	gcc make autoconf automake libtool pkg-config bison
	libevent-dev libssl-dev openssl libxml2-dev libxml2-utils
	libprotobuf-c-dev protobuf-c-compiler libsystemd-dev systemd
	libcmocka-dev clang libclang-rt-14-dev libsqlite3-dev
	curl iproute2 procps sqlite3 mandoc
)
# The release checks of .ci/run (make distcheck, make check-package): the
# Debian package's build, lintian, a Debian 12 made by debootstrap and
# booted with systemd-nspawn. Installed by wd_install_pkg_deps only.
WD_PKG_PACKAGES=(
	dpkg-dev debhelper lintian debootstrap systemd-container
)
# tests/integration/http-edges.py (raw HTTP over mutual TLS, issue 14).
WD_PACKAGES+=(python3)
# The compliance desk's JSON API (issue 10): jansson, a maintained JSON
# library, rather than hand-written JSON; promtool (prometheus) checks the
# desk's /metrics in the tests.
WD_PACKAGES+=(libjansson-dev prometheus)
# The desk's console tested in a real browser (tests/integration/desk-browser.sh):
# headless Chromium driven by Selenium, the client certificate in an NSS database.
WD_PACKAGES+=(chromium chromium-driver python3-selenium libnss3-tools)

wd_install_deps() {
	wd_apt_install "${WD_PACKAGES[@]}"
}

wd_install_pkg_deps() {
	wd_apt_install "${WD_PACKAGES[@]}" "${WD_PKG_PACKAGES[@]}"
}

wd_apt_install() {
	local missing=() p sudo=
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || {
			echo "deps: missing ${missing[*]}; run as root or install sudo" >&2
			return 1
		}
		sudo=sudo
	fi
	echo "deps: installing ${missing[*]}" >&2
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
	    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends "${missing[@]}" >/dev/null
}
