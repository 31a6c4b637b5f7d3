#!/bin/bash
#
# run.sh — the package test (`make check-package`): build the Debian
# packages from the release tarball, check them with lintian, install them
# with `apt-get install ./*.deb` in a fresh Debian 12 made by debootstrap,
# boot it with systemd as PID 1 (systemd-nspawn, private network) to run
# the packaged units as an operator would (tests/package/inside.sh), then
# purge the packages and check that nothing is left but the state
# directories.
#
# Usage: run.sh TARBALL WORKDIR
#   WORKDIR (build/pkg under the source tree when run by make) keeps the
#   debootstrap tarball between runs (bookworm-base.tar, made once, about
#   4 minutes; delete it to make a new one); the rest is remade each run:
#   src/ (the unpacked tarball and the .debs), root/ (the Debian 12 tree),
#   *.log; root/ is kept after the run for inspection. WD_PKG_MIRROR overrides the Debian mirror (default: the one this
#   machine's apt uses).
#
# Needs root (debootstrap, chroot, systemd-nspawn) and dpkg-dev, debhelper,
# lintian, debootstrap, systemd-container (scripts/deps.sh installs them).
# On failure the tree is left in WORKDIR/root for inspection.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
[ $# -eq 2 ] || { echo "usage: $prog TARBALL WORKDIR" >&2; exit 2; }
tarball=$(cd "$(dirname "$1")" && pwd)/${1##*/}
work=$2
t0=$(date +%s)

die() { echo "$prog: FAIL: $*" >&2; exit 1; }
say() { echo "$prog: [$(( $(date +%s) - t0 ))s] $*"; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, systemd-nspawn)"
for c in dpkg-buildpackage dh lintian debootstrap systemd-nspawn; do
	command -v "$c" >/dev/null || die "$c not found: run scripts/deps.sh's wd_install_deps (check.sh does)"
done
[ -f "$tarball" ] || die "$tarball: no such file (make dist)"
mkdir -p "$work"
work=$(cd "$work" && pwd)
root=$work/root

# --- the mounts of the chroot phases, undone whatever happens ------------
mounted=()
umount_all() {
	local i
	for (( i = ${#mounted[@]} - 1; i >= 0; i-- )); do
		umount -l "${mounted[$i]}" 2>/dev/null || :
	done
	mounted=()
}
trap umount_all EXIT
chroot_mounts() {
	local d
	for d in proc sys dev dev/pts; do
		mount --bind "/$d" "$root/$d"
		mounted+=("$root/$d")
	done
}
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }

# --- 1. build the packages from the tarball --------------------------------
say "building the packages from ${tarball##*/}"
rm -rf "$work/src"
mkdir -p "$work/src"
tar -C "$work/src" -xzf "$tarball"
srcdir=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d | head -n 1)
( cd "$srcdir" && DEB_BUILD_OPTIONS="parallel=$(nproc)" \
    dpkg-buildpackage -us -uc -b ) >"$work/build.log" 2>&1 ||
    { tail -n 40 "$work/build.log" >&2; die "dpkg-buildpackage failed (log: $work/build.log)"; }
mapfile -t debs < <(find "$work/src" -maxdepth 1 -name '*.deb' ! -name '*-dbgsym_*' | sort)
[ ${#debs[@]} -eq 3 ] || die "expected 3 packages, got: ${debs[*]##*/}"
say "built: ${debs[*]##*/}"

# --- 2. lintian: errors and warnings fail (overrides are commented) ------
changes=$(find "$work/src" -maxdepth 1 -name '*.changes' | head -n 1)
if ! lintian --fail-on error,warning --display-info "$changes" >"$work/lintian.log" 2>&1; then
	cat "$work/lintian.log" >&2
	die "lintian"
fi
say "lintian: $(grep -c '^[EW]:' "$work/lintian.log" || :) errors or warnings, $(grep -c '^I:' "$work/lintian.log" || :) notes"

# --- 3. a fresh Debian 12 ---------------------------------------------------
mirror=${WD_PKG_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
	[ -n "$mirror" ] || mirror=$(sed -n 's/^deb \[*[^h]*\]* *\(http[^ ]*debian\)\/* bookworm .*/\1/p' \
	    /etc/apt/sources.list 2>/dev/null | head -n 1)
	[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi
base=$work/bookworm-base.tar
if [ ! -s "$base" ]; then
	say "debootstrap bookworm from $mirror (cached in $base)"
	rm -rf "$work/base.new"
	debootstrap --variant=minbase --include=systemd-sysv bookworm \
	    "$work/base.new" "$mirror" >"$work/debootstrap.log" 2>&1 ||
	    { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
	tar -C "$work/base.new" -cf "$base.tmp" . && mv "$base.tmp" "$base"
	rm -rf "$work/base.new"
fi
rm -rf "$root"
mkdir -p "$root"
tar -C "$root" -xf "$base"
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf 'deb %s bookworm main\n' "$mirror" >"$root/etc/apt/sources.list"

# What a fresh system holds, to compare with after the purge. Left out,
# as the system's own bookkeeping rather than anything of ours: apt's and
# dpkg's databases and caches, logs, and what booting systemd writes in
# /var/lib/systemd (random seed, journal catalog, timer stamps; not
# deb-systemd-helper's state, which the purge must clean).
snapshot() {
	( cd "$root" && find . -xdev \
	    \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run \
	    -o -path ./tmp -o -path ./var/tmp -o -path ./root/wdpkg \
	    -o -path ./var/cache/apt -o -path ./var/lib/apt -o -path ./var/lib/dpkg \
	    -o -path ./var/cache/debconf -o -path ./var/cache/ldconfig \
	    -o -path ./var/log -o -path ./var/lib/systemd/random-seed \
	    -o -path ./var/lib/systemd/catalog -o -path ./var/lib/systemd/timers \
	    -o -path ./var/cache/man \) -prune -o -print | sort )
}
snapshot >"$work/before.list"

# --- 4. apt-get install ./*.deb ------------------------------------------------
mkdir -p "$root/root/wdpkg/debs"
cp "${debs[@]}" "$root/root/wdpkg/debs/"
chroot_mounts
say "apt-get install ./*.deb in the chroot"
in_root apt-get -q update >"$work/apt.log" 2>&1 ||
    { tail -n 20 "$work/apt.log" >&2; die "apt-get update in the chroot"; }
in_root sh -c 'cd /root/wdpkg/debs && apt-get install -y -q --no-install-recommends ./*.deb' \
    >>"$work/apt.log" 2>&1 ||
    { tail -n 30 "$work/apt.log" >&2; die "apt-get install ./*.deb"; }
in_root getent passwd warrantd >/dev/null || die "the warrantd user was not created (sysusers)"
[ "$(in_root stat -c '%a %U %G' /etc/warrantd)" = "750 root warrantd" ] ||
    die "/etc/warrantd is $(in_root stat -c '%a %U %G' /etc/warrantd), not 750 root warrantd (tmpfiles)"
[ "$(in_root stat -c '%a %U %G' /etc/warrantd/warrantd.conf)" = "640 root warrantd" ] ||
    die "warrantd.conf is $(in_root stat -c '%a %U %G' /etc/warrantd/warrantd.conf), not 640 root warrantd"
in_root dpkg-query -W -f='${Conffiles}\n' warrantd | grep -q ' /etc/warrantd/warrantd.conf ' ||
    die "/etc/warrantd/warrantd.conf is not a conffile"
for u in warrantd warrant-backend; do
	[ ! -e "$root/etc/systemd/system/multi-user.target.wants/$u.service" ] ||
	    die "$u.service was enabled on installation"
done
umount_all

# --- 5. boot it: the packaged units under systemd ------------------------
say "booting the container (systemd-nspawn, private network)"
"$top/tests/pki/mkpki" -p 8443 "$root/root/wdpkg/pki" >"$work/mkpki.log" 2>&1 ||
    { cat "$work/mkpki.log" >&2; die "mkpki"; }
install -m 0755 "$here/inside.sh" "$root/root/wdpkg/inside.sh"
install -m 0755 "$top/tests/restamp" "$root/root/wdpkg/restamp"
rm -f "$root/root/wdpkg/result" "$root/root/wdpkg/inside.log"
cat >"$root/etc/systemd/system/wdpkg-test.service" <<'UNIT'
[Unit]
Description=warrantd package test (tests/package/inside.sh)
[Service]
Type=oneshot
ExecStart=/root/wdpkg/inside.sh
# Whatever happened (SuccessAction= is not run for a unit started at boot).
ExecStopPost=/bin/systemctl --no-block poweroff
TimeoutStartSec=240
[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf ../wdpkg-test.service "$root/etc/systemd/system/multi-user.target.wants/wdpkg-test.service"
set +e
timeout 300 systemd-nspawn -q -D "$root" --register=no --keep-unit \
    --private-network --console=pipe -b </dev/null >"$work/boot.log" 2>&1
nrc=$?
set -e
# nspawn cannot remove its propagation directory where /run is no tmpfs.
rm -rf "/run/systemd/nspawn/propagate/${root##*/}"
rm -f "$root/etc/systemd/system/wdpkg-test.service" \
    "$root/etc/systemd/system/multi-user.target.wants/wdpkg-test.service"
rmdir "$root/etc/systemd/system/multi-user.target.wants" 2>/dev/null || :
cat "$root/root/wdpkg/inside.log" 2>/dev/null | sed -e 's/^/  | /'
result=$(cat "$root/root/wdpkg/result" 2>/dev/null || echo "no result (nspawn exit $nrc; $work/boot.log)")
[ "$result" = ok ] || { tail -n 30 "$work/boot.log" >&2; die "in the container: $result"; }
say "in the container: the packaged units ran, warrantctl was answered, warrant-audit verified"

# --- 6. purge, and compare -------------------------------------------------
chroot_mounts
say "apt-get purge --autoremove"
in_root apt-get purge -y -q --autoremove warrantd warrantd-tools warrant-backend \
    >"$work/purge.log" 2>&1 ||
    { tail -n 20 "$work/purge.log" >&2; die "apt-get purge"; }
umount_all
snapshot >"$work/after.list"
# Kept on purpose: the state directories (the journal is evidence, the back
# end's database is data), and so the warrantd user and group that own them.
left=$(comm -13 "$work/before.list" "$work/after.list" |
    grep -v -e '^\./var/lib/warrantd\(/\|$\)' -e '^\./var/lib/warrant-backend\(/\|$\)' || :)
gone=$(comm -23 "$work/before.list" "$work/after.list" || :)
[ -z "$left" ] || die "left after the purge:
$left"
[ -z "$gone" ] || die "removed from the base system by install and purge:
$gone"
[ -d "$root/var/lib/warrantd/journal" ] || die "the journal was not kept after the purge"
in_root getent passwd warrantd >/dev/null || die "the warrantd user, owner of the kept journal, was removed"
say "purged: nothing left but /var/lib/warrantd and /var/lib/warrant-backend (and the warrantd user owning them)"
# The tree stays in WORKDIR/root until the next run (removing 240 MB takes
# longer than the rest of this step on a busy machine).
say "PASS in $(( $(date +%s) - t0 )) s"
