#!/usr/bin/env bash
# Installs every Debian package Berth needs to build, test and benchmark. Idempotent: only
# missing packages are installed, so a prepared machine pays one dpkg query.
set -euo pipefail
PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates
  libcpprest-dev libboost1.74-dev libssl-dev openssl zlib1g-dev librocksdb-dev libabsl-dev libyaml-cpp-dev rapidjson-dev libjemalloc-dev
  libgtest-dev libgmock-dev googletest
  clang libclang-rt-14-dev
  python3 python3-yaml python3-kubernetes python3-websocket
  kubernetes-client
  etcd-server etcd-client nginx-light wrk
  libarchive-dev docker-registry busybox-static apache2-utils skopeo libseccomp-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler python3-grpcio
  libnl-3-dev libnl-route-3-dev libnftables-dev nftables iproute2 bind9-dnsutils iputils-ping dnsmasq-base
)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# kubectl may come from another package (the gcloud build): do not reinstall it then.
if command -v kubectl >/dev/null 2>&1; then
  missing=("${missing[@]/kubernetes-client}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
