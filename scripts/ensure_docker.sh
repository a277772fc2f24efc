#!/usr/bin/env bash
# Make Docker sandboxes usable, once: a reachable engine and the mtenvs images.
#  - engine reachable: nothing to install;
#  - else, as root: install docker.io and debootstrap (apt) if missing, start dockerd in
#    the background (log: /var/log/mtenvs-dockerd.log), wait for its socket;
#  - then build the images (`mtenvs images build`: mtenvs/python and mtenvs/postgres, the
#    latter the server of the Sql envs' postgres_backend="docker"; a no-op of a few seconds
#    when they exist; offline, the first postgres build runs apt inside `docker build` from
#    the debootstrap base, about 100 s).
# Never fails the caller: without root, or when anything above fails, it says that the
# sandboxes will use the local fallback (weaker isolation) and exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
LOG="${MTENVS_DOCKERD_LOG:-/var/log/mtenvs-dockerd.log}"

fallback() {
  echo "ensure_docker: $1" >&2
  echo "ensure_docker: sandboxes will use the local fallback (weaker isolation; see docs/sandbox.md)." >&2
  exit 0
}

engine_up() { command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; }

if ! engine_up; then
  [[ $(id -u) -eq 0 ]] || fallback "no Docker engine reachable and not root (start one: 'sudo dockerd &' or 'sudo scripts/ensure_docker.sh')."
  missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if ((${#missing[@]})); then
    command -v apt-get >/dev/null || fallback "cannot install ${missing[*]}: no apt-get."
    echo "ensure_docker: installing ${missing[*]} ..."
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
      >/tmp/mtenvs-apt.log 2>&1 || fallback "apt-get install ${missing[*]} failed (see /tmp/mtenvs-apt.log)."
  fi
  if ! pgrep -x dockerd >/dev/null; then
    echo "ensure_docker: starting dockerd (log: $LOG) ..."
    mkdir -p "$(dirname "$LOG")"
    nohup dockerd >"$LOG" 2>&1 </dev/null &
  fi
  for _ in $(seq 1 60); do
    [[ -S /var/run/docker.sock ]] && engine_up && break
    sleep 0.5
  done
  engine_up || fallback "dockerd did not come up within 30 s (see $LOG)."
fi

# Offline base needs debootstrap; install it now if we can (a no-op when present).
if ! command -v debootstrap >/dev/null && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } >/tmp/mtenvs-apt.log 2>&1 || true
fi

"$PY" -m mtenvs.sandbox.cli images build || fallback "building the sandbox images failed (run '$PY -m mtenvs.sandbox.cli images build' to see why)."
