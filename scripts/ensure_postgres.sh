#!/usr/bin/env bash
# Install Debian's PostgreSQL server once (the Sql envs' dialect="postgres" starts a private
# server from it with pg_ctl on a unix socket). Never fails the caller: without root or apt
# the PostgreSQL tests skip and say why.
set -uo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || command -v pg_ctl >/dev/null; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "ensure_postgres: PostgreSQL not installed and cannot install it (need root + apt); postgres tests will skip." >&2
  exit 0
fi
echo "ensure_postgres: installing postgresql (Debian) ..."
{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } \
  >/tmp/mtenvs-apt-postgres.log 2>&1 || echo "ensure_postgres: install failed (see /tmp/mtenvs-apt-postgres.log)." >&2
exit 0
