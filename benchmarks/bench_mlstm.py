"""MLSTM: the stabilised parallel form against the step loop, on CPU.

Times `MLSTM(mode="parallel")` and `MLSTM(mode="step")` over sequence
lengths T: the same tiny model (the layer, then a mean-squared error on
its last output), whole Keras train steps (`train_on_batch`) and inference
steps (`predict_on_batch`), the median over rounds; and the peak memory of
each, as the growth of the process's peak resident set (`ru_maxrss`) over
the built model's. Each (T, mode) runs in a fresh process, one after
another, so that the peaks do not mix. The crossover is the shortest T
from which the parallel form is faster. `mode="auto"` reads it from
`keras_lstm_variants._tuning.PARALLEL_FROM_STEPS`.

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

MODES = ("parallel", "step")
STEPS = (128, 512, 2048)


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
    parser.add_argument("--quick", action="store_true",
                        help="T = 8, 16; 1 round: the script only")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # "T,mode": worker
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = "8,16", 1
        args.batch, args.units, args.heads = 2, 8, 2
    args.steps = [int(t) for t in args.steps.split(",")]
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
    layer = klv.MLSTM(args.units, num_heads=args.heads, mode=mode)
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

    result = {**helpers.sweep_header(args), "heads": args.heads, "rows": []}
    for steps in args.steps:
        for mode in MODES:
            print(f"timing T={steps} {mode} ...", file=sys.stderr, flush=True)
            command = [
                sys.executable, __file__, "--one", f"{steps},{mode}",
                "--backend", args.backend, "--batch", str(args.batch),
                "--units", str(args.units), "--heads", str(args.heads),
                "--rounds", str(args.rounds),
            ]
            output = subprocess.run(
                command, check=True, capture_output=True, text=True,
                env={**os.environ, "KERAS_BACKEND": args.backend},
            ).stdout
            result["rows"].append(json.loads(output.strip().splitlines()[-1]))
            write(result)
    return result


def crossover(result, key):
    """The shortest T from which the parallel form is faster than the step
    loop at every longer T measured; None if it never is."""
    rows = {(row["T"], row["mode"]): row[key] for row in result["rows"]}
    return _bench_layers().first_faster({
        steps: rows[steps, "parallel"] / rows[steps, "step"]
        for steps, mode in rows
        if mode == "parallel" and (steps, "step") in rows
    })


def markdown(result):
    lines = [
        f"{result['date']} · {result['backend']} "
        f"{result['backend_version']} · Keras {result['keras']} · "
        f"{result['device']} · B = {result['batch']}, D = U = "
        f"{result['units']}, {result['heads']} heads · median of "
        f"{result['rounds']} rounds",
        "",
        "| T | mode | train ms | infer ms | peak MiB | train par/step | "
        "infer par/step | memory par/step |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    rows = {(row["T"], row["mode"]): row for row in result["rows"]}
    for (steps, mode), row in rows.items():
        ratios = ["", "", ""]
        if mode == "parallel" and (steps, "step") in rows:
            step = rows[steps, "step"]
            ratios = [
                f"{row[k] / step[k]:.2f}" if step[k] > 0 else ""
                for k in ("train_ms", "infer_ms", "peak_mib")
            ]
        lines.append(
            f"| {steps} | {mode} | {row['train_ms']:.1f} | "
            f"{row['infer_ms']:.1f} | {row['peak_mib']:.0f} | "
            + " | ".join(ratios) + " |"
        )
    lines += ["", "Crossover (the parallel form faster from this T on): "
              + "; ".join(
                  f"{key.split('_')[0]} "
                  + (f"T >= {t}" if (t := crossover(result, key))
                     else "never in this range")
                  for key in ("train_ms", "infer_ms")
              )]
    return "\n".join(lines) + "\n"


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
