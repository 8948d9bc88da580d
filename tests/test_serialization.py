"""Config and `.keras` round trips, alone and inside RNN wrappers."""

import functools
import inspect
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from conftest import BACKENDS
from conftest import GUIDE
from conftest import VARIANTS
from conftest import assert_close

import keras_lstm_variants as klv

NON_DEFAULTS = dict(
    activation="relu",
    recurrent_activation="hard_sigmoid",
    use_bias=False,
    kernel_initializer="he_normal",
    recurrent_initializer="glorot_normal",
    bias_initializer="ones",
    unit_forget_bias=False,
    kernel_regularizer="l2",
    recurrent_regularizer="l1",
    bias_regularizer="l2",
    kernel_constraint="max_norm",
    recurrent_constraint="non_neg",
    bias_constraint="unit_norm",
    dropout=0.25,
    recurrent_dropout=0.5,
    seed=11,
    projection_units=2,
    projection_initializer="he_uniform",
    projection_regularizer="l1",
    projection_constraint="non_neg",
    cell_clip=3.0,
    projection_clip=2.5,
    cell_zoneout=0.1,
    output_zoneout=0.2,
)


def _sorted_json(config):
    return json.dumps(config, sort_keys=True)


def test_cell_config_round_trip(variant):
    cell = variant.cell(3, **{**variant.kwargs, **NON_DEFAULTS})
    config = cell.get_config()
    assert _sorted_json(
        type(cell).from_config(config).get_config()
    ) == _sorted_json(config)
    for name in cell.argument_names():
        assert name in config, name


def test_layer_config_round_trip(variant):
    layer = variant.layer(
        3, **{**variant.kwargs, **NON_DEFAULTS},
        return_sequences=True, return_state=True, go_backwards=True,
        stateful=True, unroll=True, zero_output_for_mask=True,
        use_cudnn=False, activity_regularizer="l2",
    )
    config = layer.get_config()
    assert "cell" not in config
    restored = type(layer).from_config(config)
    assert _sorted_json(restored.get_config()) == _sorted_json(config)
    assert restored.dropout == 0.25 and restored.go_backwards


@pytest.mark.parametrize(
    "ours, theirs",
    [(v.cell, keras.layers.LSTMCell) for v in VARIANTS[::2]]
    + [(v.layer, keras.layers.LSTM) for v in VARIANTS[::2]],
    ids=lambda c: c.__name__,
)
def test_every_keras_argument_is_accepted_and_serialised(ours, theirs):
    arguments = [
        name
        for name in inspect.signature(theirs.__init__).parameters
        if name not in ("self", "kwargs")
    ]
    instance = ours(
        3, **{n: NON_DEFAULTS[n] for n in arguments if n in NON_DEFAULTS}
    )
    config = instance.get_config()
    missing = [name for name in arguments if name not in config]
    assert not missing
    for name in arguments:
        if name in NON_DEFAULTS and isinstance(
            NON_DEFAULTS[name], (int, float)
        ):
            assert config[name] == NON_DEFAULTS[name]


_POSITIONS = {  # where -> the variant's core in that position
    "layer": lambda v: v.layer(4, **v.kwargs, return_sequences=True),
    "rnn_cell": lambda v: keras.layers.RNN(v.cell(4, **v.kwargs)),
    "bidirectional_layer": lambda v: keras.layers.Bidirectional(
        v.layer(4, **v.kwargs)
    ),
    "bidirectional_rnn_cell": lambda v: keras.layers.Bidirectional(
        keras.layers.RNN(v.cell(4, **v.kwargs))
    ),
    "stacked_cells": lambda v: keras.layers.RNN(
        keras.layers.StackedRNNCells(
            [v.cell(4, **v.kwargs), v.cell(3, **v.kwargs)]
        )
    ),
}


def _branch(variant, where, inputs):
    """The variant in one of the positions, then a Dense layer, on `inputs`."""
    return keras.layers.Dense(2)(_POSITIONS[where](variant)(inputs))


def _model(variant, where):
    """A small model holding the variant in one of the positions."""
    inputs = keras.Input((5, 3))
    return keras.Model(inputs, _branch(variant, where, inputs))


def _randomise(model, rng):
    model.set_weights(
        [
            rng.normal(0, 0.5, w.shape).astype("float32")
            for w in model.get_weights()
        ]
    )


def test_keras_file_round_trip(variant, rng, tmp_path):
    # Each variant in one of the five positions per backend, in rotation
    # (pairwise: three positions over the suite's three backends); every
    # position is saved and loaded on every backend with two or three of
    # the variants.
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    k = [v.name for v in VARIANTS].index(variant.name)
    k += BACKENDS.index(keras.backend.backend())
    where = list(_POSITIONS)[k % len(_POSITIONS)]
    model = _model(variant, where)
    _randomise(model, rng)
    path = tmp_path / f"{where}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode=True, the default
    assert_close(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), tol=1e-6
    )


@pytest.mark.slow
def test_load_in_a_fresh_process(rng, tmp_path):
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    # Every position is round-tripped in-process above; here one model
    # holds a third of the branches below (the backends take turns: over
    # the suite each is loaded once), so that every position and layer is
    # loaded and run by a process that only imported the package, at the
    # cost of one compile on each side. Each variant takes one position, in
    # rotation. A branch maps the inputs to an output; only this backend's
    # third is built.
    positions = list(_POSITIONS)
    branches = [
        functools.partial(_branch, variant, positions[k % len(positions)])
        for k, variant in enumerate(VARIANTS)
    ]
    # Greff et al.'s nine variants side by side.
    branches += [
        lambda i, name=name: klv.search_space.layer(
            name, 3, projection_units=2
        )(i)
        for name in klv.search_space.NAMES
    ]
    # The minimal RNNs: each route, Bidirectional, and the cells in RNN.
    branches += [
        lambda i: klv.MinGRU(4, mode="scan")(i),
        lambda i: klv.MinLSTM(3, mode="step", normalize_gates=False)(i),
        lambda i: keras.layers.Bidirectional(klv.MinLSTM(2))(i),
        lambda i: keras.layers.RNN(klv.MinGRUCell(2), go_backwards=True)(i),
        lambda i: keras.layers.RNN(klv.MinLSTMCell(2))(i),
    ]
    # sLSTM: heads, Bidirectional, backwards, and the cell in RNN; mLSTM.
    branches += [
        lambda i: klv.SLSTM(4, num_heads=2)(i),
        lambda i: keras.layers.Bidirectional(klv.SLSTM(2))(i),
        lambda i: keras.layers.RNN(klv.SLSTMCell(3), go_backwards=True)(i),
        lambda i: klv.MLSTM(4, num_heads=2, mode="step")(i),
    ]
    # xLSTM's blocks, in a stack of both kinds and alone.
    branches += [
        lambda i: klv.XLSTMBlockStack(
            num_blocks=2, slstm_at=[1], mlstm_block={"num_heads": 2},
            slstm_block={"num_heads": 2, "ff_act_fn": "swish"},
        )(keras.layers.Dense(8)(i)),
        lambda i: klv.MLSTMBlock(num_heads=2, mode="chunkwise",
                                 chunk_size=2)(i),
        lambda i: klv.SLSTMBlock(num_heads=1, conv1d_kernel_size=0)(i),
    ]
    share = BACKENDS.index(keras.backend.backend())
    inputs = keras.Input((5, 3))
    outputs = [branch(inputs) for branch in branches[share::len(BACKENDS)]]
    model = keras.Model(inputs, outputs)
    _randomise(model, rng)
    model.save(tmp_path / "every_layer.keras")
    expected = model.predict(x, verbose=0)
    script = textwrap.dedent(
        """
        import sys, pathlib, re, numpy as np, keras
        import keras_lstm_variants  # registers the classes
        # A user's variant (the guide's) is registered by the user's module.
        guide = pathlib.Path(sys.argv[2]).read_text()
        exec(re.search(r"```python\\n(.*?)```", guide, re.DOTALL).group(1))
        folder = pathlib.Path(sys.argv[1])
        model = keras.saving.load_model(folder / "every_layer.keras")
        outputs = model.predict(np.load(folder / "x.npy"), verbose=0)
        np.savez(folder / "loaded.npz", *outputs)
        """
    )
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), str(GUIDE)],
        check=True, env=os.environ.copy(),
    )
    loaded = np.load(tmp_path / "loaded.npz")
    assert len(loaded.files) == len(expected)
    for k, value in enumerate(expected):
        np.testing.assert_allclose(loaded[f"arr_{k}"], value, atol=1e-6)


def test_every_public_class_is_registered():
    for name in klv.__all__:
        cls = getattr(klv, name)
        if not (isinstance(cls, type) and issubclass(cls, keras.Layer)):
            # The search_space and litert modules, VariantDefinitionError.
            continue
        assert (
            keras.saving.get_registered_name(cls)
            == f"keras_lstm_variants>{name}"
        )
        assert (
            keras.saving.get_registered_object(f"keras_lstm_variants>{name}")
            is cls
        )
