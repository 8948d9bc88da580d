"""Imported first by the package: names a Keras backend that is missing.

Keras imports its backend (`KERAS_BACKEND`, TensorFlow by default) when it
is itself imported; where that backend is not installed, Keras fails with
`No module named 'tensorflow'` from deep inside its own import. This says
what to install and which variable selects the backend instead.
"""

import importlib.util
import os

# Keras's backends that are separate packages (NumPy's is always there).
BACKENDS = ("tensorflow", "jax", "torch", "openvino")


def missing_backend_error(error):
    """The `ModuleNotFoundError` to raise for Keras's failed import."""
    missing = error.name.partition(".")[0]
    chosen = os.environ.get("KERAS_BACKEND")
    how = (
        f"KERAS_BACKEND={chosen}"
        if chosen
        else "KERAS_BACKEND is not set, and Keras's default is tensorflow"
    )
    installed = [b for b in BACKENDS if b != missing and _installed(b)]
    if installed:
        hint = (
            f"Installed here: {', '.join(installed)}; select one with e.g. "
            f"`export KERAS_BACKEND={installed[0]}`."
        )
    else:
        hint = "No backend is installed here."
    return ModuleNotFoundError(
        f"Keras's backend {missing!r} is not installed ({how}). "
        f"{hint} To install one with this package: `pip install "
        '"keras-lstm-variants[jax]"` (or [tensorflow], or [torch]; '
        "[openvino] for inference), or from a checkout of its repository "
        '`pip install ".[jax]"`; set KERAS_BACKEND before Keras is first '
        "imported.",
        name=missing,
    )


def _installed(module):
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


try:
    import keras  # noqa: F401  (imports its backend)
except ModuleNotFoundError as error:
    if (error.name or "").partition(".")[0] not in BACKENDS:
        raise
    raise missing_backend_error(error) from error
