#!/usr/bin/env bash
# The main job, end to end, until `harden build` lands: package a tree into a reproducible
# image in a local OCI layout, inspect it, and have skopeo and umoci read it back.
set -euo pipefail
cd "$(dirname "$0")/.."
harden=".build/release/harden"
out="${DEMO_DIR:-out/demo}"
rm -rf "$out"
mkdir -p "$out/rootfs/etc" "$out/rootfs/usr/bin" "$out/rootfs/tmp"
printf 'ID=debian\nVERSION_ID="12"\n' > "$out/rootfs/etc/os-release"
printf 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$out/rootfs/etc/passwd"
cp "$harden" "$out/rootfs/usr/bin/harden"
chmod 1777 "$out/rootfs/tmp"

echo "== harden pack (twice: the digest must not change)"
SOURCE_DATE_EPOCH=1700000000 "$harden" pack "$out/rootfs" --output "oci:$out/layout:demo" \
  --user 65532 --entrypoint /usr/bin/harden --cmd=--help | tee "$out/first.txt"
touch "$out/rootfs/etc/passwd"
SOURCE_DATE_EPOCH=1700000000 "$harden" pack "$out/rootfs" --output "oci:$out/layout:demo" \
  --user 65532 --entrypoint /usr/bin/harden --cmd=--help | tee "$out/second.txt"
cmp "$out/first.txt" "$out/second.txt" && echo "reproducible: same digest"

echo "== harden inspect"
"$harden" inspect "oci:$out/layout:demo"

echo "== harden copy to oci-archive and docker-archive"
"$harden" copy "oci:$out/layout:demo" "oci-archive:$out/demo.oci.tar:demo"
"$harden" copy "oci:$out/layout:demo" "docker-archive:$out/demo.docker.tar:harden/demo:latest"

echo "== skopeo and umoci read what we wrote"
skopeo inspect "oci:$out/layout:demo" | head -12
skopeo inspect "docker-archive:$out/demo.docker.tar" >/dev/null && echo "skopeo reads the docker-archive"
umoci unpack --rootless --image "$out/layout:demo" "$out/bundle" >/dev/null && echo "umoci unpacked: $(ls "$out/bundle/rootfs" | tr '\n' ' ')"
