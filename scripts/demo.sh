#!/usr/bin/env bash
# `make demo`: the portal with a seeded demo office, the KSeF simulator and a Celery worker,
# all on loopback. Ctrl+C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
export DEBUG=true
export DJANGO_SETTINGS_MODULE=portal.settings

mkdir -p var/celery/processed var/mail

"$BIN/python" manage.py migrate --noinput
# The compiled translations are committed; recompile only when gettext is installed.
if command -v msgfmt >/dev/null; then
  "$BIN/python" manage.py compilemessages --ignore=.venv --ignore=var >/dev/null
fi
"$BIN/python" manage.py seed_demo

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if "$BIN/python" -c 'import ksef_simulator.__main__' 2>/dev/null; then
  "$BIN/python" -m ksef_simulator --host 127.0.0.1 --port 8765 --profile fast \
    >var/ksef_simulator.log 2>&1 &
  pids+=($!)
  echo "KSeF simulator: http://127.0.0.1:8765 (log: var/ksef_simulator.log)"
else
  echo "KSeF simulator not available yet (module ksef_simulator.__main__ missing); skipping."
fi

"$BIN/celery" -A portal worker -B --loglevel=info --concurrency=2 >var/celery.log 2>&1 &
pids+=($!)
echo "Celery worker with beat running (log: var/celery.log)"

cat <<INFO

  Portal:  http://127.0.0.1:8000
  Logins (password for all: Demo-KSeF-2026!):
    admin      administrator (also Django admin at http://127.0.0.1:8000/admin/)
    kierownik  manager
    ksiegowa   accountant
    ksiegowy   accountant
  E-mails are written to var/mail/.

INFO
"$BIN/python" manage.py runserver 127.0.0.1:8000
