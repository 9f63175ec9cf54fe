#!/usr/bin/env bash
# Every benchmark at 10k, 100k and 1M fractures; figures in bench/out/*.json.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/registry_bench \
#   REDIS_URL=redis://127.0.0.1:6379/14 bash bench/run_all.sh [SIZES...]
#
# Each size regenerates the database (seed 1), so the run ends with the 1M
# registry loaded. At 1M the selector's whole-registry rates take minutes per
# call on a 2-core machine, so fewer repetitions are made there (RUNS_1M).
# About 35 minutes in all on 2 cores (measured under load); the 1M generation
# alone takes 2.5-7 min.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${DATABASE_URL:=postgres://postgres@127.0.0.1:5432/registry_bench}"
: "${REDIS_URL:=redis://127.0.0.1:6379/14}"
: "${PYTHON:=.venv/bin/python}"
: "${RUNS:=7}"
: "${RUNS_1M:=2}"
export DATABASE_URL REDIS_URL

sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(10000 100000 1000000)
mkdir -p bench/out

for n in "${sizes[@]}"; do
  runs=$RUNS; export_runs=3
  if [ "$n" -ge 1000000 ]; then runs=$RUNS_1M; export_runs=1; fi
  echo "=== $n fractures ($(date -u +%H:%M:%S))"
  "$PYTHON" bench/generate.py --fractures "$n" --seed 1 | tee "bench/out/generate_$n.log" | grep -v '^{'
  tail -n 1 "bench/out/generate_$n.log" > "bench/out/generate_$n.json"
  "$PYTHON" bench/bench_rates.py --runs "$runs"
  "$PYTHON" bench/bench_export.py --runs "$export_runs"
  "$PYTHON" bench/bench_record.py --writes 50
  "$PYTHON" bench/bench_live.py --writes 9
done
"$PYTHON" bench/summarize.py
