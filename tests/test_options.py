"""Projection, clipping and zoneout against independent truths.

`tf.compat.v1.nn.rnn_cell.LSTMCell` (run by `compat_v1_oracle.py` in a
subprocess) and `torch.nn.LSTM(proj_size=...)` compute projected, clipped
LSTMs; `keras_lstm_variants.migrate` converts both, and the converted
models must compute what they compute. Zoneout's training behaviour is
checked by its statistics and its seeds (its inference form is in every
contract test through conftest's option variants).
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import reference
from conftest import assert_close
from conftest import to_numpy

import keras_lstm_variants as klv
from keras_lstm_variants import migrate

ORACLE = pathlib.Path(__file__).with_name("compat_v1_oracle.py")

# tf.compat.v1 LSTMCell keyword arguments, with the sequence to run.
COMPAT_V1_CASES = {
    "plain": dict(num_units=5, forget_bias=1.0),
    "peepholes_cell_clip": dict(
        num_units=5, use_peepholes=True, cell_clip=0.4, forget_bias=0.0
    ),
    "projection": dict(num_units=5, num_proj=3, forget_bias=2.5),
    "projection_clips_peepholes": dict(
        num_units=6, num_proj=4, use_peepholes=True, cell_clip=0.5,
        proj_clip=0.3, forget_bias=1.0,
    ),
    "projection_wider_than_units": dict(
        num_units=3, num_proj=5, proj_clip=0.2, forget_bias=1.0
    ),
}


@pytest.fixture(scope="module")
def compat_v1(tmp_path_factory):
    """What tf.compat.v1's cell computed for each case (one subprocess)."""
    folder = tmp_path_factory.mktemp("compat_v1")
    cases = {
        name: {**case, "dim": 4, "batch": 3, "steps": 7, "seed": k}
        for k, (name, case) in enumerate(COMPAT_V1_CASES.items())
    }
    (folder / "cases.json").write_text(json.dumps(cases))
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    subprocess.run(
        [sys.executable, str(ORACLE), str(folder / "cases.json"),
         str(folder / "out.npz")],
        check=True, env=env, capture_output=True,
    )
    return np.load(folder / "out.npz")


@pytest.mark.slow
@pytest.mark.parametrize("case", COMPAT_V1_CASES)
def test_migrated_compat_v1_cell_computes_what_it_computed(compat_v1, case):
    config = COMPAT_V1_CASES[case]
    data = {
        key.split("/", 1)[1]: compat_v1[key]
        for key in compat_v1.files
        if key.startswith(f"{case}/")
    }
    cell = migrate.from_compat_v1_config(config)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    layer.build((None, None, 4))
    peepholes = (
        [data[f"var/w_{g}_diag"] for g in "ifo"]
        if config.get("use_peepholes") else []
    )
    layer.set_weights(migrate.compat_v1_weights(
        data["var/kernel"], data["var/bias"], *peepholes, input_dim=4,
        forget_bias=config["forget_bias"],
        projection_kernel=data.get("var/projection/kernel"),
    ))
    outputs, h, c = layer(data["x"], initial_state=[data["h0"], data["c0"]])
    assert_close(outputs, data["outputs"])
    assert_close(h, data["h"])
    assert_close(c, data["c"])
    # The clips bit where the case has them: the truth reaches the bounds.
    if "proj_clip" in config:
        assert np.isclose(np.abs(data["outputs"]).max(), config["proj_clip"])
    if "cell_clip" in config:
        assert np.isclose(np.abs(data["c"]).max(), config["cell_clip"])


def test_compat_v1_proj_clip_without_num_proj_is_dropped():
    # tf.compat.v1 ignores proj_clip without num_proj; so does the migration.
    cell = migrate.from_compat_v1_config({"num_units": 4, "proj_clip": 2.0})
    assert cell.projection_units is None and cell.projection_clip is None


@pytest.mark.parametrize(
    "options",
    [
        dict(num_layers=1, proj_size=0, bidirectional=False, bias=True),
        dict(num_layers=2, proj_size=3, bidirectional=False, bias=True),
        dict(num_layers=3, proj_size=2, bidirectional=True, bias=True,
             batch_first=True),
        dict(num_layers=2, proj_size=0, bidirectional=True, bias=False,
             dropout=0.5),
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
def test_migrated_torch_lstm_computes_what_it_computes(rng, options):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.LSTM(4, 6, **options).eval()  # eval: no dropout
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_(0.0, 0.5)
    x = rng.normal(size=(3, 7, 4)).astype("float32")  # batch-major
    torch_x = torch.from_numpy(x if module.batch_first else x.swapaxes(0, 1))
    with torch.no_grad():
        expected, _ = module(torch_x)
    expected = expected.numpy()
    if not module.batch_first:
        expected = expected.swapaxes(0, 1)
    model = migrate.from_torch_lstm(module)
    layers = [layer for layer in model.layers
              if not isinstance(layer, keras.layers.Dropout)]
    assert len(layers) == options["num_layers"]
    dropouts = [layer.rate for layer in model.layers
                if isinstance(layer, keras.layers.Dropout)]
    rate = options.get("dropout", 0.0)
    assert dropouts == ([rate] * (options["num_layers"] - 1) if rate else [])
    assert_close(model.predict(x, verbose=0), expected)


def test_from_torch_lstm_refuses_other_modules():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="mode='GRU'"):
        migrate.from_torch_lstm(torch.nn.GRU(3, 4))


def _zoneout_layer(units=32, **kwargs):
    # Small weights: no unit saturates, so a new value never equals the
    # previous one by chance in float32, and "kept" is exact equality.
    layer = klv.LSTM(
        units, return_sequences=True, return_state=True, seed=3, **kwargs
    )
    layer.build((None, None, 8))
    rng = np.random.default_rng(0)
    layer.set_weights(
        [rng.normal(0.0, 0.1, w.shape).astype("float32")
         for w in layer.get_weights()]
    )
    return layer


def test_zoneout_keeps_each_unit_at_its_rate_with_fresh_draws_per_step(rng):
    # Each unit of h keeps its previous value (exactly) with probability
    # output_zoneout, drawn anew at every step: over 64 x 40 x 32 draws the
    # rate is within 5 standard deviations, and keeping at t and at t+1 is
    # independent (probability r^2, not r as one mask per sequence gives).
    # The carry's rate is measured over one step from a random c0.
    r_h, r_c = 0.6, 0.3
    layer = _zoneout_layer(output_zoneout=r_h, cell_zoneout=r_c)
    x = rng.normal(size=(64, 40, 8)).astype("float32")
    outputs, _, _ = layer(x, training=True)
    outputs = to_numpy(outputs)
    kept = outputs[:, 1:] == outputs[:, :-1]
    n = kept.size
    assert abs(kept.mean() - r_h) < 5 * np.sqrt(r_h * (1 - r_h) / n)
    both = (kept[:, 1:] & kept[:, :-1]).mean()
    assert abs(both - r_h**2) < 5 * np.sqrt(r_h**2 * (1 - r_h**2) / n)
    c0 = rng.normal(size=(4096, 32)).astype("float32")
    h0 = rng.normal(size=(4096, 32)).astype("float32")
    one_step = rng.normal(size=(4096, 1, 8)).astype("float32")
    _, _, c = layer(one_step, training=True, initial_state=[h0, c0])
    kept_c = to_numpy(c) == c0
    m = kept_c.size
    assert abs(kept_c.mean() - r_c) < 5 * np.sqrt(r_c * (1 - r_c) / m)


def test_zoneout_is_its_expectation_at_inference(rng):
    # Without `training`, each state is r * previous + (1 - r) * new: the
    # NumPy reference of the equations (every contract test checks the same
    # through conftest's variants with zoneout).
    layer = _zoneout_layer(units=4, output_zoneout=0.4, cell_zoneout=0.7)
    weights = dict(zip(["kernel", "recurrent_kernel", "bias"],
                       [to_numpy(w) for w in layer.get_weights()],
                       strict=True))
    x = rng.normal(size=(3, 9, 8))
    outputs, h, c = layer(x.astype("float32"))
    step = lambda *a: reference.lstm_step(*a, zoneout=(0.4, 0.7))  # noqa: E731
    ref_outputs, ref_h, ref_c = reference.run(step, weights, x)
    assert_close(outputs, ref_outputs)
    assert_close(c, ref_c)


def test_zoneout_training_is_reproducible_by_seed(rng):
    x = rng.normal(size=(4, 12, 8)).astype("float32")
    first = to_numpy(_zoneout_layer(output_zoneout=0.5)(x, training=True)[0])
    again = to_numpy(_zoneout_layer(output_zoneout=0.5)(x, training=True)[0])
    other = klv.LSTM(32, return_sequences=True, seed=4, output_zoneout=0.5)
    other.build((None, None, 8))
    other.set_weights(_zoneout_layer(output_zoneout=0.5).get_weights())
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, to_numpy(other(x, training=True)))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_zoneout_trains_in_every_compiled_loop(rng, jit_compile):
    # JAX's lax.scan (always compiled), TensorFlow with and without XLA,
    # torch with and without torch.compile; with dropout, a mask, a
    # projection, in Bidirectional. A masked step changes nothing: the
    # output there repeats the previous one, zoneout or not.
    if keras.backend.backend() == "torch" and jit_compile:
        pytest.skip("torch.compile of a whole fit step: covered by "
                    "test_training for the loop, minutes here")
    if keras.backend.backend() == "jax" and not jit_compile:
        pytest.skip("JAX runs lax.scan compiled either way: the jit case")
    core = klv.CoupledLSTM(
        6, projection_units=3, cell_zoneout=0.3, output_zoneout=0.2,
        dropout=0.2, recurrent_dropout=0.2, return_sequences=True, seed=1,
    )
    inputs = keras.Input((7, 5))
    masked = keras.layers.Masking()(inputs)
    model = keras.Model(
        inputs, keras.layers.Bidirectional(core)(masked)
    )
    model.compile("adam", "mse", jit_compile=jit_compile)
    x = rng.normal(size=(8, 7, 5)).astype("float32")
    x[:, 5:] = 0.0  # masked tail
    y = rng.normal(size=(8, 7, 6)).astype("float32")
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    layer = _zoneout_layer(cell_zoneout=0.5, output_zoneout=0.5)
    mask = np.ones((8, 7), bool)
    mask[:, 5:] = False
    outputs, h, _ = layer(x[..., :1].repeat(8, -1), mask=mask, training=True)
    outputs = to_numpy(outputs)
    np.testing.assert_array_equal(outputs[:, 6], outputs[:, 4])
    np.testing.assert_array_equal(to_numpy(h), outputs[:, 4])


def test_a_bare_cell_draws_zoneout_per_step_where_its_loop_can(rng):
    # keras.layers.RNN steps a cell by itself: on TensorFlow and torch the
    # cell draws its own masks per step; inside JAX's lax.scan it cannot,
    # and says what to use instead.
    cell = klv.LSTMCell(32, output_zoneout=0.6, seed=2)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    rnn.build((None, None, 8))
    rnn.set_weights(_zoneout_layer().get_weights())
    x = rng.normal(size=(64, 20, 8)).astype("float32")
    if keras.backend.backend() == "jax":
        with pytest.raises(ValueError, match="zoneout.*layers"):
            rnn(x, training=True)
        return
    outputs = to_numpy(rnn(x, training=True))
    kept = outputs[:, 1:] == outputs[:, :-1]
    assert abs(kept.mean() - 0.6) < 5 * np.sqrt(0.24 / kept.size)
