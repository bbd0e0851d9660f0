#!/usr/bin/env bash
# Starts a Docker engine for the container tests when none answers, the way this project's machines
# allow it: no bridge, no iptables, no masquerading; containers then run with `--network host`, so
# nothing leaves loopback. Idempotent: exits 0 at once when `docker info` already answers.
# Exits 1, saying why, when there is no dockerd to start or it does not come up.
set -euo pipefail

if docker info >/dev/null 2>&1; then exit 0; fi
if ! command -v dockerd >/dev/null; then
  echo "docker-up: no dockerd on PATH (apt-get install docker.io)" >&2
  exit 1
fi
log=${HPO_CACHE_DIR:-$HOME/.cache/hpo-operator}/dockerd.log
mkdir -p "$(dirname "$log")"
# setsid: the engine outlives this script and the make target that started it.
setsid dockerd --bridge=none --iptables=false --ip-masq=false >"$log" 2>&1 </dev/null &
for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then exit 0; fi
  sleep 0.5
done
echo "docker-up: dockerd did not answer within 60 s; the end of $log:" >&2
tail -n 20 "$log" >&2
exit 1
