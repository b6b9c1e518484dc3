#!/bin/sh
# Builds a test image without any registry: a root filesystem holding static busybox and app.sh, imported with
# `docker import`. Usage: build.sh NAME:TAG [ENV=VALUE ...]  (each ENV=VALUE is baked in as an image ENV, which
# also makes images of different tags distinct). Needs busybox-static (`apt-get install busybox-static`).
set -eu
[ $# -ge 1 ] || { echo "usage: $0 NAME:TAG [ENV=VALUE ...]" >&2; exit 2; }
ref=$1; shift
busybox=$(command -v busybox) || { echo "busybox not found: apt-get install busybox-static" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/data" "$root/etc"
chmod 755 "$root"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in sh httpd sleep date id mkdir echo cat wget; do ln -s busybox "$root/bin/$applet"; done
cp "$here/app.sh" "$root/bin/app.sh"
chmod 755 "$root/bin/app.sh"
echo "bot:x:1001:1001::/data:/bin/sh" > "$root/etc/passwd"
changes=$(mktemp)
for env in "$@"; do printf '%s\n' "$env" >> "$changes"; done
set -- --change 'ENV PATH=/bin' --change 'CMD ["/bin/app.sh"]'
while IFS= read -r env; do set -- "$@" --change "ENV $env"; done < "$changes"
rm -f "$changes"
tar -C "$root" -c . | docker import "$@" - "$ref" >/dev/null
