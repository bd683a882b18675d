#!/usr/bin/env bash
# Installs every Debian 12 package attnscope needs to build, run and test. Idempotent: with everything
# present it only checks and exits. Needs root (or sudo) when something is missing.
set -euo pipefail

packages=(
  # toolchain
  cmake ninja-build g++ pkg-config git
  # core: LibTorch (CPU), a fast BLAS and allocator (tcmalloc) for it, HDF5 and a hash, JSON, CLI parsing
  libtorch-dev libopenblas0-openmp libgoogle-perftools-dev libhdf5-dev hdf5-tools libxxhash-dev
  nlohmann-json3-dev libcli11-dev
  # tokenizers: Unicode regexes (PCRE2) and normalization (ICU)
  libpcre2-dev libicu-dev
  # GUI
  qt6-base-dev qt6-svg-dev libqcustomplot-dev libqcustomplot2.1-qt6
  # tests: GoogleTest and the independent Python reference (Debian's python3-torch, h5py)
  libgtest-dev libgmock-dev python3 python3-torch python3-numpy python3-h5py
  # real English text (tokenizer benchmark, training text)
  fortunes
  # sanitized builds and fuzzers (scripts/test.sh --sanitize [--clang], scripts/fuzz.sh): clang 14, its ASan/UBSan
  # and libFuzzer runtimes, llvm-symbolizer for readable stacks (gcc's runtimes come with g++)
  clang-14 libclang-rt-14-dev llvm-14
  # the formatting check (scripts/format.sh --check, run by CI)
  clang-format-14
  # the Slurm test (tests/slurm): a single-node cluster on localhost, whose daemons the test starts and stops itself
  slurmctld slurmd slurm-client munge
)
# Tokenizer tests compare with JavaScript tokenizers from npm. A nodejs that bundles npm may already be installed;
# Debian's separate "npm" package conflicts with it, so only ask for both when either is missing.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
