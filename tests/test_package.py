"""The package's public surface: exports, Keras internals, docstring examples."""

import doctest
import importlib
import pkgutil

import pytest

import keras_lstm_variants as klv


def test_all_lists_exactly_the_public_classes():
    public = {
        name
        for name, value in vars(klv).items()
        if isinstance(value, type) and not name.startswith("_")
    }
    # Four variants of 0.1.0, six of Greff et al.'s search space and the two
    # minimal RNNs, a cell and a layer each; the two public bases, the error
    # of an incomplete variant and the standard LSTM form; and the
    # search_space and litert modules.
    assert len(public) == 28
    assert set(klv.__all__) == public | {"search_space", "litert"}


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
