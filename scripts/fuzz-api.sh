#!/usr/bin/env bash
# Fuzzes the HTTP API with Schemathesis (PyPI) against its own OpenAPI description: starts the API
# from the sources with an admin key in a fresh DATA_DIR, seeds a knowledge base with documents,
# runs `schemathesis run` with .ci/schemathesis.toml, and fails on any 5xx or any answer that breaks
# the description. Needs `schemathesis` on PATH (pip install schemathesis; CI installs it).
# Extra arguments go to `schemathesis run` (e.g. --max-examples 10).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v schemathesis >/dev/null || { echo "fuzz-api: schemathesis is not installed (pip install schemathesis)" >&2; exit 1; }

work=$(mktemp -d)
key="fuzz-admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
ADMIN_API_KEY=$key PORT=0 DATA_DIR="$work/data" RATE_LIMIT_PER_MINUTE=0 LOG_LEVEL=info \
  node --import tsx apps/api/src/main.ts >"$work/api.log" 2>&1 &
api=$!
trap 'kill "$api" 2>/dev/null; wait "$api" 2>/dev/null; rm -rf "$work"' EXIT
port=""
for _ in $(seq 1 600); do
  port=$(grep -o '"port":[0-9]*' "$work/api.log" | head -1 | cut -d: -f2 || true)
  [[ -n $port ]] && break
  kill -0 "$api" 2>/dev/null || { cat "$work/api.log" >&2; echo "fuzz-api: the API exited before listening" >&2; exit 1; }
  sleep 0.1
done
[[ -n $port ]] || { cat "$work/api.log" >&2; echo "fuzz-api: the API did not listen within 60 s" >&2; exit 1; }
url="http://127.0.0.1:$port"
auth="Authorization: Bearer $key"
field() { node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>{const v=eval("JSON.parse(s)"+process.argv[1]);if(v===undefined)process.exit(1);console.log(v)})' "$1"; }
knowledge_base() { curl -sf -H "$auth" -H 'content-type: application/json' -d "{\"name\":\"$1\"}" "$url/v1/knowledge-bases" | field .id; }
document() { printf '%s' "$2" >"$work/$3"; curl -sf -H "$auth" -F "files=@$work/$3;type=text/plain" "$url/v1/knowledge-bases/$1/documents" | field '.data[0].id'; }

kb=$(knowledge_base fuzzed)
export PASSAGE_FUZZ_KEY=$key PASSAGE_FUZZ_KB=$kb
PASSAGE_FUZZ_DOCUMENT=$(document "$kb" 'The harbour light burned olive oil at night, and the keeper logged every ship.' light.txt)
PASSAGE_FUZZ_DELETABLE_DOCUMENT=$(document "$kb" 'A second document, there to be deleted.' second.txt)
PASSAGE_FUZZ_DELETABLE_KB=$(knowledge_base deletable)
export PASSAGE_FUZZ_DOCUMENT PASSAGE_FUZZ_DELETABLE_DOCUMENT PASSAGE_FUZZ_DELETABLE_KB

status=0
schemathesis --config-file .ci/schemathesis.toml run "$url/openapi.json" --no-color "$@" || status=$?
if grep -q '"level":50' "$work/api.log"; then
  echo "fuzz-api: the API logged errors during the run:" >&2
  grep '"level":50' "$work/api.log" | head -20 >&2
  exit 1
fi
exit $status
