#!/usr/bin/env bash
# make bench: run every benchmark (bench/*.py: routing, import_elders, roll, orders, api_list, visits, alarms); each prints its
# figure and the ratio against its baseline.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
shopt -s nullglob
for b in bench/*.py; do
  echo "== $b"
  .venv/bin/python "$b" || echo "!! $b exited with $?"
done
