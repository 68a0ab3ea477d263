#!/usr/bin/env bash
# Start a local PostgreSQL and create the test database; prints the URL for CLAIMWATCH_TEST_PG_URL.
# Used by .ci/run (and by developers who want the PostgreSQL tests locally). Loopback only.
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
ver=$(pg_lsclusters -h | awk 'NR==1{print $1}')
if [ -z "$ver" ]; then
  ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
  pg_createcluster "$ver" main >/dev/null
fi
pg_ctlcluster "$ver" main start >/dev/null 2>&1 || true
port=$(pg_lsclusters -h | awk 'NR==1{print $3}')
su postgres -c "psql -q -p $port -tc \"SELECT 1 FROM pg_roles WHERE rolname='claimwatch'\" | grep -q 1 || psql -q -p $port -c \"CREATE ROLE claimwatch LOGIN PASSWORD 'claimwatch'\"" >/dev/null
su postgres -c "psql -q -p $port -c 'DROP DATABASE IF EXISTS claimwatch_test' && psql -q -p $port -c 'CREATE DATABASE claimwatch_test OWNER claimwatch'" >/dev/null 2>&1
echo "postgresql+psycopg://claimwatch:claimwatch@127.0.0.1:$port/claimwatch_test"
