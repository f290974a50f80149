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
# Device alarms over MQTT (YIYANG_MQTT_URL, default mosquitto on 127.0.0.1:1883); without a broker it keeps
# retrying with a backoff and says so in its log.
PYTHONUNBUFFERED=1 $PY manage.py alarm_listener > var/alarm_listener.log 2>&1 &
LISTENER=$!
# The alarms' sweep beside the worker: escalations due (the worker fires them at their deadline; this catches any
# it missed), events stored but not processed, notifications to retry, and hourly the silent devices and homes.
$PY manage.py alarms_tick --loop --every 10 > var/alarms_tick.log 2>&1 &
TICK=$!
trap 'kill $WORKER $LISTENER $TICK 2>/dev/null || true' EXIT INT TERM
echo
echo "Serving Yiyang on http://127.0.0.1:8000  (Ctrl-C stops it; task worker log: var/worker.log, MQTT alarm listener log: var/alarm_listener.log)"
echo "Demo logins (password demo12345): bureau street community assessor (assessor2, assessor3) provider caregiver family visitor operator (接警台)"
echo "Simulated alarm devices: in another terminal, make simulate (or make simulate ARGS=--once for a single SOS)"
echo "  heartbeats, now and then an SOS or a fall, by webhook and MQTT; the operator login watches them arrive on 接警台"
echo
.venv/bin/gunicorn yiyang.wsgi:application --bind 127.0.0.1:8000 --workers 2 --threads 4 \
  --access-logfile - --error-logfile - --log-level warning
