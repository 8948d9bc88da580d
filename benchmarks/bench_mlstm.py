"""MLSTM: the parallel, chunkwise and step forms, time and memory, on CPU.

Times `MLSTM(mode="parallel")`, `mode="chunkwise"` and `mode="step"` over
sequence lengths T: the same tiny model (the layer, then a mean-squared
error on its last output), whole Keras train steps (`train_on_batch`) and
inference steps (`predict_on_batch`), the median over rounds; and the peak
memory of each, as the growth of the process's peak resident set
(`ru_maxrss`) over the built model's. Each (T, mode) runs in a fresh
process, one after another, so that the peaks do not mix. A parallel run
whose T x T matrices alone would pass `--memory-limit-gib` is not started
(its row says so), nor is any run after one of its mode timed out. The
crossovers: the shortest T from which the parallel (chunkwise) form is
faster than the step loop. `mode="auto"` reads them from
`keras_lstm_variants._tuning.PARALLEL_FROM_STEPS` and
`CHUNKWISE_FROM_STEPS`.

    python benchmarks/bench_mlstm.py --backend jax --output out
    python benchmarks/bench_mlstm.py --quick      # seconds: a smoke test

Writes `<output>/<backend>.md` and `.json` and prints the table.
"""

import argparse
import importlib.util
import json
import os
import pathlib
import statistics
import subprocess
import sys

MODES = ("parallel", "chunkwise", "step")
STEPS = (128, 512, 2048)
# The parallel form's training step holds about this many T x T float32
# matrices per head and sequence (D, its log, the scores and their
# gradients), for --memory-limit-gib's estimate.
PARALLEL_MATRICES = 6


def _bench_layers():
    """benchmarks/bench_layers.py, for its timing and machine helpers."""
    path = pathlib.Path(__file__).with_name("bench_layers.py")
    spec = importlib.util.spec_from_file_location("bench_layers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _bench_layers().add_sweep_arguments(parser, STEPS, batch=8)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--chunk-size", type=int, default=64)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--memory-limit-gib", type=float, default=8.0)
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds per (T, mode) run")
    parser.add_argument("--quick", action="store_true",
                        help="T = 8, 16; 1 round: the script only")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # "T,mode": worker
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = "8,16", 1
        args.batch, args.units, args.heads = 2, 8, 2
        args.chunk_size = 4
    args.steps = [int(t) for t in args.steps.split(",")]
    args.modes = args.modes.split(",")
    return args


def measure_one(steps, mode, args):
    """In this process: train and infer ms, and peak memory growth (MiB),
    of one (T, mode)."""
    import resource

    import keras
    import numpy as np

    import keras_lstm_variants as klv

    helpers = _bench_layers()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, steps, args.units)).astype("float32")
    y = rng.standard_normal((args.batch, args.units)).astype("float32")
    inputs = keras.Input((steps, args.units), batch_size=args.batch)
    layer = klv.MLSTM(args.units, num_heads=args.heads, mode=mode,
                      chunk_size=args.chunk_size)
    model = keras.Model(inputs, layer(inputs))
    model.compile(keras.optimizers.SGD(1e-3), "mse")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    jobs = {
        "train": lambda: float(model.train_on_batch(x, y)),
        "infer": lambda: np.asarray(model.predict_on_batch(x)),
    }
    for job in jobs.values():  # compile and warm up
        job()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = {key: [] for key in jobs}
    for _ in range(args.rounds):
        for key, job in jobs.items():
            times[key].append(helpers.time_calls(job, 1))
    return {
        "T": steps, "mode": mode,
        "train_ms": 1e3 * statistics.median(times["train"]),
        "infer_ms": 1e3 * statistics.median(times["infer"]),
        "peak_mib": (peak - before) / 1024,  # ru_maxrss is in KiB on Linux
    }


def run(args, write=lambda result: None):
    helpers = _bench_layers()
    os.environ["KERAS_BACKEND"] = args.backend

    result = {
        **helpers.sweep_header(args), "heads": args.heads,
        "chunk_size": args.chunk_size, "rows": [],
    }
    timed_out = set()
    for steps in args.steps:
        for mode in args.modes:
            row = {"T": steps, "mode": mode}
            gib = PARALLEL_MATRICES * 4 * args.batch * args.heads * steps**2
            gib /= 2**30
            if mode == "parallel" and gib > args.memory_limit_gib:
                row["skipped"] = f"needs ~{gib:.0f} GiB (estimated)"
            elif mode in timed_out:
                row["skipped"] = "a shorter T timed out"
            else:
                row = _measured(steps, mode, args, row, timed_out)
            result["rows"].append(row)
            write(result)
    return result


def _measured(steps, mode, args, row, timed_out):
    """`row` measured in a fresh process, or saying why it was not."""
    print(f"timing T={steps} {mode} ...", file=sys.stderr, flush=True)
    command = [
        sys.executable, __file__, "--one", f"{steps},{mode}",
        "--backend", args.backend, "--batch", str(args.batch),
        "--units", str(args.units), "--heads", str(args.heads),
        "--chunk-size", str(args.chunk_size), "--rounds", str(args.rounds),
    ]
    try:
        run = subprocess.run(
            command, capture_output=True, text=True, timeout=args.timeout,
            env={**os.environ, "KERAS_BACKEND": args.backend},
        )
    except subprocess.TimeoutExpired:
        timed_out.add(mode)
        return {**row, "skipped": f"over {args.timeout:.0f} s"}
    if run.returncode != 0:
        reason = (run.stderr.strip().splitlines() or ["no output"])[-1]
        return {**row, "skipped": f"failed ({run.returncode}): {reason[:80]}"}
    return json.loads(run.stdout.strip().splitlines()[-1])


def crossover(result, key, mode="parallel"):
    """The shortest T from which `mode` is faster than the step loop at
    every longer T measured; None if it never is."""
    rows = {
        (row["T"], row["mode"]): row[key]
        for row in result["rows"] if "skipped" not in row
    }
    return _bench_layers().first_faster({
        steps: rows[steps, mode] / rows[steps, "step"]
        for steps, name in rows
        if name == mode and (steps, "step") in rows
    })


def markdown(result):
    lines = [
        f"{result['date']} · {result['backend']} "
        f"{result['backend_version']} · Keras {result['keras']} · "
        f"{result['device']} · B = {result['batch']}, D = U = "
        f"{result['units']}, {result['heads']} heads, chunks of "
        f"{result.get('chunk_size', 64)} · median of {result['rounds']} "
        "rounds",
        "",
        "| T | mode | train ms | infer ms | peak MiB | train / step | "
        "infer / step | memory / step |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    rows = {(row["T"], row["mode"]): row for row in result["rows"]}
    for (steps, mode), row in rows.items():
        if "skipped" in row:
            lines.append(f"| {steps} | {mode} | not run: {row['skipped']} "
                         "| | | | | |")
            continue
        ratios = ["", "", ""]
        step = rows.get((steps, "step"), {})
        if mode != "step" and "skipped" not in step and step:
            ratios = [
                f"{row[k] / step[k]:.2f}" if step[k] > 0 else ""
                for k in ("train_ms", "infer_ms", "peak_mib")
            ]
        lines.append(
            f"| {steps} | {mode} | {row['train_ms']:.1f} | "
            f"{row['infer_ms']:.1f} | {row['peak_mib']:.0f} | "
            + " | ".join(ratios) + " |"
        )
    lines.append("")
    for mode in ("parallel", "chunkwise"):
        lines.append(
            f"Crossover (the {mode} form faster than the step loop from this "
            "T on): " + "; ".join(
                f"{key.split('_')[0]} "
                + (f"T >= {t}" if (t := crossover(result, key, mode))
                   else "never in this range")
                for key in ("train_ms", "infer_ms")
            )
        )
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.one:
        os.environ["KERAS_BACKEND"] = args.backend
        steps, mode = args.one.split(",")
        print(json.dumps(measure_one(int(steps), mode, args)))
        return

    result = run(args, _bench_layers().sweep_writer(args, markdown))
    print(markdown(result))


if __name__ == "__main__":
    main()
