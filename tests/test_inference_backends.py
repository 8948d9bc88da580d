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

PREDICT = """
import sys
import keras
import numpy as np
import keras_lstm_variants  # noqa: F401  (registers the classes)

model = keras.saving.load_model(sys.argv[1])
x = np.load(sys.argv[2])
np.save(sys.argv[3], np.concatenate(
    [np.asarray(y).reshape(len(x), -1) for y in model.predict(x, verbose=0)],
    axis=-1,
))
# The precision the backend computes in (OpenVINO's CPU plugin defaults to
# bfloat16 where the processor has it, and Keras's predict keeps that).
precision = "float32"
if keras.backend.backend() == "openvino":
    import openvino

    hint = str(openvino.Core().get_property("CPU", "INFERENCE_PRECISION_HINT"))
    if "bf" in hint.lower():
        precision = "bfloat16"
    elif "16" in hint:
        precision = "float16"
print(keras.backend.backend(), precision)
"""
# Unit roundoff of each precision.
EPSILON = {"float32": 2.0**-24, "bfloat16": 2.0**-8, "float16": 2.0**-11}


def _model():
    inputs = keras.Input((6, 3))
    masked = keras.layers.Masking(0.0)(inputs)
    outputs = [
        getattr(klv, name)(8, return_sequences=k % 2 == 0, name=name)(masked)
        for k, name in enumerate(LAYERS)
    ]
    return keras.Model(inputs, outputs)


def test_every_layer_predicts_on_numpy_and_openvino(tmp_path):
    pytest.importorskip("openvino")
    assert {"LSTM", "MinLSTM", "SLSTM", "MLSTM"} <= set(LAYERS)
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    model = _model()
    model.set_weights([
        w + rng.normal(0.0, 0.2, w.shape).astype(w.dtype)
        for w in model.get_weights()
    ])
    x = rng.normal(size=(3, 6, 3)).astype("float32")
    x[1, 4:] = 0.0  # right padding
    x[2, :2] = 0.0  # left padding
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "x.npy", x)
    expected = np.concatenate(
        [y.reshape(len(x), -1) for y in model.predict(x, verbose=0)], axis=-1
    )
    widths = [int(np.prod(o.shape[1:])) for o in model.outputs]
    differences = {}
    for backend in ("numpy", "openvino"):
        out = tmp_path / f"{backend}.npy"
        run = subprocess.run(
            [sys.executable, "-c", PREDICT, str(tmp_path / "model.keras"),
             str(tmp_path / "x.npy"), str(out)],
            capture_output=True, text=True, timeout=600,
            env={**os.environ, "KERAS_BACKEND": backend},
        )
        assert run.returncode == 0, run.stderr[-3000:]
        reported, precision = run.stdout.split()[-2:]
        assert reported == backend
        actual = np.load(out)
        bounds = np.cumsum([0] + widths)
        differences[backend] = {
            name: float(np.abs(actual[:, a:b] - expected[:, a:b]).max())
            for name, a, b in zip(LAYERS, bounds[:-1], bounds[1:], strict=True)
        }
        # float32: rounding only (1e-7 measured); bfloat16 (OpenVINO on a
        # processor with it, keras.layers.LSTM as much): eight roundings of
        # the outputs' scale (1e-3 ... 7e-3 measured, LayerNormLSTM the
        # most, against 3e-2), where a wrong equation errs by 1e-1.
        bound = max(1e-5, 8 * EPSILON[precision] * np.abs(expected).max())
        print(backend, precision, json.dumps(differences[backend], indent=1))
        for name, difference in differences[backend].items():
            assert difference < bound, (backend, precision, name, difference)


FUSED = """
import sys
import keras
import numpy as np
from keras_lstm_variants import _fused

calls = []
backend_lstm = _fused.backend_lstm


def counted(*args, **kwargs):
    outputs = backend_lstm(*args, **kwargs)  # raises where it declines
    calls.append(1)
    return outputs


_fused.backend_lstm = counted
model = keras.saving.load_model(sys.argv[1])
x = np.load(sys.argv[2])
np.save(sys.argv[3], np.concatenate(
    [np.asarray(y).reshape(len(x), -1) for y in model.predict(x, verbose=0)],
    axis=-1,
))
print(len(calls))
"""


def test_standard_forms_take_openvinos_lstm_sequence_op(tmp_path):
    """`LSTM` and `CoupledLSTM` (a standard LSTM form without peepholes)
    run OpenVINO's LSTM sequence op, as `keras.layers.LSTM` does there,
    with the outputs of the TensorFlow backend; `PeepholeLSTM` (peepholes,
    which the op does not take) runs the loop."""
    pytest.importorskip("openvino")
    inputs = keras.Input((7, 3))
    layers = [
        klv.LSTM(8, return_sequences=True),
        klv.CoupledLSTM(8),
        klv.PeepholeLSTM(8),
    ]
    model = keras.Model(inputs, [layer(inputs) for layer in layers])
    rng = np.random.default_rng(1)
    model.set_weights([
        w + rng.normal(0.0, 0.2, w.shape).astype(w.dtype)
        for w in model.get_weights()
    ])
    x = rng.normal(size=(4, 7, 3)).astype("float32")
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "x.npy", x)
    expected = np.concatenate(
        [y.reshape(len(x), -1) for y in model.predict(x, verbose=0)], axis=-1
    )
    run = subprocess.run(
        [sys.executable, "-c", FUSED, str(tmp_path / "model.keras"),
         str(tmp_path / "x.npy"), str(tmp_path / "out.npy")],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "KERAS_BACKEND": "openvino"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split()[-1] == "2"  # LSTM and CoupledLSTM
    # OpenVINO computes in bfloat16 on a processor with it (see above).
    bound = 8 * EPSILON["bfloat16"] * np.abs(expected).max()
    assert np.abs(np.load(tmp_path / "out.npy") - expected).max() < bound
