"""The variants on real sequences, offline: a reproducible comparison.

Trains every variant of the package (the four layers, Greff et al.'s search
space, the minimal RNNs MinLSTM and MinGRU, xLSTM's SLSTM and MLSTM and its
blocks MLSTMBlock and SLSTMBlock (each in place of the layer), the GRU
family: GRU in both reset forms, LayerNormGRU, MGU, GRU1-GRU3) on
real data that ships inside Python packages and on one generated
sequence-to-sequence task, with several seeds, on the same budget (units,
optimizer, learning rate, epochs, batch size), and reports the test accuracy
(mean and spread over seeds), the parameter count and the training time:

- `digits`: scikit-learn's `load_digits`, 1,797 real handwritten digits of
  8x8 pixels, read as 8 steps of one 8-pixel row; a fixed stratified split of
  1,257 training and 540 test images.
- `japanese_vowels`: the UEA archive's JapaneseVowels as `sktime` ships it,
  9 speakers, 12 cepstral coefficients per step, 7-29 steps (270 training,
  370 test utterances); zero-padded to 29 steps with a mask, so a padded
  step changes nothing.
- `mnist1d`: the `mnist1d` package's generator (Greydanus 2020, the
  default arguments, no download): 4,000 training and 1,000 test sequences
  of 40 steps.
- `reverse`: sequence to sequence, generated here: strings of 8 random
  digits (one-hot) to the same digits in reverse order, 10,000 training and
  1,000 test strings. An encoder layer reads the string, `RepeatVector`
  hands its last output to a decoder layer that writes 8 digits: the cell
  must store every item before it can write any. Scored by the accuracy
  per digit.

The coupled variants (CoupledLSTM, CIFG) and NIG, whose input gate is not
free to start at sigma(0) = 0.5, run twice: with the forget-gate bias
initialised to 1 (`unit_forget_bias=True`) and to 0.

    python examples/variant_study.py --backend jax --output study
    python examples/variant_study.py --quick      # a smoke test: 15-30 s
    python examples/variant_study.py --variants MinLSTM MinGRU --output new
    python examples/variant_study.py --tasks reverse --output s2s
    python examples/variant_study.py --combine study new --output study

Writes `<output>/results.json` (every run, with versions and arguments),
`results.md` (one table per task) and `results.png`, and prints the tables.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

import _common
import numpy as np

TASKS = ("digits", "japanese_vowels", "mnist1d", "reverse")
# The tasks whose targets are sequences: an encoder-decoder, not a
# classifier of the last output.
SEQUENCE_TO_SEQUENCE = ("reverse",)
# Display name -> how to build the layer: a search-space name or a class of
# the package, and arguments. V = PeepholeLSTM, NP = LSTM, CIFG =
# CoupledLSTM with peepholes, as in Greff et al.
VARIANTS = {
    "LSTM (NP)": ("search_space", "NP", {}),
    "PeepholeLSTM (V)": ("search_space", "V", {}),
    "CoupledLSTM (forget bias 1)": (
        "CoupledLSTM", None, {"unit_forget_bias": True}),
    "CoupledLSTM (forget bias 0)": (
        "CoupledLSTM", None, {"unit_forget_bias": False}),
    "CIFG (forget bias 1)": (
        "search_space", "CIFG", {"unit_forget_bias": True}),
    "CIFG (forget bias 0)": (
        "search_space", "CIFG", {"unit_forget_bias": False}),
    "LayerNormLSTM": ("LayerNormLSTM", None, {}),
    "NIG (forget bias 1)": ("search_space", "NIG", {"unit_forget_bias": True}),
    "NIG (forget bias 0)": (
        "search_space", "NIG", {"unit_forget_bias": False}),
    "NFG": ("search_space", "NFG", {}),
    "NOG": ("search_space", "NOG", {}),
    "NIAF": ("search_space", "NIAF", {}),
    "NOAF": ("search_space", "NOAF", {}),
    "FGR": ("search_space", "FGR", {}),
    # Feng et al.'s minimal RNNs: gates that read only x_t, trained by a
    # parallel scan over time (mode="auto").
    "MinLSTM": ("MinLSTM", None, {}),
    "MinGRU": ("MinGRU", None, {}),
    # xLSTM's cells with their defaults: sLSTM one head, the official
    # initialisation; mLSTM 4 heads (mode="auto").
    "SLSTM": ("SLSTM", None, {}),
    "MLSTM": ("MLSTM", None, {}),
    # The GRU family: Keras's GRU (reset after the matmul, its default),
    # Cho et al.'s first form (reset before), haste's layer-normalised GRU,
    # Zhou et al.'s MGU, and Dey & Salem's gate variants.
    "GRU": ("GRU", None, {}),
    "GRU (reset before)": ("GRU", None, {"reset_after": False}),
    "LayerNormGRU": ("LayerNormGRU", None, {}),
    "MGU": ("MGU", None, {}),
    "GRU1": ("GRU1", None, {}),
    "GRU2": ("GRU2", None, {}),
    "GRU3": ("GRU3", None, {}),
    # xLSTM as the paper builds it: the block in place of the layer
    # (`BLOCKS`), 4 heads, the official defaults otherwise.
    "MLSTMBlock": ("MLSTMBlock", None, {"num_heads": 4}),
    "SLSTMBlock": ("SLSTMBlock", None, {"num_heads": 4}),
}
# The variants that are xLSTM blocks, maps of (batch, T, E) to the same
# shape: in the models, a Dense(units) projects the input into the block's
# width E, and the classifier reads the block's output at the last step the
# other variants' Masking keeps (the blocks take no mask; padding, all
# zeros, comes after the real steps).
BLOCKS = ("MLSTMBlock", "SLSTMBlock")
# Other names a reader may use for a variant: the class, the search-space
# name; a class alone means its default forget-gate bias (DEFAULT_FORGET_BIAS).
DEFAULT_FORGET_BIAS = {"CoupledLSTM": 0, "CIFG": 0, "NIG": 0}
ALIASES = {
    "LSTM": "LSTM (NP)", "NP": "LSTM (NP)",
    "PeepholeLSTM": "PeepholeLSTM (V)", "V": "PeepholeLSTM (V)",
    **{name: f"{name} (forget bias {bias})"
       for name, bias in DEFAULT_FORGET_BIAS.items()},
    "NoInputGateLSTM": f"NIG (forget bias {DEFAULT_FORGET_BIAS['NIG']})",
    "NoForgetGateLSTM": "NFG",
    "NoOutputGateLSTM": "NOG", "NoInputActivationLSTM": "NIAF",
    "NoOutputActivationLSTM": "NOAF", "FullGateRecurrenceLSTM": "FGR",
}
# The packages each task's data comes from (module names).
TASK_MODULES = {"digits": "sklearn", "japanese_vowels": "sktime",
                "mnist1d": "mnist1d", "reverse": None}
# Epochs per task: the same for every variant (the budget).
EPOCHS = {"digits": 30, "japanese_vowels": 40, "mnist1d": 30, "reverse": 25}
# The reversal task: string length, training and test strings.
REVERSE_LENGTH, REVERSE_TRAIN, REVERSE_TEST = 8, 10_000, 1_000
# --quick, a smoke test of the whole study (the classifier and the
# encoder-decoder, tables, plot): these tasks and variants unless --tasks or
# --variants are given, one epoch on 64 sequences, one seed. Each model
# costs its compilation and first run (5-10 s on a 2-core CPU), whatever
# the budget: the quick run of every task and variant (76 models) took
# 520 s with TensorFlow.
QUICK_TASKS = ("digits", "reverse")
QUICK_VARIANTS = ("LSTM (NP)",)
# Published test accuracies on the same data, for comparison.
PUBLISHED = {
    "mnist1d": "logistic regression 32%, MLP 68%, CNN 94%, GRU 91%, human "
    "expert 96% (Greydanus 2020, the mnist1d README)",
}


def variant_name(name):
    """The display name of `name`, which may be an alias (`ALIASES`)."""
    return ALIASES.get(name, name)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _common.add_backend_option(p)
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS,
                   help="data sets")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS),
                   type=variant_name, choices=list(VARIANTS),
                   metavar="VARIANT",
                   help="any of: " + ", ".join(VARIANTS) + "; or "
                   + ", ".join(ALIASES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                   help="one run per seed and variant")
    p.add_argument("--units", type=int, default=32, help="units of each layer")
    p.add_argument("--batch-size", type=int, default=32, help="batch size")
    p.add_argument("--learning-rate", type=float, default=3e-3,
                   help="Adam's learning rate")
    p.add_argument("--epochs", type=int, default=None,
                   help="the same for every task (None: per task, "
                   + ", ".join(f"{t} {e}" for t, e in EPOCHS.items()) + ")")
    p.add_argument("--output", default="study_output",
                   help="folder for results.json, results.md, results.png")
    p.add_argument("--quick", action="store_true",
                   help="a smoke test (15-30 s): one epoch on 64 training "
                   "(and test) sequences, one seed, and unless given, "
                   "--tasks " + " ".join(QUICK_TASKS) + " and --variants "
                   + ", ".join(QUICK_VARIANTS))
    p.add_argument("--dtw-baseline", action="store_true",
                   help="train nothing: the 1-nearest-neighbour DTW "
                   "classifier (the UEA archive's benchmark) on each task, "
                   "into --output/dtw_baseline.json")
    p.add_argument("--combine", nargs="+", type=pathlib.Path, metavar="DIR",
                   help="train nothing: summarise the results.json of runs "
                   "made in parallel (e.g. one task each) into --output")
    known, _ = p.parse_known_args(argv)
    if known.quick:
        p.set_defaults(tasks=list(QUICK_TASKS), variants=list(QUICK_VARIANTS))
    args = p.parse_args(argv)
    if args.quick:
        args.seeds = args.seeds[:1]
        args.epochs = 1
    return args


def load_task(name, quick=False):
    """`(x_train, y_train, x_test, y_test, classes)`, x of shape (N, T, F);
    padded steps are all zeros (JapaneseVowels), marked by `Masking`."""

    if name == "digits":  # 8 steps of one 8-pixel row
        x_train, y_train, x_test, y_test = _common.load_digits()
        classes = 10
    elif name == "japanese_vowels":
        from sktime.datasets import load_japanese_vowels

        def padded(split):
            x, y = load_japanese_vowels(split=split, return_X_y=True)
            series = [
                np.stack([np.asarray(x.iloc[i, j]) for j in range(x.shape[1])],
                         axis=-1)
                for i in range(len(x))
            ]
            out = np.zeros((len(series), 29, series[0].shape[1]), "float32")
            for i, s in enumerate(series):
                out[i, : len(s)] = s
            return out, np.asarray(y).astype(int) - 1

        x_train, y_train = padded("train")
        x_test, y_test = padded("test")
        classes = 9
    elif name == "mnist1d":
        from mnist1d.data import get_dataset_args
        from mnist1d.data import make_dataset

        data = make_dataset(get_dataset_args())
        x_train = data["x"][..., None].astype("float32")
        x_test = data["x_test"][..., None].astype("float32")
        y_train, y_test = data["y"], data["y_test"]
        classes = 10
    elif name == "reverse":
        x_train, y_train, x_test, y_test = reversal_strings(
            REVERSE_TRAIN, REVERSE_TEST, REVERSE_LENGTH)
        classes = 10
    else:
        raise ValueError(f"Argument `task` must be one of {TASKS}. "
                         f"Received: task={name!r}.")
    if quick:
        x_train, y_train = x_train[:64], y_train[:64]
        x_test, y_test = x_test[:64], y_test[:64]
    return x_train, np.asarray(y_train), x_test, np.asarray(y_test), classes


def reversal_strings(train, test, length, seed=0):
    """`(x_train, y_train, x_test, y_test)`: random digit strings one-hot,
    x of shape `(N, length, 10)`, and the digits reversed, y of shape
    `(N, length)`; the same strings for every seed of the study."""
    digits = np.random.default_rng(seed).integers(
        0, 10, size=(train + test, length))
    x = np.eye(10, dtype="float32")[digits]
    y = digits[:, ::-1].copy()
    return x[:train], y[:train], x[train:], y[train:]


def build_layer(variant, units, **arguments):
    """The variant's layer of `units`; a block (`BLOCKS`) takes its width
    from its input, and `arguments` are a layer's (`return_sequences`)."""
    import keras_lstm_variants as klv

    kind, name, own = VARIANTS[variant]
    if kind == "search_space":
        return klv.search_space.layer(name, units, **own, **arguments)
    if kind in BLOCKS:
        return getattr(klv, kind)(**own)
    return getattr(klv, kind)(units, **own, **arguments)


def last_real_step(outputs, inputs):
    """`outputs` `(batch, T, E)` at each sequence's last step whose input
    is not all zeros (the last step `Masking(0.0)` keeps; the first step if
    none is kept)."""
    from keras import ops

    real = ops.any(ops.not_equal(inputs, 0.0), axis=-1)
    steps = ops.shape(inputs)[1]
    last = ops.max(ops.where(real, ops.arange(steps)[None], 0), axis=1)
    pick = ops.one_hot(last, steps, dtype=outputs.dtype)
    return ops.sum(outputs * pick[:, :, None], axis=1)


def build_block_model(task, variant, units, input_shape, classes):
    """The block in place of the layer (`BLOCKS`): Dense(units), the block,
    its output at the last real step; for a sequence-to-sequence task, then
    `RepeatVector` and a second block of the same kind."""
    import keras

    inputs = keras.Input(input_shape)
    x = build_layer(variant, units)(keras.layers.Dense(units)(inputs))
    x = keras.layers.Lambda(lambda pair: last_real_step(*pair))([x, inputs])
    if task in SEQUENCE_TO_SEQUENCE:
        x = keras.layers.RepeatVector(input_shape[0])(x)
        x = build_layer(variant, units)(x)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def build_model(task, variant, units, input_shape, classes):
    """A classifier of the layer's last output (`Masking` first: padded
    steps are all zeros); for a sequence-to-sequence task, an encoder and a
    decoder of the same variant, joined by `RepeatVector`."""
    import keras

    if VARIANTS[variant][0] in BLOCKS:
        return build_block_model(task, variant, units, input_shape, classes)
    if task in SEQUENCE_TO_SEQUENCE:
        layers = [
            build_layer(variant, units),
            keras.layers.RepeatVector(input_shape[0]),
            build_layer(variant, units, return_sequences=True),
        ]
    else:
        layers = [keras.layers.Masking(0.0), build_layer(variant, units)]
    return keras.Sequential([
        keras.Input(input_shape), *layers,
        keras.layers.Dense(classes, activation="softmax"),
    ])


def run_one(task, data, variant, seed, args):
    import keras

    x_train, y_train, x_test, y_test, classes = data
    keras.utils.set_random_seed(seed)
    model = build_model(task, variant, args.units, x_train.shape[1:], classes)
    model.compile(keras.optimizers.Adam(args.learning_rate),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    epochs = args.epochs or EPOCHS[task]
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=epochs,
              shuffle=True, verbose=0)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    return {
        "task": task, "variant": variant, "seed": seed, "epochs": epochs,
        "test_accuracy": float(accuracy), "parameters": model.count_params(),
        "train_seconds": seconds,
    }


def summary(runs, tasks, variants):
    """One Markdown table per task: mean and spread over the seeds."""
    lines = []
    for task in tasks:
        lines += [f"### {task}", "",
                  "| variant | test accuracy (mean ± sd) | min-max | "
                  "parameters | train s |", "|---|---:|---:|---:|---:|"]
        for variant in variants:
            rows = [r for r in runs if r["task"] == task
                    and r["variant"] == variant]
            if not rows:
                continue
            acc = [r["test_accuracy"] for r in rows]
            sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
            lines.append(
                f"| {variant} | {100 * statistics.mean(acc):.1f} ± "
                f"{100 * sd:.1f} | {100 * min(acc):.1f}-{100 * max(acc):.1f}"
                f" | {rows[0]['parameters']} | "
                f"{statistics.mean(r['train_seconds'] for r in rows):.0f} |"
            )
        if task in SEQUENCE_TO_SEQUENCE:
            lines += ["", "Test accuracy: per digit of the decoded strings."]
        if task in PUBLISHED:
            lines += ["", f"Published: {PUBLISHED[task]}."]
        lines.append("")
    return "\n".join(lines)


def plot(runs, tasks, variants, path):
    if not _common.can_plot(path):
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 5),
                             squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        means, sds = [], []
        for variant in variants:
            acc = [r["test_accuracy"] for r in runs
                   if r["task"] == task and r["variant"] == variant]
            means.append(np.mean(acc))
            sds.append(np.std(acc, ddof=1) if len(acc) > 1 else 0.0)
        ax.barh(range(len(variants)), means, xerr=sds, color="tab:blue")
        ax.set_yticks(range(len(variants)), variants)
        ax.invert_yaxis()
        ax.set_xlim(max(0.0, min(means) - 0.1), 1.0)
        ax.set_xlabel("test accuracy (mean ± sd over seeds)")
        ax.set_title(task)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def dtw_distances(series, references, reference_lengths):
    """Dependent multivariate DTW (squared Euclidean cost, no window) from
    `series` `(T, F)` to each of `references` `(N, T_max, F)`, zero-padded
    to `reference_lengths`: the distances, shape `(N,)`."""
    cost = ((series[None, :, None, :] - references[:, None, :, :]) ** 2).sum(-1)
    steps, width = cost.shape[1], cost.shape[2]
    total = np.full((len(references), steps + 1, width + 1), np.inf)
    total[:, 0, 0] = 0.0
    for p in range(1, steps + 1):
        for q in range(1, width + 1):
            total[:, p, q] = cost[:, p - 1, q - 1] + np.minimum(
                np.minimum(total[:, p - 1, q], total[:, p, q - 1]),
                total[:, p - 1, q - 1],
            )
    return total[np.arange(len(references)), steps, reference_lengths]


def dtw_nearest_neighbour_accuracy(x_train, y_train, x_test, y_test):
    """Test accuracy of 1-NN DTW; trailing all-zero steps are padding."""
    def lengths(x):
        present = np.abs(x).sum(-1) > 0
        return x.shape[1] - np.argmax(present[:, ::-1], axis=1)

    train_lengths, test_lengths = lengths(x_train), lengths(x_test)
    hits = 0
    for series, length, label in zip(
        x_test, test_lengths, y_test, strict=False
    ):
        distances = dtw_distances(series[:length], x_train, train_lengths)
        hits += y_train[np.argmin(distances)] == label
    return hits / len(y_test)


def main(argv=None):
    args = parse_args(argv)
    if not args.combine:  # the data of every task, before any training
        _common.require(
            "--tasks " + " ".join(args.tasks),
            *dict.fromkeys(TASK_MODULES[t] for t in args.tasks
                           if TASK_MODULES[t]),
        )
    if args.dtw_baseline:
        output = pathlib.Path(args.output)
        output.mkdir(parents=True, exist_ok=True)
        baseline = {}
        for task in (t for t in args.tasks if t not in SEQUENCE_TO_SEQUENCE):
            x_train, y_train, x_test, y_test, _ = load_task(task, args.quick)
            baseline[task] = dtw_nearest_neighbour_accuracy(
                x_train, y_train, x_test, y_test
            )
            print(f"{task:16s} 1-NN DTW test accuracy {baseline[task]:.4f}")
        (output / "dtw_baseline.json").write_text(json.dumps(baseline) + "\n")
        return baseline
    _common.use_backend(args)
    import keras

    import keras_lstm_variants as klv

    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    runs, commands, arguments = [], [], []
    for folder in args.combine or []:
        # A later folder's run replaces an earlier one of the same task,
        # variant and seed; variants no longer in the study are left out.
        part = json.loads((folder / "results.json").read_text())
        keys = {(r["task"], r["variant"], r["seed"]) for r in part["runs"]}
        runs = [r for r in runs
                if (r["task"], r["variant"], r["seed"]) not in keys]
        runs += [r for r in part["runs"] if r["variant"] in VARIANTS]
        commands.append(part["command"])
        arguments.append(part["arguments"])
    if args.combine:
        args.tasks = [t for t in TASKS if any(r["task"] == t for r in runs)]
        args.variants = [v for v in VARIANTS
                         if any(r["variant"] == v for r in runs)]
    for task in [] if args.combine else args.tasks:
        data = load_task(task, args.quick)
        for seed in args.seeds:
            for variant in args.variants:
                run = run_one(task, data, variant, seed, args)
                runs.append(run)
                print(f"{task:16s} seed {seed} {variant:30s} "
                      f"acc {run['test_accuracy']:.4f} "
                      f"{run['train_seconds']:.0f} s", flush=True)
    table = summary(runs, args.tasks, args.variants)
    command = " ".join(["python examples/variant_study.py"] + sys.argv[1:])
    meta = {
        "command": "; ".join(commands) if commands else command,
        "arguments": arguments if args.combine else vars(args),
        "versions": {"keras": keras.__version__,
                     "keras_lstm_variants": klv.__version__,
                     "backend": args.backend,
                     "python": platform.python_version()},
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    (output / "results.json").write_text(
        json.dumps({**meta, "runs": runs}, indent=1, default=str))
    (output / "results.md").write_text(
        f"Command(s): `{meta['command']}`; {meta['versions']}; "
        f"{meta['machine']}; seeds {sorted({r['seed'] for r in runs})}."
        f"\n\n{table}")
    plot(runs, args.tasks, args.variants, output / "results.png")
    print(table)


if __name__ == "__main__":
    main()
