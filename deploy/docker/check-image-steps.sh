#!/usr/bin/env bash
# Runs the Dockerfile's steps by hand, for machines with a docker CLI but no engine (as where certvault
# is developed): a temp copy of the build context (the .dockerignore allowlist), `npm ci`, build, then
# the runtime layout (/app: the bundled dist and package.json only, no node_modules, owned by root,
# not writable) started as uid 1000 with HOME unwritable and, when run as root with
# unshare(1), with the whole filesystem mounted read-only, like `docker run --read-only`.
#
#   deploy/docker/check-image-steps.sh                       # build steps + --version/--help
#   VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=... deploy/docker/check-image-steps.sh
#                                                             # also list --json, renew --json, doctor
# It uses the machine's node (the image uses node:20-alpine), so it checks the steps and the file
# layout, not the base image.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
work=$(mktemp -d /tmp/certvault-image-XXXXXX)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
ctx="$work/src" app="$work/app"
mkdir -p "$ctx" "$app"
chmod 755 "$work"   # mktemp makes it 0700; uid 1000 must reach /app

echo "== context (from .dockerignore's allowlist)"
sed -n 's/^!\(.*\)$/\1/p' .dockerignore | while read -r f; do cp -r --parents "${f%/}" "$ctx/"; done
ls "$ctx"

echo "== build stage"
(cd "$ctx" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null && npm run build >/dev/null \
  && node dist/cli/main.js --version)

echo "== runtime stage: /app = dist (bundled), package.json"
cp -r "$ctx/package.json" "$ctx/dist" "$app/"
chmod -R a-w "$app"
du -sh "$app/dist"
node=$(command -v node)
run() {
  local cmd=(env -i PATH=/usr/bin:/bin HOME=/nonexistent NODE_ENV=production
    ${VAULT_ADDR:+VAULT_ADDR=$VAULT_ADDR} ${VAULT_TOKEN:+VAULT_TOKEN=$VAULT_TOKEN}
    "$node" "$app/dist/cli/main.js" "$@")
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null && command -v setpriv >/dev/null; then
    # Private mount namespace: / and /tmp read-only, then drop to uid 1000 like the image's USER.
    unshare -m --propagation private sh -c 'mount -o remount,bind,ro / && mount --bind /tmp /tmp && mount -o remount,bind,ro /tmp && exec "$@"' sh \
      setpriv --reuid=1000 --regid=1000 --clear-groups "${cmd[@]}"
  else
    "${cmd[@]}"
  fi
}
cd /
run --version
run --help >/dev/null && echo "--help: ok"
if [ -n "${VAULT_ADDR:-}" ]; then
  for c in "list --json" "renew --json" "doctor"; do
    # shellcheck disable=SC2086
    out=$(run $c) && echo "$c: exit 0 ($(printf '%s' "$out" | wc -c) bytes on stdout)"
  done
fi
echo "== all steps passed"
