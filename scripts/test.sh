#!/usr/bin/env bash
# make test: the whole suite on SQLite, then on PostgreSQL when a server answers. Says which it ran.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_ALLOW_ASYNC_UNSAFE=true  # Playwright's sync API runs an event loop in the test thread
WORKERS=${YIYANG_TEST_WORKERS:-2}
DATABASES_TO_RUN=${YIYANG_TEST_DATABASES:-sqlite postgres}
PG_URL=${YIYANG_TEST_PG_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}}

# Browser tests need Debian's chromium and CJK fonts. Install them when missing and we are allowed to.
if [ ! -x /usr/bin/chromium ] || ! (fc-list 2>/dev/null || true) | grep -i "Noto Sans CJK" >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing chromium and fonts-noto-cjk from Debian"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) >/dev/null
  else
    echo "!! /usr/bin/chromium or the CJK fonts are missing: browser tests will be skipped (apt-get install chromium fonts-noto-cjk)"
  fi
fi

pg_up() {
  $PY - "$PG_URL" <<'PY' 2>/dev/null
import sys, psycopg
psycopg.connect(sys.argv[1].replace("postgres://", "postgresql://"), connect_timeout=3).close()
PY
}

status=0
ran=()
for db in $DATABASES_TO_RUN; do
  if [ "$db" = postgres ]; then
    if ! pg_up; then echo "== PostgreSQL at $PG_URL does not answer: skipping the PostgreSQL run"; continue; fi
    export DATABASE_URL="$PG_URL"
  else
    unset DATABASE_URL
  fi
  echo "== $db: unit and integration tests"
  start=$(date +%s)
  $PY -m pytest -q -n "$WORKERS" -m "not browser and not flushes" -p no:cacheprovider; rc=$?
  [ $rc -ne 0 ] && status=1
  # Transactional tests empty the database when they end (regions included), so they run on their own.
  echo "== $db: browser tests (Playwright, /usr/bin/chromium) and other transactional tests"
  $PY -m pytest -q -m "browser or flushes" -p no:cacheprovider; rc2=$?
  # exit 5 = nothing collected (no browser tests yet); anything else non-zero fails.
  [ $rc2 -ne 0 ] && [ $rc2 -ne 5 ] && status=1
  ran+=("$db ($(( $(date +%s) - start )) s, exit $rc/$rc2)")
done
echo "== ran on: ${ran[*]:-nothing}"
[ ${#ran[@]} -eq 0 ] && status=1
exit $status
