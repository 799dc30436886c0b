#!/usr/bin/env bash
# The main job, end to end: build a real hardened image (and its -dev variant) from Debian 12
# packages into a local OCI store, run its tests under runc, and have skopeo read the result.
set -euo pipefail
cd "$(dirname "$0")/.."
harden=".build/release/harden"
spec="${DEMO_SPEC:-catalog/python.yaml}"
name=$(basename "$spec" .yaml)
export HARDEN_STORE="${HARDEN_STORE:-$PWD/out/store}"
# A demo signing key: its passphrase is HARDEN_PASSWORD if set, else a fixed demo one (never use
# that key for anything real; 'harden keygen' asks for a passphrase when HARDEN_PASSWORD is unset).
export HARDEN_PASSWORD="${HARDEN_PASSWORD-demo only, not secret}"
key="out/keys/demo"

echo "== harden lock $spec (verify the signed mirror, resolve, pin every .deb)"
"$harden" lock "$spec"

echo "== harden keygen (ECDSA P-256, encrypted private key, PEM public key)"
mkdir -p out/keys
[ -f "$key.key" ] || "$harden" keygen --output-prefix "$key"

# Vulnerability data: the tracker's live feed when it can be reached, else the real records of
# ../shared/vulndata (a sample: 84 bookworm CVEs of 31 source packages, from several dates).
db="out/vulnerabilities.db"
sample="../shared/vulndata/debian-tracker/bookworm-sample.json"
echo "== harden db update (Debian Security Tracker feed; conditional GET)"
if ! "$harden" db update --db "$db" 2>/dev/null; then
  if [ -f "$sample" ]; then
    echo "   the tracker is out of reach: importing the bookworm sample instead"
    "$harden" db import "$sample" --db "$db"
  fi
fi
[ -f "$db" ] && "$harden" db status --db "$db"

echo "== harden build $spec --key (build steps isolated from the key; signed, with SLSA provenance, SBOM and VEX attestations)"
"$harden" build "$spec" --key "$key.key" --db "$db"

echo "== harden verify (signatures, attestations, non-root, no shell)"
"$harden" verify "$name:latest" --key "$key.pub" --require provenance,spdx,cyclonedx --non-root --no-shell

if [ -f "$db" ]; then
  echo "== harden scan (findings after the image's signed VEX, worst first)"
  "$harden" scan "$name:latest" --db "$db" --key "$key.pub" | tail -12
fi

echo "== harden baseline + audit + diff (the conventional image it replaces, measured)"
"$harden" baseline "$spec" 2>/dev/null | head -1
"$harden" audit "$name:latest" --key "$key.pub" --db "$db" | grep -E "^  (PASS|WARN|FAIL)|^grade"
"$harden" audit "$name:latest-baseline" --db "$db" | grep -E "^grade"
"$harden" diff "$name:latest-baseline" "$name:latest" --db "$db" | head -12

echo "== harden build again: the same lock gives the same digests"
first=$("$harden" inspect "$name:latest" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
rm -rf out/rebuild
"$harden" build "$spec" --output oci:out/rebuild 2>/dev/null | head -1
second=$("$harden" inspect oci:out/rebuild:latest --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
[ "$first" = "$second" ] && echo "reproducible: $first"

echo "== harden test (runc, minimal as uid 65532, dev as root)"
"$harden" test "$name:latest" --spec "$spec"
"$harden" test "$name:latest-dev" --spec "$spec"

echo "== harden images"
"$harden" images

echo "== harden store verify (every blob hashed, every tag a complete image)"
"$harden" store verify

echo "== skopeo reads the store"
skopeo inspect --raw "oci:$HARDEN_STORE:$name:latest" | python3 -c "import json,sys; print(\"\\n\".join(json.dumps(json.load(sys.stdin), indent=2).splitlines()[:24]))"
