#!/usr/bin/env bash
# Reruns ship's benchmarks (see BENCHMARKS.md). Full mode takes long on 2 cores; CI runs --quick.
#   bench/run.sh [--quick] [--json FILE] [--wait-load 1.5] [--help for the rest]
set -euo pipefail
exec python3 "$(dirname "$0")/bench.py" "$@"
