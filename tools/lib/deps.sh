# Debian bookworm packages the project needs, installed only when missing.
# Sourced by tools/up, tools/test and tools/bench.

BUILD_PACKAGES="build-essential cmake pkg-config ccache git ca-certificates curl openssl procps
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libboost1.74-dev libboost-system1.74-dev libpqxx-dev libhiredis-dev libargon2-dev
  nlohmann-json3-dev prometheus-cpp-dev nettle-dev libgmp-dev libssl-dev libidn2-dev libcrypt-dev
  zlib1g-dev libbrotli-dev libvips-dev
  libgtest-dev libgmock-dev libbenchmark-dev postgresql-15 postgresql-client-15 redis-server"
TEST_PACKAGES="clang libclang-rt-14-dev
  prometheus jsonnet unzip"
# Node may come from elsewhere than Debian (its npm then conflicts with Debian's): only
# install Debian's when the command is missing.
TEST_COMMANDS="node:nodejs npm:npm"
BENCH_PACKAGES="wrk nginx-light"

# ensure_packages PKG...: apt-get installs the ones dpkg does not know as installed.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" != 0 ] && sudo="sudo"
  $sudo apt-get update -q >/dev/null || return 1
  # Installing postgresql/redis may try to start system daemons; we never use them.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
    { echo "apt-get install failed for: ${missing[*]}" >&2; return 1; }
}

# npm trusts Node's bundled CAs only; trust the system store too, so that npm works
# wherever the machine's own certificates (or a provider's proxy CA) are installed.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi

# ensure_commands CMD:PKG...: installs PKG when CMD is not on PATH.
ensure_commands() {
  local pkgs=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || pkgs+=("${pair#*:}")
  done
  [ ${#pkgs[@]} -eq 0 ] || ensure_packages "${pkgs[@]}"
}

# build_tree DIR [cmake args]: configures (Release, ccache when present) and builds everything.
build_tree() {
  local dir=$1; shift
  mkdir -p "$dir"
  cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >"$dir/cmake.log" 2>&1 ||
    { cat "$dir/cmake.log" >&2; return 1; }
  echo "== building in $dir (log: $dir/build.log)" >&2
  cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" >"$dir/build.log" 2>&1 ||
    { grep -E "error|Error" "$dir/build.log" | head -40 >&2; return 1; }
}
