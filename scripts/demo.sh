#!/usr/bin/env bash
# `make demo`: the KSeF simulator, the portal with a seeded demo office and a Celery worker,
# all on loopback. Ctrl+C stops everything this script started.
# Ports: PORTAL_PORT (default 8000), KSEF_SIMULATOR_PORT (default 8765).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
PORTAL_PORT="${PORTAL_PORT:-8000}"
KSEF_SIMULATOR_PORT="${KSEF_SIMULATOR_PORT:-8765}"
SIMULATOR_URL="http://127.0.0.1:${KSEF_SIMULATOR_PORT}"
export DEBUG=true
export DJANGO_SETTINGS_MODULE=portal.settings
export KSEF_BASE_URL="${SIMULATOR_URL}/v2"
export PORTAL_BASE_URL="http://127.0.0.1:${PORTAL_PORT}"

mkdir -p var/celery/processed var/celery/control var/mail

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# The simulator first: seed_demo registers the demo clients in it. Its state is kept in
# var/ksef_simulator.state, so credentials, grants and invoices survive a restart.
"$BIN/python" -m ksef_simulator --host 127.0.0.1 --port "$KSEF_SIMULATOR_PORT" \
  --state var/ksef_simulator.state --profile fast >var/ksef_simulator.log 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
  if curl -sf -o /dev/null -X POST "${SIMULATOR_URL}/v2/auth/challenge"; then
    break
  fi
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "The KSeF simulator exited at start-up; see var/ksef_simulator.log:" >&2
    tail -n 20 var/ksef_simulator.log >&2
    exit 1
  fi
  sleep 0.2
done
if ! curl -sf -o /dev/null -X POST "${SIMULATOR_URL}/v2/auth/challenge"; then
  echo "The KSeF simulator did not answer at ${SIMULATOR_URL} within 10 s" \
    "(port ${KSEF_SIMULATOR_PORT} taken? set KSEF_SIMULATOR_PORT); see var/ksef_simulator.log." >&2
  exit 1
fi
echo "KSeF simulator: ${SIMULATOR_URL}/v2 (log: var/ksef_simulator.log)"

"$BIN/python" manage.py migrate --noinput
# The compiled translations are committed; recompile only when gettext is installed.
if command -v msgfmt >/dev/null; then
  "$BIN/python" manage.py compilemessages --ignore=.venv --ignore=var >/dev/null
fi
"$BIN/python" manage.py seed_demo

"$BIN/celery" -A portal worker -B --loglevel=info --concurrency=2 >var/celery.log 2>&1 &
pids+=($!)
echo "Celery worker with beat running (log: var/celery.log)"

# The logins are printed once, by seed_demo above (one list, one format).
cat <<INFO

  Portal:  http://127.0.0.1:${PORTAL_PORT} (logins: see the list printed by seed_demo above)
  E-mails are written to var/mail/. KSeF simulator: ${SIMULATOR_URL}/v2

INFO
"$BIN/python" manage.py runserver "127.0.0.1:${PORTAL_PORT}"
