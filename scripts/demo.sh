#!/usr/bin/env bash
# make demo: migrate the embedded SQLite database, load the demo city, serve it with a task worker.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
export YIYANG_DEMO=1 YIYANG_HTTPS=0 DEBUG=0 ALLOWED_HOSTS=127.0.0.1,localhost
unset DATABASE_URL  # the demo always uses the embedded database under var/
PY=.venv/bin/python
if [ -z "${YIYANG_SKIP_BUILD:-}" ]; then
  $PY manage.py migrate --no-input -v0
  $PY manage.py collectstatic --no-input -v0
  $PY manage.py demo_city ${DEMO_ARGS:-}
fi
$PY manage.py db_worker --queue-name '*' > var/worker.log 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT INT TERM
echo
echo "Serving Yiyang on http://127.0.0.1:8000  (Ctrl-C stops it; task worker log: var/worker.log)"
echo "Demo logins (password demo12345): bureau street community assessor (assessor2, assessor3) provider caregiver family visitor operator"
echo
.venv/bin/gunicorn yiyang.wsgi:application --bind 127.0.0.1:8000 --workers 2 --threads 4 \
  --access-logfile - --error-logfile - --log-level warning
