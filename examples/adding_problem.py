"""The adding problem: can each LSTM variant remember two numbers for T steps?

Hochreiter & Schmidhuber's (1997) long-term memory benchmark, in its common
modern form: each step carries a value drawn uniformly from [0, 1] and a
marker; exactly two steps are marked (one in each half of the sequence), and
the target is the sum of the two marked values. Always predicting the mean
(1.0) scores a mean squared error of 1/6 ~= 0.167: a model only beats that by
carrying information across up to T steps.

The demo trains the four layers of keras_lstm_variants and a SimpleRNN
baseline (same units, same steps, same data), then writes to --output:

- results.json: one entry per model (model, test_mse, train_seconds,
  parameters, and the learning curve),
- learning_curves.png: test MSE against training step, log scale,
- best_model.keras: the model with the lowest test MSE, which the demo then
  reloads and checks to predict identically.

Run `python examples/adding_problem.py --help` for the options; `make demo`
runs it with the defaults. Everything is generated: no download.
`--quick` is a smoke test of the same code (LSTM and SimpleRNN, 20 steps of
length 20): 5-25 s on a 2-core CPU (busy or not), most of it compiling.
"""

import argparse
import json
import pathlib
import sys
import time

import _common

BASELINE_MSE = 1.0 / 6.0  # variance of the sum of two U(0, 1) values
VARIANTS = ("LSTM", "PeepholeLSTM", "CoupledLSTM", "LayerNormLSTM", "SimpleRNN")
# --quick: a smoke test of the whole run (training, curves, plot, the best
# model saved and reloaded) on a tiny budget; an option given explicitly
# wins. Each model costs its compilation (seconds), whatever the budget.
QUICK = {"length": 20, "steps": 20, "evaluations": 2, "test_size": 200,
         "units": 8, "variants": ["LSTM", "SimpleRNN"]}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--length", type=int, default=100, help="sequence length T"
    )
    parser.add_argument(
        "--steps", type=int, default=3000, help="training steps per model"
    )
    parser.add_argument(
        "--units", type=int, default=32, help="units of each recurrent layer"
    )
    parser.add_argument(
        "--batch-size", type=int, default=64, help="sequences per training step"
    )
    parser.add_argument(
        "--learning-rate", type=float, default=3e-3, help="Adam's learning rate"
    )
    parser.add_argument(
        "--evaluations",
        type=int,
        default=15,
        help="points on the learning curve",
    )
    parser.add_argument(
        "--test-size", type=int, default=2000, help="test sequences"
    )
    parser.add_argument(
        "--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS,
        metavar="NAME", help=f"models to train, among {', '.join(VARIANTS)}",
    )
    _common.add_backend_option(parser)
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the data and the weights"
    )
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=pathlib.Path("demo_output"),
        help="folder for results.json, the plot and the best model",
    )
    parser.add_argument(
        "--verbose",
        type=int,
        default=1,
        choices=(0, 1, 2),
        help="Keras fit verbosity",
    )
    parser.add_argument(
        "--quick", action="store_true",
        help="a smoke test (5-25 s) of the same code: the defaults become "
        + ", ".join(f"--{k.replace('_', '-')} "
                    + (" ".join(v) if isinstance(v, list) else str(v))
                    for k, v in QUICK.items()),
    )
    known, _ = parser.parse_known_args(argv)
    if known.quick:
        parser.set_defaults(**QUICK)
    args = parser.parse_args(argv)
    for name in (
        "length",
        "steps",
        "units",
        "batch_size",
        "evaluations",
        "test_size",
    ):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.length < 2:
        parser.error("--length must be at least 2: two steps are marked")
    return args


def adding_problem(rng, size, length):
    """Returns (x, y): x of shape (size, length, 2), y of shape (size, 1)."""
    import numpy as np

    values = rng.uniform(0.0, 1.0, (size, length))
    half = length // 2
    first = rng.integers(0, half, size)
    second = rng.integers(half, length, size)
    markers = np.zeros((size, length))
    markers[np.arange(size), first] = 1.0
    markers[np.arange(size), second] = 1.0
    x = np.stack([values, markers], axis=-1).astype("float32")
    y = (values * markers).sum(axis=1, keepdims=True).astype("float32")
    return x, y


def build_model(name, length, units):
    import keras

    import keras_lstm_variants as klv

    layer_class = getattr(klv, name, None) or getattr(keras.layers, name)
    inputs = keras.Input((length, 2))
    outputs = keras.layers.Dense(1)(layer_class(units)(inputs))
    return keras.Model(inputs, outputs, name=name)


def train(name, args, test_set):
    import keras
    import numpy as np

    class FreshBatches(keras.utils.PyDataset):
        """A new batch of the problem for every training step."""

        def __init__(self, epoch_steps, seed):
            super().__init__()
            self.epoch_steps, self.seed, self.epoch = epoch_steps, seed, 0

        def __len__(self):
            return self.epoch_steps

        def __getitem__(self, index):
            rng = np.random.default_rng([self.seed, self.epoch, index])
            return adding_problem(rng, args.batch_size, args.length)

        def on_epoch_end(self):
            self.epoch += 1

    keras.utils.set_random_seed(args.seed)
    model = build_model(name, args.length, args.units)
    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=1.0),
        loss="mse",
    )
    epoch_steps = max(1, args.steps // args.evaluations)
    epochs = max(1, args.steps // epoch_steps)
    print(
        f"\n{name}: {model.count_params()} parameters, "
        f"{epochs * epoch_steps} steps of {args.batch_size} sequences of "
        f"length {args.length}"
    )
    start = time.perf_counter()
    history = model.fit(
        FreshBatches(epoch_steps, args.seed),
        epochs=epochs,
        validation_data=test_set,
        validation_batch_size=500,
        verbose=args.verbose,
    )
    seconds = time.perf_counter() - start
    curve = [float(v) for v in history.history["val_loss"]]
    result = {
        "model": name,
        "test_mse": curve[-1],
        "train_seconds": round(seconds, 1),
        "parameters": int(model.count_params()),
        "curve_steps": [epoch_steps * (i + 1) for i in range(len(curve))],
        "curve_test_mse": curve,
    }
    return result, model


def plot(results, path):
    """Draws the learning curves into `path`; False without matplotlib."""
    if not _common.can_plot(path):
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8.5, 4.2), dpi=120)
    for result in results:
        axes.plot(result["curve_steps"], result["curve_test_mse"], marker="o",
                  markersize=3, label=result["model"])
    axes.axhline(BASELINE_MSE, color="grey", linestyle="--",
                 label="predict the mean (0.167)")
    axes.set_yscale("log")
    axes.set_xlabel("training step")
    axes.set_ylabel("test MSE")
    axes.set_title("Adding problem: test MSE during training")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True


def table(results):
    lines = [
        "| model | test MSE | parameters | train seconds |",
        "|---|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['test_mse']:.4f} | {r['parameters']} "
            f"| {r['train_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    _common.use_backend(args)  # before Keras is imported
    import keras
    import numpy as np

    import keras_lstm_variants  # noqa: F401  registers the classes for loading

    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}")
    args.output.mkdir(parents=True, exist_ok=True)
    test_x, test_y = adding_problem(
        np.random.default_rng([args.seed, 2**31]), args.test_size, args.length
    )
    results, best = [], None
    for name in args.variants:
        result, model = train(name, args, (test_x, test_y))
        results.append(result)
        if best is None or result["test_mse"] < best[0]["test_mse"]:
            best = (result, model)

    (args.output / "results.json").write_text(
        json.dumps(results, indent=2) + "\n"
    )
    drawn = plot(results, args.output / "learning_curves.png")

    result, model = best
    path = args.output / "best_model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    difference = np.max(
        np.abs(
            reloaded.predict(test_x, verbose=0)
            - model.predict(test_x, verbose=0)
        )
    )
    if difference > 1e-5:
        print(f"error: the reloaded {result['model']} predicts differently "
              f"(max abs difference {difference:.2e})", file=sys.stderr)
        return 1

    print(f"\nAdding problem, T={args.length}, {args.steps} steps, "
          f"{args.units} units, backend {keras.backend.backend()}; "
          f"predicting the mean scores {BASELINE_MSE:.3f}.\n")
    print(table(results))
    print(f"\nBest: {result['model']}, saved to {path} and reloaded: "
          f"predictions identical (max abs difference {difference:.1e}).")
    print(f"Wrote {args.output / 'results.json'}"
          + (f" and {args.output / 'learning_curves.png'}." if drawn else "."))
    return 0


if __name__ == "__main__":
    sys.exit(main())
