"""MinLSTM and MinGRU: the parallel scan against the step loop, on CPU.

Times each layer with `mode="scan"` and `mode="step"`, and
keras.layers.LSTM / keras.layers.GRU of the same width, over sequence
lengths T, as bench_layers.py does: the same tiny model (the layer, then a
mean-squared error on its last output), whole Keras train steps
(`train_on_batch`) and inference steps (`predict_on_batch`), layers taking
turns within each round, the median over rounds of the mean per call. The
table gives, per T, each route's times and scan / step; the crossover is
the shortest T from which the scan is faster. `mode="auto"` reads the
crossover from `keras_lstm_variants._tuning.SCAN_FROM_STEPS`.

With `--forms`, it also times the forms of the scan itself on
log-coefficients of T steps, and their error against a float64 sequential
recurrence: ours (pairs (log a, log b) combined by log-add-exp), the same
pairs in linear space, and the paper's `parallel_scan_log` (a cumulative
sum of log a, then logcumsumexp of log b minus it, by an associative scan
or by the backend's own logcumsumexp).

    python benchmarks/bench_min_rnn.py --backend jax --output out
    python benchmarks/bench_min_rnn.py --backend torch --forms
    python benchmarks/bench_min_rnn.py --quick      # seconds: a smoke test

Writes `<output>/<backend>.md` and `.json` and prints the table.
"""

import argparse
import importlib.util
import os
import pathlib
import statistics
import sys

LAYERS = (
    "MinGRU [scan]", "MinGRU [step]", "keras.GRU",
    "MinLSTM [scan]", "MinLSTM [step]", "keras.LSTM",
)
STEPS = (64, 256, 1024, 4096)


def _bench_layers():
    """benchmarks/bench_layers.py, for its timing and machine helpers."""
    path = pathlib.Path(__file__).with_name("bench_layers.py")
    spec = importlib.util.spec_from_file_location("bench_layers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _bench_layers().add_sweep_arguments(parser, STEPS, batch=16)
    parser.add_argument("--layers", default=",".join(LAYERS),
                        help="comma-separated, among: " + ", ".join(LAYERS))
    parser.add_argument("--calls", type=int, default=1, help="per round")
    parser.add_argument("--forms", action="store_true",
                        help="also time and check the forms of the scan "
                        "(at T = 64 and the longest --steps)")
    parser.add_argument("--quick", action="store_true",
                        help="T = 8, 16; 1 round of 1 call: the script only")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds, args.calls = "8,16", 1, 1
        args.batch, args.units = 2, 4
    args.steps = [int(t) for t in args.steps.split(",")]
    args.layers = [name.strip() for name in args.layers.split(",")]
    unknown = set(args.layers) - set(LAYERS)
    if unknown:
        sys.exit(f"--layers: unknown {sorted(unknown)}; choose from {LAYERS}")
    return args


def make_layer(name, units):
    import keras

    import keras_lstm_variants

    base, _, mode = name.partition(" ")
    if base.startswith("keras."):
        return getattr(keras.layers, base.split(".")[1])(units)
    return getattr(keras_lstm_variants, base)(units, mode=mode.strip("[]"))


def bench_steps(steps, args, helpers):
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, steps, args.units)).astype("float32")
    y = rng.standard_normal((args.batch, args.units)).astype("float32")
    jobs = {}
    for name in args.layers:
        inputs = keras.Input((steps, args.units), batch_size=args.batch)
        model = keras.Model(inputs, make_layer(name, args.units)(inputs))
        model.compile(keras.optimizers.SGD(1e-3), "mse")
        jobs[name, "train"] = lambda m=model: float(m.train_on_batch(x, y))
        jobs[name, "infer"] = lambda m=model: np.asarray(m.predict_on_batch(x))
    for job in jobs.values():  # compile and warm up
        job()
    times = {key: [] for key in jobs}
    for _ in range(args.rounds):
        for key, job in jobs.items():
            times[key].append(helpers.time_calls(job, args.calls))
    return {key: statistics.median(values) for key, values in times.items()}


def scan_forms(backend):
    """The forms of the scan over time: name -> f(log_a, log_b, h0)."""
    from keras import ops

    from keras_lstm_variants._min_rnn import log_space_scan

    def linear_pairs(log_a, log_b, h0):
        def combine(earlier, later):
            return earlier[0] * later[0], later[0] * earlier[1] + later[1]

        a, b = ops.associative_scan(
            combine, (ops.exp(log_a), ops.exp(log_b)), axis=1
        )
        return a * h0[:, None] + b

    def paper(logcumsumexp):
        def scan(log_a, log_b, h0):
            a_star = ops.cumsum(log_a, axis=1)
            log_h = a_star + logcumsumexp(log_b - a_star)
            return ops.exp(a_star) * h0[:, None] + ops.exp(log_h)

        return scan

    if backend == "jax":
        import jax

        native = lambda x: jax.lax.cumlogsumexp(x, axis=1)  # noqa: E731
    elif backend == "tensorflow":
        import tensorflow as tf

        native = lambda x: tf.math.cumulative_logsumexp(x, axis=1)  # noqa: E731
    else:
        import torch

        native = lambda x: torch.logcumsumexp(x, dim=1)  # noqa: E731
    return {
        "log pairs (ours)": log_space_scan,
        "linear pairs": linear_pairs,
        "paper, logcumsumexp by associative_scan": paper(
            lambda x: ops.associative_scan(ops.logaddexp, x, axis=1)
        ),
        "paper, the backend's logcumsumexp": paper(native),
    }


def bench_forms(args, helpers):
    """Forward time and largest relative error (to float64) of each form,
    on the log-coefficients of a MinGRU with standard-normal
    pre-activations."""
    import keras
    import numpy as np

    backend = keras.backend.backend()
    compiled = {
        "jax": lambda f: __import__("jax").jit(f),
        "tensorflow": lambda f: __import__("tensorflow").function(f),
        "torch": lambda f: f,
    }[backend]
    rows = []
    rng = np.random.default_rng(0)
    for steps in sorted({min(args.steps), 64, max(args.steps)}):
        if steps > max(args.steps):
            continue
        shape = (args.batch, steps, args.units)
        z_z, z_h = rng.standard_normal(shape), rng.standard_normal(shape)
        log_a = -np.logaddexp(0.0, z_z)
        g = np.where(z_h >= 0, z_h + 0.5, 1.0 / (1.0 + np.exp(-z_h)))
        log_b = -np.logaddexp(0.0, -z_z) + np.log(g)
        h, expected = np.zeros(shape[::2]), []
        for t in range(steps):
            h = np.exp(log_a[:, t]) * h + np.exp(log_b[:, t])
            expected.append(h)
        expected = np.stack(expected, 1)
        tensors = [
            keras.ops.convert_to_tensor(v.astype("float32"))
            for v in (log_a, log_b, np.zeros(shape[::2]))
        ]
        for name, form in scan_forms(backend).items():
            function = compiled(form)
            actual = keras.ops.convert_to_numpy(function(*tensors))
            seconds = statistics.median(
                helpers.time_calls(
                    lambda f=function, a=tensors: (
                        keras.ops.convert_to_numpy(f(*a))
                    ),
                    args.calls,
                )
                for _ in range(args.rounds)
            )
            rows.append({
                "T": steps, "form": name, "forward_ms": 1e3 * seconds,
                "max_relative_error": float(
                    np.max(np.abs(actual - expected) / np.abs(expected))
                ),
            })
    return rows


def run(args, write=lambda result: None):
    """The result; `write(result)` after each T, so that a long run that is
    stopped keeps what it measured."""
    os.environ["KERAS_BACKEND"] = args.backend

    helpers = _bench_layers()
    result = {
        **helpers.sweep_header(args), "calls": args.calls, "rows": [],
        "forms": [],
    }
    for steps in args.steps:
        print(f"timing T={steps} ...", file=sys.stderr, flush=True)
        medians = bench_steps(steps, args, helpers)
        for name in args.layers:
            result["rows"].append({
                "T": steps, "layer": name,
                "train_ms": 1e3 * medians[name, "train"],
                "infer_ms": 1e3 * medians[name, "infer"],
            })
        write(result)
    if args.forms:
        result["forms"] = bench_forms(args, helpers)
        write(result)
    return result


def crossover(result, layer, mode):
    """The shortest T from which `layer [scan]` is faster than `layer
    [step]` at every longer T measured; None if it never is."""
    times = {}
    for row in result["rows"]:
        times[row["T"], row["layer"]] = row[f"{mode}_ms"]
    return _bench_layers().first_faster({
        steps: times[steps, f"{layer} [scan]"] / times[steps, f"{layer} [step]"]
        for steps, _ in times
        if (steps, f"{layer} [scan]") in times
        and (steps, f"{layer} [step]") in times
    })


def markdown(result):
    lines = [
        f"{result['date']} · {result['backend']} {result['backend_version']}"
        f" · Keras {result['keras']} · {result['device']} · B = "
        f"{result['batch']}, D = U = {result['units']} · median of "
        f"{result['rounds']} rounds x {result['calls']} calls",
        "",
        "| T | layer | train ms | infer ms | train scan/step | "
        "infer scan/step |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    times = {(r["T"], r["layer"]): r for r in result["rows"]}
    for row in result["rows"]:
        base, _, mode = row["layer"].partition(" ")
        ratios = ["", ""]
        step = times.get((row["T"], f"{base} [step]"))
        if mode == "[scan]" and step:
            ratios = [
                f"{row[f'{m}_ms'] / step[f'{m}_ms']:.2f}"
                for m in ("train", "infer")
            ]
        lines.append(
            f"| {row['T']} | {row['layer']} | {row['train_ms']:.1f} "
            f"| {row['infer_ms']:.1f} | {ratios[0]} | {ratios[1]} |"
        )
    lines += ["", "Crossover (the scan faster from this T on): "]
    for layer in ("MinGRU", "MinLSTM"):
        for mode in ("train", "infer"):
            found = crossover(result, layer, mode)
            lines[-1] += (
                f"{layer} {mode} "
                + (f"T >= {found}" if found else "never in this range")
                + "; "
            )
    if result["forms"]:
        lines += [
            "", "Forms of the scan (forward only, MinGRU coefficients):", "",
            "| T | form | forward ms | max relative error to float64 |",
            "|---:|---|---:|---:|",
        ]
        for row in result["forms"]:
            lines.append(
                f"| {row['T']} | {row['form']} | {row['forward_ms']:.2f} "
                f"| {row['max_relative_error']:.1e} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    result = run(args, _bench_layers().sweep_writer(args, markdown))
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
