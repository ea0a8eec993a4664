#!/usr/bin/env bash
# Starts, stops and checks the local AWS emulator (moto in server mode) on 127.0.0.1.
#   scripts/emulator.sh start [PORT]   start it (default port 5000) and wait until healthy
#   scripts/emulator.sh stop           stop the one this script started
#   scripts/emulator.sh status         exit 0 when it answers, 1 otherwise
#   scripts/emulator.sh reset          wipe its state
# It only ever binds the loopback address. State: .stackpro/emulator.{pid,port,log}
# (or $STACKPRO_EMULATOR_STATE/).
set -euo pipefail
cd "$(dirname "$0")/.."
# STACKPRO_EMULATOR_STATE gives a script its own emulator beside others (benchmarks).
STATE=${STACKPRO_EMULATOR_STATE:-.stackpro}
mkdir -p "$STATE"
PIDFILE=$STATE/emulator.pid
PORTFILE=$STATE/emulator.port
LOG=$STATE/emulator.log
MOTO=.venv/bin/moto_server

port() { cat "$PORTFILE" 2>/dev/null || echo "${1:-5000}"; }
healthy() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/moto-api/" 2>/dev/null; }

case "${1:-}" in
  start)
    p=${2:-5000}
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && healthy "$(port)"; then
      echo "emulator: already running on http://127.0.0.1:$(port) (pid $(cat "$PIDFILE"))"
      exit 0
    fi
    if [ ! -x "$MOTO" ]; then
      echo "emulator: $MOTO not found; run scripts/setup.sh first" >&2
      exit 2
    fi
    if healthy "$p"; then
      echo "emulator: something already answers on 127.0.0.1:$p; stop it or pass another port" >&2
      exit 1
    fi
    nohup "$MOTO" -H 127.0.0.1 -p "$p" >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    echo "$p" >"$PORTFILE"
    for _ in $(seq 1 100); do
      if healthy "$p"; then
        echo "emulator: running on http://127.0.0.1:$p (pid $(cat "$PIDFILE"), log $LOG)"
        exit 0
      fi
      if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        echo "emulator: moto exited during start-up; last lines of $LOG:" >&2
        tail -n 20 "$LOG" >&2
        exit 1
      fi
      sleep 0.1
    done
    echo "emulator: no answer on 127.0.0.1:$p after 10 s; see $LOG" >&2
    exit 1
    ;;
  stop)
    if [ -f "$PIDFILE" ]; then
      kill "$(cat "$PIDFILE")" 2>/dev/null || true
      rm -f "$PIDFILE"
      echo "emulator: stopped"
    else
      echo "emulator: not started by this script"
    fi
    ;;
  status)
    if healthy "$(port)"; then echo "emulator: healthy on http://127.0.0.1:$(port)"; else echo "emulator: not answering on 127.0.0.1:$(port)"; exit 1; fi
    ;;
  reset)
    curl -fsS -X POST "http://127.0.0.1:$(port)/moto-api/reset" >/dev/null && echo "emulator: state wiped"
    ;;
  *)
    echo "usage: scripts/emulator.sh start [PORT] | stop | status | reset" >&2
    exit 2
    ;;
esac
