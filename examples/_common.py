"""What the examples share: options, backend, requirements, data, outputs."""

import argparse
import functools
import importlib.util
import json
import os
import pathlib
import sys

BACKENDS = ("jax", "tensorflow", "torch")  # in the order of the default
# module -> (what pip installs, the package's extra that has it)
PACKAGES = {
    "tensorflow": ("tensorflow", "tensorflow"),
    "tensorflow_datasets": ("tensorflow-datasets", "tfds"),
    "sklearn": ("scikit-learn", "examples"),
    "sktime": ("sktime", "examples"),
    "mnist1d": ("mnist1d", "examples"),
    "matplotlib": ("matplotlib", "examples"),
    "statsmodels": ("statsmodels", "examples"),
    "grain": ("grain", "examples"),
    "ai_edge_litert": ("ai-edge-litert", "export"),
    "tflite_micro": ("tflite-micro", "export"),
    "jax": ("jax", "jax"),
    "torch": ("torch", "torch"),
}


class DataUnavailable(SystemExit):
    """Raised (and exiting with status 2) when tfds cannot provide the data."""


class MissingPackages(SystemExit):
    """Raised (exiting with status 2), before any training, when a package
    the example needs is not installed."""


def installed(module):
    """Whether `module` can be imported (without importing it)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    return importlib.util.find_spec(module) is not None


def require(purpose, *modules):
    """Exits with the pip command that installs what `purpose` needs, if a
    module of `modules` is missing: before anything is trained."""
    missing = [module for module in modules if not installed(module)]
    if not missing:
        return
    names = " ".join(PACKAGES.get(m, (m, None))[0] for m in missing)
    extras = sorted({PACKAGES[m][1] for m in missing if m in PACKAGES})
    print(
        f"{purpose} needs {', '.join(missing)}, not installed here. Install "
        f"with `pip install {names}`"
        + (f' (or `pip install "keras-lstm-variants[{",".join(extras)}]"`;'
           f' from a checkout, `pip install ".[{",".join(extras)}]"`)'
           if extras else "")
        + ".",
        file=sys.stderr,
    )
    raise MissingPackages(2)


def default_backend():
    """`KERAS_BACKEND` if set, else the first installed of `BACKENDS`."""
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen:
        return chosen
    return next((b for b in BACKENDS if installed(b)), "tensorflow")


def add_backend_option(p):
    p.add_argument(
        "--backend", default=default_backend(), choices=BACKENDS,
        help="Keras backend: KERAS_BACKEND if set, else the first installed "
        "of " + ", ".join(BACKENDS),
    )


def parser(description, default_output, argv=None, **defaults):
    """The options of the dataset examples; `argv` (None: `sys.argv[1:]`)
    is read for `--backend` first, to list the package's layers
    (`add_variant_option`)."""
    p = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_variant_option(p, argv)
    p.add_argument("--epochs", type=int, default=defaults.get("epochs", 5),
                   help="training epochs")
    p.add_argument("--units", type=int, default=defaults.get("units", 64),
                   help="units of the recurrent layer")
    p.add_argument("--batch-size", type=int,
                   default=defaults.get("batch_size", 64), help="batch size")
    p.add_argument(
        "--data-dir", type=pathlib.Path, default=None,
        help="tensorflow_datasets data directory (None: "
        "~/tensorflow_datasets)",
    )
    p.add_argument("--output", type=pathlib.Path,
                   default=pathlib.Path(default_output),
                   help="folder for the model, history and plot")
    add_backend_option(p)
    p.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                   help="Keras fit verbosity")
    return p


def use_backend(args):
    """Selects `args.backend` before Keras is imported; exits with what to
    install if that backend is not installed."""
    require(f"--backend {args.backend}", args.backend)
    os.environ["KERAS_BACKEND"] = args.backend  # before Keras is imported


def load(name, data_dir, **kwargs):
    """`tfds.load`, turning a failed download into a clear message."""
    import tensorflow_datasets as tfds

    try:
        return tfds.load(name, data_dir=data_dir, with_info=True, **kwargs)
    except Exception as error:  # tfds raises many kinds when offline
        where = data_dir or "~/tensorflow_datasets"
        reason = (
            str(error).strip().splitlines()[0] if str(error).strip() else ""
        )
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
    """What builds the layer `name` (one of `all_variants()`) from `units`
    and its arguments (`name=` included): the class, or for a search-space
    name its layer with the arguments that define it (CIFG: CoupledLSTM
    with `use_peepholes=True`), from `keras_lstm_variants.search_space`."""
    import keras_lstm_variants as klv

    if name in search_space_names():
        return functools.partial(klv.search_space.layer, name)
    return getattr(klv, name)


def fit_and_save(model, train, test, args, **fit_options):
    """Fits on `train` (a batched, already shuffled dataset, or arrays
    `(x, y)` with `fit_options` such as `batch_size`), validating on `test`
    after every epoch, writes the outputs and returns the test accuracy."""
    x, y = train if isinstance(train, tuple) else (train, None)
    options = {"shuffle": False, **fit_options}
    history = model.fit(
        x, y, validation_data=test, epochs=args.epochs,
        verbose=args.verbose, **options,
    )
    save_outputs(model, history, args.output)
    return history.history["val_accuracy"][-1]


def can_plot(path):
    """Whether matplotlib is there to draw `path`; says so if it is not."""
    if installed("matplotlib"):
        return True
    print(f"matplotlib is not installed: {path} not drawn "
          "(`pip install matplotlib`).")
    return False


def save_outputs(model, history, output, metric="accuracy"):
    """Writes model.keras, history.json and training.png (with matplotlib)
    into `output`."""
    output.mkdir(parents=True, exist_ok=True)
    model.save(output / "model.keras")
    values = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    (output / "history.json").write_text(json.dumps(values, indent=2) + "\n")
    if not can_plot(output / "training.png"):
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.5), dpi=110)
    epochs = range(1, len(values["loss"]) + 1)
    for ax, key in zip(axes, ("loss", metric), strict=True):
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


def choose_backend(argv=None):
    """Selects the backend of `--backend` in `argv` (None: `sys.argv[1:]`;
    else `default_backend()`) before Keras is imported, so that the options
    can list the package's layers (`package_layers`) and Keras still runs
    on the backend asked for; exits with what to install if it is not
    installed. A name that is not a backend is left to the full parser to
    refuse."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--backend")
    known, _ = pre.parse_known_args(sys.argv[1:] if argv is None else argv)
    backend = known.backend or default_backend()
    if backend in BACKENDS:
        require(f"--backend {backend}", backend)
        os.environ["KERAS_BACKEND"] = backend


@functools.cache
def package_layers():
    """The name of every layer of keras_lstm_variants, in the order of its
    `__all__`: each class there that is a `keras.layers.RNN` (a layer that
    takes sequences: not the cells, which take one step), but the public
    bases of a new variant (`LSTMLayerBase`, named `...Base`). A layer added
    to the package is offered by itself. Imports the package: choose the
    backend first (`choose_backend`)."""
    import keras

    import keras_lstm_variants as klv

    return tuple(
        name for name in klv.__all__
        if isinstance(getattr(klv, name), type)
        and issubclass(getattr(klv, name), keras.layers.RNN)
        and not name.endswith("Base")
    )


def search_space_names():
    """Greff et al.'s search-space names (`keras_lstm_variants.search_space`:
    V, NIG, ..., CIFG, FGR)."""
    import keras_lstm_variants as klv

    return tuple(klv.search_space.NAMES)


def all_variants():
    """What `--variant` takes: every layer of the package
    (`package_layers`), then every search-space name."""
    return package_layers() + search_space_names()


def add_variant_option(p, argv=None, default="LSTM"):
    """Adds `--variant` to the parser `p`, taking `all_variants()`; reads
    `--backend` from `argv` first (`choose_backend`): the package is
    imported to list its layers."""
    choose_backend(argv)
    p.add_argument(
        "--variant", default=default, choices=all_variants(),
        metavar="VARIANT",
        help="a layer of keras_lstm_variants (" + ", ".join(package_layers())
        + ") or a name of Greff et al.'s search space ("
        + ", ".join(search_space_names()) + ")",
    )
