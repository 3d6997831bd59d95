#!/bin/sh
# Build a local debian:bookworm-slim base image for podman from Debian's
# packages, for machines that reach Debian's archive but no image registry
# (CI, the development machines). `FROM debian:bookworm-slim` in
# docker/Dockerfile then resolves to it, so the Dockerfile stays exactly what
# users build against the real registry.
#
#   scripts/podman-base.sh [--force]     (as root; about a minute)
#
# debootstrap --variant=minbase, then trimmed the way the official -slim
# images are (debuerreotype's "slimify"): no apt lists or .deb cache, no docs
# (copyright files kept), man pages, info or translations, and dpkg/apt
# configured so later `apt-get install`s in the image stay trimmed too.
# Without the trimming the base alone is ~200 MB instead of ~80 MB, and image
# sizes measured here would say nothing about the real thing.
# Installs podman, runc and debootstrap when missing.
set -eu

IMAGE=localhost/debian:bookworm
TAG=docker.io/library/debian:bookworm-slim
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
P="podman --runtime runc --cgroup-manager=cgroupfs"

if [ "${1:-}" != "--force" ] && command -v podman >/dev/null 2>&1 &&
	$P image exists "$TAG" 2>/dev/null; then
	echo "podman-base: $TAG already present (--force rebuilds it)"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "podman-base: must run as root (debootstrap, podman import)" >&2
	exit 1
fi

missing=""
for p in podman runc debootstrap; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "podman-base: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq $missing >/dev/null
fi

ROOTFS=$(mktemp -d /var/tmp/pgcoalesce-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
echo "podman-base: debootstrap bookworm (minbase) into $ROOTFS"
debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 ||
	{ tail -20 "$ROOTFS.log" >&2; rm -f "$ROOTFS.log"; exit 1; }
rm -f "$ROOTFS.log"

# The official image's apt sources (deb822) and its container-friendly apt/dpkg settings.
rm -f "$ROOTFS/etc/apt/sources.list"
cat >"$ROOTFS/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR}-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
echo 'Acquire::GzipIndexes "true";' >"$ROOTFS/etc/apt/apt.conf.d/docker-gzip-indexes"

# Trim what is already installed the same way.
find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
rm -rf "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/groff/* \
	"$ROOTFS"/usr/share/lintian/* "$ROOTFS"/var/cache/apt/archives/*.deb \
	"$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/*.log \
	"$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/lib/dpkg/*-old
mkdir -p "$ROOTFS/var/lib/apt/lists/partial"

tar -C "$ROOTFS" -c . | $P import -q --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
$P tag "$IMAGE" "$TAG"
echo "podman-base: $TAG ready ($($P image inspect --format '{{.Size}}' "$TAG") bytes)"
