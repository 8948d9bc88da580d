"""What the dataset examples share: options, loading with tfds, outputs."""

import argparse
import json
import os
import pathlib
import sys

VARIANTS = ("LSTM", "PeepholeLSTM", "CoupledLSTM", "LayerNormLSTM")


class DataUnavailable(SystemExit):
    """Raised (and exiting with status 2) when tfds cannot provide the data."""


def parser(description, default_output, **defaults):
    p = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--variant", default="LSTM", choices=VARIANTS)
    p.add_argument("--epochs", type=int, default=defaults.get("epochs", 5))
    p.add_argument("--units", type=int, default=defaults.get("units", 64))
    p.add_argument("--batch-size", type=int, default=defaults.get("batch_size", 64))
    p.add_argument(
        "--data-dir", type=pathlib.Path, default=None,
        help="tensorflow_datasets data directory (default: ~/tensorflow_datasets)",
    )
    p.add_argument("--output", type=pathlib.Path, default=pathlib.Path(default_output))
    p.add_argument(
        "--backend", default=os.environ.get("KERAS_BACKEND", "tensorflow"),
        choices=("tensorflow", "jax", "torch"),
    )
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    return p


def use_backend(args):
    os.environ["KERAS_BACKEND"] = args.backend  # before Keras is imported


def load(name, data_dir, **kwargs):
    """`tfds.load`, turning a failed download into a clear message."""
    import tensorflow_datasets as tfds

    try:
        return tfds.load(name, data_dir=data_dir, with_info=True, **kwargs)
    except Exception as error:  # tfds raises many kinds when offline
        where = data_dir or "~/tensorflow_datasets"
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        message = (
            f"Could not load the '{name}' dataset with tensorflow_datasets "
            f"({type(error).__name__}: {reason[:300]}). It is downloaded on "
            f"first use and prepared in {where}; this needs network access. "
            f"On a machine with network, run `python -c \"import "
            f"tensorflow_datasets as tfds; tfds.load('{name}', "
            f"data_dir='DIR')\"`, copy DIR here and pass --data-dir DIR "
            "(or run this script there once with the same --data-dir)."
        )
        print(message, file=sys.stderr)
        raise DataUnavailable(2) from error


def load_digits():
    """scikit-learn's digits, offline: 1,797 real handwritten digits of 8x8
    pixels in [0, 1], as `(x_train, y_train, x_test, y_test)`, a fixed
    stratified split of 1,257 training and 540 test images."""
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    data = sklearn_digits()
    images = (data.images / 16.0).astype("float32")
    x_train, x_test, y_train, y_test = train_test_split(
        images, data.target, test_size=0.3, stratify=data.target, random_state=0
    )
    return x_train, y_train, x_test, y_test


def layer_class(name):
    import keras_lstm_variants as klv

    return getattr(klv, name)


def fit_and_save(model, train, test, args):
    """Fits on `train` (batched, already shuffled), validating on `test`
    after every epoch, writes the outputs and returns the test accuracy."""
    history = model.fit(
        train, validation_data=test, epochs=args.epochs, shuffle=False,
        verbose=args.verbose,
    )
    save_outputs(model, history, args.output)
    return history.history["val_accuracy"][-1]


def save_outputs(model, history, output, metric="accuracy"):
    """Writes model.keras, history.json and training.png into `output`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    output.mkdir(parents=True, exist_ok=True)
    model.save(output / "model.keras")
    values = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    (output / "history.json").write_text(json.dumps(values, indent=2) + "\n")
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.5), dpi=110)
    epochs = range(1, len(values["loss"]) + 1)
    for ax, key in zip(axes, ("loss", metric)):
        ax.plot(epochs, values[key], marker="o", label="train")
        if f"val_{key}" in values:
            ax.plot(epochs, values[f"val_{key}"], marker="o", label="test")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(True, alpha=0.3)
        ax.legend()
    figure.tight_layout()
    figure.savefig(output / "training.png")
    plt.close(figure)


def all_variants():
    """The name of every layer of the package, for `--variant`: the four
    layers, then Greff et al.'s search-space variants."""
    return VARIANTS + (
        "NoInputGateLSTM", "NoForgetGateLSTM", "NoOutputGateLSTM",
        "NoInputActivationLSTM", "NoOutputActivationLSTM",
        "FullGateRecurrenceLSTM",
    )


def require(script, backend, modules, extra="examples"):
    """Exits with status 2 and an install command when a module the script
    needs (or the Keras backend) is missing: checked before any training."""
    import importlib.util

    backend_module = {"tensorflow": "tensorflow", "jax": "jax",
                      "torch": "torch"}[backend]
    missing = [name for name in (backend_module, *modules)
               if importlib.util.find_spec(name) is None]
    if missing:
        packages = " ".join(
            {"sklearn": "scikit-learn"}.get(name, name) for name in missing
        )
        print(f"{script} needs {', '.join(missing)}, not installed here. "
              f"Install them with `pip install \"keras-lstm-variants"
              f"[{extra},{backend}]\"` (or `pip install {packages}`).",
              file=sys.stderr)
        raise SystemExit(2)
