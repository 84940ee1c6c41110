#!/usr/bin/env bash
# Runs the peers (lm-eval, Inspect AI, promptfoo, DeepEval) on the same mock endpoint and prompts
# as bench/mock_runner.py, in the same sitting. Needs ../shared/bench-peers/setup.sh first
# (venvs and npm packages in $PEERS_HOME, default /tmp/peers; nothing of theirs is in this repo).
#   bash bench/peers.sh [RUNS]       -> appends to $PEERS_HOME/results.csv, prints it
set -eu
B=${PEERS_HOME:-/tmp/peers}
RUNS=${1:-3}
[ -x "$B/venvs/mock/bin/python" ] || { echo "run ../shared/bench-peers/setup.sh first"; exit 2; }
start_mock() {  # PORT [extra args]
  "$B/venvs/mock/bin/python" "$B/mock_server.py" --port "$1" --delay 0.05 "${@:2}" >/dev/null 2>&1 &
  echo $! > "$B/mock_$1.pid"
  for _ in $(seq 50); do curl -sf "127.0.0.1:$1/stats" >/dev/null && return; sleep 0.1; done
}
stop_mock() { kill "$(cat "$B/mock_$1.pid")" 2>/dev/null || true; }

start_mock 8765
for tool in lmeval inspect promptfoo deepeval; do
  for _ in $(seq "$RUNS"); do
    bash "$B/run_one.sh" "$tool" 1 1 startup 8765 >/dev/null
    bash "$B/run_one.sh" "$tool" 500 4 base 8765 >/dev/null
  done
done
stop_mock 8765

start_mock 8766 --fail-rate 0.1 --fail-code 500
for tool in lmeval inspect promptfoo deepeval; do
  RUN_TIMEOUT=300 bash "$B/run_one.sh" "$tool" 500 4 fault500 8766 >/dev/null || true
done
stop_mock 8766
start_mock 8767 --fail-rate 0.1 --fail-code 429
for tool in lmeval inspect deepeval; do  # promptfoo waits 60 s per 429 without Retry-After
  RUN_TIMEOUT=300 bash "$B/run_one.sh" "$tool" 500 4 fault429 8767 >/dev/null || true
done
stop_mock 8767
cat "$B/results.csv"
