"""Times our layers against keras.layers.LSTM, side by side.

For each shape, every layer is built into the same tiny model (the layer,
then a mean-squared error on its last output) and timed on whole Keras
train steps (`train_on_batch`) and inference steps (`predict_on_batch`).
Layers take turns within each round, so that a noisy neighbour on a shared
machine hits all of them alike; each figure is the median over rounds of the
mean time per call within a round. Ratios are to keras.layers.LSTM in the
same run (`--reference keras.GRU`: to keras.layers.GRU, for the GRU
family). A large matmul in the same process gives the machine's GEMM peak,
against which the layers' achieved GFLOP/s (matmul work only) are shown.

    python benchmarks/bench_layers.py --backend jax --output bench_out
    python benchmarks/bench_layers.py --backend tensorflow --jit on
    python benchmarks/bench_layers.py --quick     # seconds, for a smoke test
    python benchmarks/bench_layers.py --layers keras.LSTM,LSTM,SLSTM,MLSTM
    python benchmarks/bench_layers.py --reference keras.GRU \
        --layers keras.GRU,GRU,LayerNormGRU,MGU,GRU1,GRU2,GRU3

Writes `<output>/<backend>-jit_<jit>.md` (the table), `.json` (every
figure) and `.png` (ratio bar chart), and prints the table.
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import sys
import time

SHAPES = {  # name: (batch, timesteps, features, units)
    "small": (64, 100, 64, 128),
    "large": (256, 100, 256, 512),
    "long": (32, 1000, 32, 128),
}
QUICK_SHAPES = {"tiny": (4, 6, 3, 5)}
LAYERS = ("keras.LSTM", "LSTM", "PeepholeLSTM", "CoupledLSTM", "LayerNormLSTM")
# Timed when --layers names them: xLSTM's cells, with the official 4 heads
# (1 where 4 does not divide the units), and the minimal RNNs.
MORE_LAYERS = (
    "SLSTM", "MLSTM", "MinLSTM", "MinGRU",
    "keras.GRU", "GRU", "LayerNormGRU", "MGU", "GRU1", "GRU2", "GRU3",
)
KERAS_LAYERS = ("keras.LSTM", "keras.GRU")
# The layers whose loop has strategies (`LOOP_STRATEGIES`): the LSTM family's.
STRATEGY_LAYERS = ("LSTM", "PeepholeLSTM", "CoupledLSTM", "LayerNormLSTM",
                   "SLSTM")
# The GRU family's: "GRU[step]" is the loop alone (use_cudnn=False).
GRU_LAYERS = ("GRU", "LayerNormGRU", "MGU", "GRU1", "GRU2", "GRU3")
HEADS = ("SLSTM", "MLSTM")
# Gate blocks per layer; 4 for the others.
GATES = {"CoupledLSTM": 3, "keras.GRU": 3, "GRU": 3, "LayerNormGRU": 3,
         "MGU": 2}
# Layers whose matmul work is not x W and h U at every step: no GFLOP/s.
OTHER_WORK = ("MLSTM", "MinLSTM", "MinGRU", "GRU1", "GRU2", "GRU3")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend",
        default=os.environ.get("KERAS_BACKEND", "tensorflow"),
        choices=("tensorflow", "jax", "torch"),
    )
    parser.add_argument(
        "--shapes",
        default="small,large,long",
        help=f"comma-separated names among {', '.join(SHAPES)}, or B:T:D:U"
        " tuples",
    )
    parser.add_argument(
        "--layers",
        default=",".join(LAYERS),
        help="comma-separated; one of our LSTM layers may name a loop "
        "strategy, as 'LSTM[step]' (keras_lstm_variants._lstm_layer."
        "LOOP_STRATEGIES); 'GRU[step]' is a GRU layer's loop",
    )
    parser.add_argument(
        "--jit",
        nargs="?",
        const="on",
        default="auto",
        choices=("auto", "on", "off"),
        help="jit_compile of model.compile: 'auto' is Keras's default "
        "(on a CPU-only TensorFlow machine that means no XLA), "
        "bare --jit means 'on'. JAX always compiles.",
    )
    parser.add_argument(
        "--reference",
        default="keras.LSTM",
        choices=KERAS_LAYERS,
        help="the layer the ratios are to (it is timed too)",
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=3, help="per round")
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="also time each of our layers with every loop strategy "
        "(keras_lstm_variants._tuning.LOOP_STRATEGY), named 'Layer [strategy]'",
    )
    parser.add_argument(
        "--policy",
        default="float32",
        choices=("float32", "mixed_bfloat16", "mixed_float16"),
        help="Keras dtype policy of every layer timed",
    )
    parser.add_argument(
        "--no-plot",
        action="store_true",
        help="skip the PNG chart (where matplotlib is missing)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny shapes, 2 rounds of 1 call: checks the script only",
    )
    parser.add_argument(
        "--output", type=pathlib.Path, default=pathlib.Path("bench_output")
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.shapes, args.rounds, args.calls = "tiny", 2, 1
    return args


def shape_list(spec):
    shapes = {}
    for item in spec.split(","):
        if item in SHAPES or item in QUICK_SHAPES:
            shapes[item] = {**SHAPES, **QUICK_SHAPES}[item]
        else:
            try:
                shapes[item] = tuple(int(n) for n in item.split(":"))
            except ValueError:
                shapes[item] = ()
            if len(shapes[item]) != 4:
                sys.exit(f"--shapes: {item!r} is neither a name nor B:T:D:U")
    return shapes


def layer_name(text):
    """`text` of --layers as a layer's name ('Layer' or 'Layer [strategy]');
    exits with a message if it names no layer or strategy."""
    from keras_lstm_variants._lstm_layer import LOOP_STRATEGIES

    base, _, strategy = text.strip().replace("[", " [").partition(" ")
    strategy = strategy.strip().strip("[]").strip()
    if base not in LAYERS + MORE_LAYERS or (
        strategy and strategy not in LOOP_STRATEGIES
    ):
        sys.exit(
            f"--layers: unknown {text!r}; choose from {LAYERS + MORE_LAYERS}"
            f", our LSTM layers optionally with one of {LOOP_STRATEGIES} as "
            "'LSTM[step]'"
        )
    if strategy and base not in STRATEGY_LAYERS and not (
        strategy == "step" and base in GRU_LAYERS
    ):
        sys.exit(f"--layers: {text!r}: {base} has no loop strategy")
    return f"{base} [{strategy}]" if strategy else base


def make_layer(name, units):
    import keras

    import keras_lstm_variants

    base, _, strategy = name.partition(" ")
    if base in KERAS_LAYERS:
        return getattr(keras.layers, base.split(".")[1])(units)
    if base in HEADS:
        heads = 4 if units % 4 == 0 else 1
        return getattr(keras_lstm_variants, base)(units, num_heads=heads)
    if not strategy:
        return getattr(keras_lstm_variants, base)(units)
    # A strategy names the portable loop: no fused kernel (use_cudnn=False).
    layer = getattr(keras_lstm_variants, base)(units, use_cudnn=False)
    if base not in GRU_LAYERS:
        layer._loop_strategy = strategy.strip("[]")
    return layer


def make_model(name, shape, jit):
    import keras

    batch, steps, features, units = shape
    inputs = keras.Input(shape=(steps, features), batch_size=batch)
    model = keras.Model(inputs, make_layer(name, units)(inputs))
    model.compile(
        optimizer=keras.optimizers.SGD(1e-3),
        loss="mse",
        jit_compile={"auto": "auto", "on": True, "off": False}[jit],
    )
    return model


def matmul_flops(name, shape):
    """Forward matmul FLOPs: x W and h U at every step (2 per multiply-add);
    None for a layer whose work is another (`OTHER_WORK`)."""
    if name.split(" ")[0] in OTHER_WORK:
        return None
    batch, steps, features, units = shape
    gates = GATES.get(name.split(" ")[0], 4)
    return 2.0 * batch * steps * (features + units) * gates * units


def gemm_peak(backend, size, calls):
    """GFLOP/s of a (size x size) @ (size x size) float32 matmul, its fastest
    call: a peak, which a busy moment of a shared machine can only lower."""
    import keras
    import numpy as np

    a = keras.ops.convert_to_tensor(
        np.random.default_rng(0).standard_normal((size, size), "float32")
    )
    matmul = keras.ops.matmul
    if backend == "jax":
        import jax

        matmul = jax.jit(keras.ops.matmul)
    times = []
    for _ in range(calls + 2):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(matmul(a, a)[0, 0])
        times.append(time.perf_counter() - start)
    return 2.0 * size**3 / min(times[2:]) / 1e9


def time_calls(function, calls):
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls


def bench_shape(shape, names, args):
    import numpy as np

    batch, steps, features, units = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, steps, features)).astype("float32")
    y = rng.standard_normal((batch, units)).astype("float32")
    models = {name: make_model(name, shape, args.jit) for name in names}
    jobs = {}
    for name, model in models.items():
        jobs[name, "train"] = lambda m=model: float(m.train_on_batch(x, y))
        jobs[name, "infer"] = lambda m=model: np.asarray(m.predict_on_batch(x))
    for job in jobs.values():  # compile and warm up
        job()
        job()
    times = {key: [] for key in jobs}
    for _ in range(args.rounds):
        for key, job in jobs.items():
            times[key].append(time_calls(job, args.calls))
    return {key: statistics.median(values) for key, values in times.items()}


def run(args):
    os.environ["KERAS_BACKEND"] = args.backend
    import keras

    keras.mixed_precision.set_global_policy(args.policy)

    names = [layer_name(n) for n in args.layers.split(",") if n.strip()]
    if args.reference not in names:
        names.insert(0, args.reference)
    if args.ablation:
        from keras_lstm_variants._lstm_layer import LOOP_STRATEGIES

        bases = dict.fromkeys(n.split(" ")[0] for n in names)  # in order
        names = ["keras.LSTM"] + [
            f"{n} [{strategy}]"
            for n in bases
            if n != "keras.LSTM"
            for strategy in LOOP_STRATEGIES
            if n != "LayerNormLSTM" or strategy != "stacked"
        ]
    shapes = shape_list(args.shapes)
    gemm_size = 256 if args.quick else 2048
    peak = gemm_peak(args.backend, gemm_size, 5)
    rows = []
    for shape_name, shape in shapes.items():
        print(f"timing {shape_name} {shape} ...", file=sys.stderr, flush=True)
        medians = bench_shape(shape, names, args)
        for name in names:
            flops = matmul_flops(name, shape)
            row = {"shape": shape_name, "BTDU": list(shape), "layer": name}
            for mode, factor in (("train", 3.0), ("infer", 1.0)):
                seconds = medians[name, mode]
                reference = medians.get((args.reference, mode))
                row[f"{mode}_ms"] = 1e3 * seconds
                row[f"{mode}_ratio"] = reference and seconds / reference
                row[f"{mode}_gflops"] = (
                    flops and factor * flops / seconds / 1e9
                )
            rows.append(row)
    peak = max(peak, gemm_peak(args.backend, gemm_size, 5))  # before and after
    return {
        "date": datetime.date.today().isoformat(),
        "backend": args.backend,
        "jit": args.jit,
        "reference": args.reference,
        "policy": args.policy,
        "keras": keras.__version__,
        "backend_version": backend_version(args.backend),
        "device": device_name(args.backend),
        "rounds": args.rounds,
        "calls": args.calls,
        "gemm_peak_gflops": peak,
        "rows": rows,
    }


def backend_version(backend):
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
    return __import__(module[backend]).__version__


def device_name(backend):
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "cpu":
            return device.device_kind
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return tf.config.experimental.get_device_details(gpus[0]).get(
                "device_name", "GPU"
            )
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    processor = platform.processor() or platform.machine()
    return f"CPU {processor}, {os.cpu_count()} cores"


# What bench_min_rnn.py and bench_mlstm.py (two routes of one layer over
# sequence lengths T) share.


def add_sweep_arguments(parser, steps, batch):
    """--backend, --steps, --batch, --units, --rounds and --output."""
    parser.add_argument(
        "--backend",
        default=os.environ.get("KERAS_BACKEND", "jax"),
        choices=("tensorflow", "jax", "torch"),
    )
    parser.add_argument("--steps", default=",".join(map(str, steps)),
                        help="comma-separated sequence lengths T")
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--units", type=int, default=64,
                        help="units, and input features")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--output", type=pathlib.Path, default=pathlib.Path("bench_output")
    )


def sweep_header(args):
    """The run's date, versions, machine and sizes, for its result."""
    import keras

    return {
        "date": datetime.date.today().isoformat(),
        "backend": args.backend,
        "keras": keras.__version__,
        "backend_version": backend_version(args.backend),
        "device": device_name(args.backend),
        "batch": args.batch,
        "units": args.units,
        "rounds": args.rounds,
    }


def first_faster(ratios):
    """The crossover: the shortest T from which a route is faster than the
    other at every longer T measured, given {T: its time / the other's};
    None if it is not faster at the longest."""
    found = None
    for steps in sorted(ratios, reverse=True):
        if ratios[steps] >= 1.0:
            break
        found = steps
    return found


def sweep_writer(args, markdown):
    """write(result): `<output>/<backend>.md` and `.json`, after each T so
    that a long run that is stopped keeps what it measured."""
    stem = args.output / args.backend

    def write(result):
        args.output.mkdir(parents=True, exist_ok=True)
        stem.with_suffix(".md").write_text(markdown(result))
        stem.with_suffix(".json").write_text(
            json.dumps(result, indent=1) + "\n"
        )

    return write


def markdown(result):
    reference = result.get("reference", "keras.LSTM").split(".")[1]
    lines = [
        f"{result['date']} · {result['backend']} {result['backend_version']}"
        f" · Keras {result['keras']} · jit_compile={result['jit']}"
        f" · {result.get('policy', 'float32')}"
        f" · {result['device']} · GEMM peak "
        f"{result['gemm_peak_gflops']:.0f} GFLOP/s · median of "
        f"{result['rounds']} rounds x {result['calls']} calls",
        "",
        f"| shape (B, T, D, U) | layer | train ms | train / {reference} | "
        f"train GFLOP/s | % of GEMM peak | infer ms | infer / {reference} |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        ratio = {
            mode: "—" if row[f"{mode}_ratio"] is None
            else f"{row[f'{mode}_ratio']:.2f}"
            for mode in ("train", "infer")
        }
        gflops = row["train_gflops"]
        work = (
            f"{gflops:.1f} | "
            f"{100 * gflops / result['gemm_peak_gflops']:.0f}%"
            if gflops else "— | —"
        )
        lines.append(
            f"| {row['shape']} {tuple(row['BTDU'])} | {row['layer']} "
            f"| {row['train_ms']:.1f} | {ratio['train']} | {work} "
            f"| {row['infer_ms']:.1f} | {ratio['infer']} |"
        )
    return "\n".join(lines) + "\n"


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = [r for r in result["rows"] if r["train_ratio"] is not None]
    shapes = list(dict.fromkeys(r["shape"] for r in rows))
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    width = 0.8 / max(len(layers), 1)
    for axis, mode in zip(axes, ("train", "infer"), strict=True):
        for k, layer in enumerate(layers):
            values = [
                next(
                    (r[f"{mode}_ratio"] for r in rows
                     if r["shape"] == s and r["layer"] == layer),
                    np.nan,
                )
                for s in shapes
            ]
            axis.bar(np.arange(len(shapes)) + k * width, values, width,
                     label=layer)
        axis.axhline(1.0, color="black", linewidth=0.8)
        axis.set_xticks(np.arange(len(shapes)) + 0.4 - width / 2, shapes)
        axis.set_title(f"{mode} step time / keras.layers.LSTM")
    axes[0].legend(fontsize="small")
    figure.suptitle(
        f"{result['backend']} · jit_compile={result['jit']} · "
        f"{result['device']}",
        fontsize="medium",
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None):
    args = parse_args(argv)
    result = run(args)
    args.output.mkdir(parents=True, exist_ok=True)
    stem = args.output / f"{args.backend}-jit_{args.jit}"
    if args.policy != "float32":
        stem = stem.with_name(f"{stem.name}-{args.policy}")
    table = markdown(result)
    stem.with_suffix(".md").write_text(table)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    if not args.no_plot:
        plot(result, stem.with_suffix(".png"))
    print(table)
    return result


if __name__ == "__main__":
    main()
