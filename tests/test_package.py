"""The package's public surface: exports, Keras internals, docstring
examples, signatures, and what importing it does."""

import doctest
import importlib
import inspect
import os
import pkgutil
import subprocess
import sys

import keras
import pytest
from conftest import VARIANTS

import keras_lstm_variants as klv


def test_all_lists_exactly_the_public_classes():
    public = {
        name
        for name, value in vars(klv).items()
        if isinstance(value, type) and not name.startswith("_")
    }
    # Four variants of 0.1.0, six of Greff et al.'s search space, the two
    # minimal RNNs, sLSTM and mLSTM, a cell and a layer each; the two public
    # bases, the error of an incomplete variant and the standard LSTM form;
    # and the search_space, litert and migrate modules.
    assert len(public) == 32
    modules = {"search_space", "litert", "migrate"}
    assert set(klv.__all__) == public | modules
    assert all(inspect.ismodule(getattr(klv, name)) for name in modules)


def _python(code, **environment):
    """Runs `code` in a new interpreter on this backend; its result."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        env={**os.environ, "KERAS_BACKEND": keras.backend.backend(),
             **environment},
    )


@pytest.mark.slow
def test_import_loads_no_other_backend_and_names_a_missing_one():
    # Importing the package imports no backend beyond what Keras imports
    # (migrate and litert import torch and TensorFlow only when called).
    backends = ("tensorflow", "jax", "torch")
    result = _python(
        "import sys, keras; before = set(sys.modules); "
        "import keras_lstm_variants; "
        f"print(sorted(set(sys.modules) - before & set({backends!r})))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "[]"
    # The backend Keras is told to use is missing (hidden from the import
    # system): the error says so, and how to install and select one,
    # instead of Keras's `No module named ...` from inside Keras.
    backend = keras.backend.backend()
    result = _python(
        f"import sys; sys.modules[{backend!r}] = None; "
        "import keras_lstm_variants"
    )
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("ModuleNotFoundError: Keras's backend "
                              f"'{backend}' is not installed "
                              f"(KERAS_BACKEND={backend})"), message
    assert 'pip install "keras-lstm-variants[jax]"' in message
    assert "export KERAS_BACKEND=" in message


# Every public cell and layer, and the guide's variant (a user's).
CLASSES = sorted(
    {c for v in VARIANTS for c in (v.cell, v.layer)}
    | {
        value
        for value in vars(klv).values()
        if isinstance(value, type)
        and issubclass(value, keras.Layer)
        and value not in (klv.LSTMCellBase, klv.LSTMLayerBase)
    },
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_signature_shows_every_argument_with_its_default(cls):
    """`help(cls)`, `inspect.signature` and editors see every argument, not
    `**kwargs`: the names are those the constructor takes (its config's),
    the defaults what it uses, the positional ones accepted in order."""
    signature = inspect.signature(cls)
    names = list(signature.parameters)
    assert names[0] == "units" and names[-1] == "kwargs"
    default = cls(4)  # 4: the default heads of MLSTM divide it
    config = default.get_config()
    assert set(names[:-1]) == set(config) - {"name", "trainable", "dtype"}
    defaults = {
        name: p.default
        for name, p in signature.parameters.items()
        if p.default is not p.empty
    }
    positional = [
        p.default
        for p in signature.parameters.values()
        if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is not p.empty
    ]
    explicit = cls(4, **defaults)
    in_order = cls(4, *positional)

    def without_name(config):
        return {k: v for k, v in config.items() if k != "name"}

    assert without_name(explicit.get_config()) == without_name(config)
    assert without_name(in_order.get_config()) == without_name(config)


def test_keras_internal_names_still_exist():
    # If this fails, a Keras release moved a name that
    # keras_lstm_variants/_keras_internal.py imports: update that module.
    internal = importlib.import_module("keras_lstm_variants._keras_internal")
    for name in internal.__all__:
        assert callable(getattr(internal, name)), name


def test_tensorflow_xla_marker_still_exists():
    # keras_lstm_variants/_tensorflow.py asks TensorFlow whether XLA compiles
    # the graph being traced; if TensorFlow moves that, the loop would
    # silently take the slower strategy under XLA.
    tf = pytest.importorskip("tensorflow")
    from keras_lstm_variants._tensorflow import in_xla_context

    seen = []

    def probe():
        seen.append(in_xla_context())
        return tf.constant(0)

    tf.function(probe, jit_compile=True)()
    tf.function(probe)()
    probe()
    assert seen == [True, False, False]


MODULES = [
    importlib.import_module(f"keras_lstm_variants.{m.name}")
    for m in pkgutil.iter_modules(klv.__path__)
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
