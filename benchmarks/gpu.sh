#!/usr/bin/env bash
# The GPU benchmark in one command.
#
#   benchmarks/gpu.sh --download   here (a machine with the package index):
#                                  Keras's wheels, and those of its needs a
#                                  GPU machine lacks, for Python 3.12, into
#                                  .whl/ (ignored by git)
#   benchmarks/gpu.sh [OUTPUT]     on the GPU machine (Python 3.12, JAX and
#                                  PyTorch with CUDA, no Keras, no network):
#                                  installs .whl/, checks that LSTM and
#                                  CoupledLSTM take the fused kernel with the
#                                  loop's numbers (benchmarks/gpu_check.py),
#                                  then times every layer against
#                                  keras.layers.LSTM (bench_layers.py) on JAX
#                                  and PyTorch, float32 and mixed_bfloat16, at
#                                  three shapes; writes gpu.md and gpu.json
#                                  into OUTPUT (default: $OUT, else
#                                  gpu_output/); then MinLSTM/MinGRU's scan
#                                  and MLSTM's parallel, chunkwise and step
#                                  forms (OUTPUT/min_rnn/, mlstm/), and the
#                                  xLSTM stack against the official package
#                                  (OUTPUT/xlstm_official/)
#   benchmarks/gpu.sh --dry-run [OUTPUT]
#                                  the same here on CPU with the test
#                                  environment (.venv), one tiny shape; part
#                                  of `make test`
set -euo pipefail
cd "$(dirname "$0")/.."

SHAPES="64:100:64:256,256:200:128:512,1024:100:256:512"
LAYERS="keras.LSTM,LSTM,CoupledLSTM,PeepholeLSTM,LayerNormLSTM"
ROUNDS=3
CALLS=3
PYTHON=python3
mode=gpu

case "${1:-}" in
--download)
    versions=$(.venv/bin/python -c "import keras, optree, namex, importlib.metadata as m; print(f'keras=={keras.__version__} optree=={optree.__version__} namex=={m.version(\"namex\")}')")
    rm -rf .whl
    # shellcheck disable=SC2086
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl $versions
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null \
        || echo '/.whl/' >> .git/info/exclude
    ls .whl
    exit 0
    ;;
--dry-run)
    mode=dry
    shift
    SHAPES="4:6:3:5"
    ROUNDS=1
    CALLS=1
    PYTHON=.venv/bin/python
    ;;
esac
output=${1:-${OUT:-gpu_output}}
mkdir -p "$output"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$mode" = gpu ]; then
    [ -d .whl ] || { echo "no .whl/: run 'benchmarks/gpu.sh --download' first (here), and carry .whl" >&2; exit 2; }
    python3 -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target "$work/site" .whl/*.whl
    export PYTHONPATH="$work/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1
dry=()
[ "$mode" = dry ] && dry=(--dry-run --shape 4:6:3:8)

# Every backend with every policy on the GPU. The dry run, inside `make
# test`, checks both backends but times one pair: bench_layers.py itself is
# tested on every backend by tests/test_benchmark.py.
runs="jax:float32 jax:mixed_bfloat16 torch:float32 torch:mixed_bfloat16"
[ "$mode" = dry ] && runs="torch:mixed_bfloat16"

status=0
for backend in jax torch; do
    KERAS_BACKEND=$backend "$PYTHON" benchmarks/gpu_check.py \
        --backend "$backend" --output "$work/check.jsonl" "${dry[@]}" \
        || status=1
done
for run in $runs; do
    backend=${run%%:*}
    policy=${run#*:}
    KERAS_BACKEND=$backend "$PYTHON" benchmarks/bench_layers.py \
        --backend "$backend" --policy "$policy" --shapes "$SHAPES" \
        --layers "$LAYERS" --rounds "$ROUNDS" --calls "$CALLS" \
        --no-plot --output "$work/bench" || status=1
done
# The routes that run in parallel over time, against their step loops:
# MinLSTM/MinGRU's scan and MLSTM's parallel form (their own tables, in
# OUTPUT/min_rnn/ and OUTPUT/mlstm/). The dry run smoke-tests the first on
# PyTorch (each of MLSTM's sizes starts a process of its own: minutes).
if [ "$mode" = dry ]; then
    KERAS_BACKEND=torch "$PYTHON" benchmarks/bench_min_rnn.py \
        --backend torch --quick --output "$output/min_rnn" || status=1
else
    for backend in jax torch; do
        KERAS_BACKEND=$backend "$PYTHON" benchmarks/bench_min_rnn.py \
            --backend "$backend" --steps 256,1024,4096 \
            --output "$output/min_rnn" || status=1
        KERAS_BACKEND=$backend "$PYTHON" benchmarks/bench_mlstm.py \
            --backend "$backend" --steps 512,2048 \
            --output "$output/mlstm" || status=1
        KERAS_BACKEND=$backend "$PYTHON" benchmarks/bench_xlstm.py \
            --backend "$backend" --batch 16 --steps 512 \
            --output "$output/xlstm_official" || status=1
    done
fi
"$PYTHON" benchmarks/gpu_report.py "$work" "$output"
exit $status
