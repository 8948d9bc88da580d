"""Every layer predicts on Keras's inference backends, NumPy and OpenVINO,
what it predicts on TensorFlow.

One model holds every layer of the package (each class of `__all__` that is
a `keras.layers.RNN`, so a new layer joins by itself) behind a `Masking`
layer with left- and right-padded rows; it is saved on TensorFlow and loaded
and run by `predict` in a fresh process per inference backend (the backend
is fixed when Keras starts).
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_lstm_variants as klv

BACKEND = keras.backend.backend()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        BACKEND != "tensorflow",
        reason="compared with the TensorFlow backend's outputs: the "
        "TensorFlow session runs it",
    ),
]

LAYERS = [
    name for name in klv.__all__
    if isinstance(getattr(klv, name), type)
    and issubclass(getattr(klv, name), keras.layers.RNN)
    and not name.endswith("Base")
]

# Loads argv[1], predicts argv[2] into argv[3] (every output flattened and
# side by side); prints the backend, the precision it computes in, and how
# many times a layer's fused route ran the backend's LSTM or GRU op.
PREDICT = """
import sys
import keras
import numpy as np
from keras_lstm_variants.backends import _common

calls = []


def counted(op):
    def run(*args, **kwargs):
        outputs = op(*args, **kwargs)  # raises where it declines
        calls.append(1)
        return outputs
    return run


_common.backend_lstm = counted(_common.backend_lstm)
_common.backend_gru = counted(_common.backend_gru)
model = keras.saving.load_model(sys.argv[1])
x = np.load(sys.argv[2])
np.save(sys.argv[3], np.concatenate(
    [np.asarray(y).reshape(len(x), -1) for y in model.predict(x, verbose=0)],
    axis=-1,
))
# OpenVINO's CPU plugin defaults to bfloat16 where the processor has it,
# and Keras's predict keeps that.
precision = "float32"
if keras.backend.backend() == "openvino":
    import openvino

    hint = str(openvino.Core().get_property("CPU", "INFERENCE_PRECISION_HINT"))
    if "bf" in hint.lower():
        precision = "bfloat16"
    elif "16" in hint:
        precision = "float16"
print(keras.backend.backend(), precision, len(calls))
"""
# Unit roundoff of each precision.
EPSILON = {"float32": 2.0**-24, "bfloat16": 2.0**-8, "float16": 2.0**-11}


def _flat(outputs, batch):
    return np.concatenate(
        [np.asarray(y).reshape(batch, -1) for y in outputs], axis=-1
    )


def _predict_elsewhere(model, x, backend, folder):
    """`model` saved here, loaded and run on `x` in a fresh process of
    `backend`: (its outputs as `_flat`, its precision, fused-op calls)."""
    model.save(folder / "model.keras")
    np.save(folder / "x.npy", x)
    run = subprocess.run(
        [sys.executable, "-c", PREDICT, str(folder / "model.keras"),
         str(folder / "x.npy"), str(folder / "out.npy")],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "KERAS_BACKEND": backend},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    reported, precision, calls = run.stdout.split()[-3:]
    assert reported == backend
    return np.load(folder / "out.npy"), precision, int(calls)


def _bound(precision, expected):
    # float32: rounding only (1e-7 measured); bfloat16 (OpenVINO on a
    # processor with it, keras.layers.LSTM as much): eight roundings of the
    # outputs' scale (1e-3 ... 7e-3 measured, LayerNormLSTM the most,
    # against 3e-2), where a wrong equation errs by 1e-1.
    return max(1e-5, 8 * EPSILON[precision] * np.abs(expected).max())


def _perturbed(model, rng):
    model.set_weights([
        w + rng.normal(0.0, 0.2, w.shape).astype(w.dtype)
        for w in model.get_weights()
    ])
    return model


def test_every_layer_predicts_on_numpy_and_openvino(tmp_path):
    pytest.importorskip("openvino")
    assert {"LSTM", "MinLSTM", "SLSTM", "MLSTM", "GRU", "MGU"} <= set(LAYERS)
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 3))
    masked = keras.layers.Masking(0.0)(inputs)
    # MLSTM's third form (the chunkwise) as well: chunks of 4 of 6 steps.
    names = [*LAYERS, "MLSTM_chunkwise"]
    model = _perturbed(keras.Model(inputs, [
        getattr(klv, name)(8, return_sequences=k % 2 == 0, name=name)(masked)
        for k, name in enumerate(LAYERS)
    ] + [
        klv.MLSTM(8, mode="chunkwise", chunk_size=4, return_sequences=True,
                  name=names[-1])(masked)
    ]), rng)
    x = rng.normal(size=(3, 6, 3)).astype("float32")
    x[1, 4:] = 0.0  # right padding
    x[2, :2] = 0.0  # left padding
    expected = _flat(model.predict(x, verbose=0), len(x))
    bounds = np.cumsum([0] + [int(np.prod(o.shape[1:])) for o in model.outputs])
    for backend in ("numpy", "openvino"):
        actual, precision, _ = _predict_elsewhere(model, x, backend, tmp_path)
        differences = {
            name: float(np.abs(actual[:, a:b] - expected[:, a:b]).max())
            for name, a, b in zip(names, bounds[:-1], bounds[1:], strict=True)
        }
        bound = _bound(precision, expected)
        print(backend, precision, json.dumps(differences, indent=1))
        for name, difference in differences.items():
            assert difference < bound, (backend, precision, name, difference)


def test_standard_forms_take_openvinos_sequence_ops(tmp_path):
    """`LSTM` and `CoupledLSTM` (a standard LSTM form without peepholes)
    run OpenVINO's LSTM sequence op, as `keras.layers.LSTM` does there, and
    `GRU` its GRU sequence op, as `keras.layers.GRU` does, with the outputs
    of the TensorFlow backend; `PeepholeLSTM` (peepholes, which the op does
    not take) and `MGU` (no GRU op computes it) run the loop."""
    pytest.importorskip("openvino")
    rng = np.random.default_rng(1)
    inputs = keras.Input((7, 3))
    layers = [
        klv.LSTM(8, return_sequences=True),
        klv.CoupledLSTM(8),
        klv.PeepholeLSTM(8),
        klv.GRU(8, return_sequences=True),
        klv.MGU(8),
    ]
    model = _perturbed(
        keras.Model(inputs, [layer(inputs) for layer in layers]), rng
    )
    x = rng.normal(size=(4, 7, 3)).astype("float32")
    expected = _flat(model.predict(x, verbose=0), len(x))
    actual, precision, calls = _predict_elsewhere(
        model, x, "openvino", tmp_path
    )
    assert calls == 3  # LSTM, CoupledLSTM and GRU
    assert np.abs(actual - expected).max() < _bound(precision, expected)
