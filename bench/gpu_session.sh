#!/usr/bin/env bash
# The GPU validation as ONE command on a lent device machine (docs/gpu.md):
#
#     bash bench/gpu_session.sh [BUDGET_S]          # BUDGET_S: whole seconds, default 480
#
# It needs, on that machine: jax with CUDA in $PYTHON (default python3; the device image's has
# jax with the CUDA plugin; there is no network there, so nothing can be installed), and
# CIFAR-10 as .carry/cifar10_jpeg.npz + .carry/make_cifar10.py in the working tree (copied
# from ../shared/data and carried, docs/gpu.md), or ../shared/data itself where it exists.
# Steps: check that jax sees an accelerator; write CIFAR-10 in the official layout to $DATA;
# run `lottery bench gpu --full --budget-s BUDGET_S` into $WORK under a timeout that keeps
# the whole script within $SESSION_LIMIT seconds; after a timeout, rewrite the report from
# the phases that finished (a rerun with budget 0 trains nothing); copy report.json,
# report.md and the figures into $OUT (the device tool's folder; ./gpu-out elsewhere), next
# to the log gpu_bench.log. Exit status: the bench's (0 ok, 1 a phase failed), 2 bad usage,
# 3 no accelerator, 4 no CIFAR-10, 124 the bench was stopped by the timeout.
# Smoke test on a CPU (tests/test_bench_gpu.py): REQUIRE_ACCELERATOR=0 BENCH_SIZE=--tiny.
set -uo pipefail
cd "$(dirname "$0")/.."
BUDGET=${1:-480}
OUT=${OUT:-$PWD/gpu-out}
WORK=${WORK:-/tmp/lottery-bench-gpu}
DATA=${DATA:-/tmp/lottery-data}
PYTHON=${PYTHON:-python3}
SESSION_LIMIT=${SESSION_LIMIT:-590}     # the device tool stops a command at 600 s
BENCH_SIZE=${BENCH_SIZE:---full}
REQUIRE_ACCELERATOR=${REQUIRE_ACCELERATOR:-1}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"
LOG="$OUT/gpu_bench.log"
say() { echo "gpu_session: $*" | tee -a "$LOG"; }

case "$BUDGET" in
    ''|*[!0-9]*) say "BUDGET_S must be whole seconds, got '$BUDGET'"; exit 2 ;;
esac

# 1. jax must see an accelerator
if ! "$PYTHON" -c 'import sys, jax; d = jax.devices(); print("jax", jax.__version__, d)
sys.exit(d[0].platform == "cpu" and sys.argv[1] == "1")' "$REQUIRE_ACCELERATOR" 2>&1 \
        | tee -a "$LOG"; then
    say "no accelerator visible to jax in $PYTHON: install jax with CUDA there (docs/gpu.md); stopping"
    exit 3
fi

# 2. CIFAR-10 in the official python-batches layout
if [ ! -f "$DATA/cifar-10-batches-py/test_batch" ]; then
    source_dir=""
    for candidate in .carry ../shared/data shared/data; do
        if [ -f "$candidate/cifar10_jpeg.npz" ] && [ -f "$candidate/make_cifar10.py" ]; then
            source_dir=$candidate
            break
        fi
    done
    if [ -z "$source_dir" ]; then
        say "CIFAR-10 not found: carry .carry/cifar10_jpeg.npz and .carry/make_cifar10.py (docs/gpu.md)"
        exit 4
    fi
    say "writing CIFAR-10 to $DATA from $source_dir/cifar10_jpeg.npz"
    if ! "$PYTHON" "$source_dir/make_cifar10.py" "$DATA" >>"$LOG" 2>&1; then
        say "make_cifar10.py failed (see $LOG)"
        exit 4
    fi
fi

# 3. the bench, within the session's limit (30 s kept for the report rewrite and the copy)
limit=$(( SESSION_LIMIT - SECONDS - 30 ))
[ "$limit" -gt $(( BUDGET + 60 )) ] && limit=$(( BUDGET + 60 ))
[ "$limit" -lt 1 ] && limit=1
say "lottery bench gpu $BENCH_SIZE --budget-s $BUDGET (stopped after $limit s at the latest)"
timeout --kill-after=10 "$limit" "$PYTHON" -m lottery_cli bench gpu "$BENCH_SIZE" \
    --budget-s "$BUDGET" --data-dir "$DATA" --out "$WORK" 2>&1 | tee -a "$LOG"
status=${PIPESTATUS[0]}

# 4. after a timeout: the report from the phases that finished
if [ "$status" -ge 124 ]; then
    say "the bench was stopped (status $status); writing the report from the finished phases"
    "$PYTHON" -m lottery_cli bench gpu "$BENCH_SIZE" --budget-s 0 --data-dir "$DATA" \
        --out "$WORK" 2>&1 | tee -a "$LOG"
    status=124
fi
cp "$WORK"/report.json "$WORK"/report.md "$WORK"/*.png "$OUT"/ 2>/dev/null
say "status $status; in $OUT: $(cd "$OUT" && ls | tr '\n' ' ')"
exit "$status"
