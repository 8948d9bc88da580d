"""Exported models run in their serving runtimes and match `model.predict`.

Each route is what docs/guides/deployment.md shows; a route a backend lacks
(a Keras limitation) is not listed for it, and the page says why.
"""

import keras
import numpy as np
import pytest
from conftest import assert_close

import keras_lstm_variants as klv

BACKEND = keras.backend.backend()
LAYERS = {
    "LSTM": klv.LSTM,
    "PeepholeLSTM": klv.PeepholeLSTM,
    "CoupledLSTM": lambda units, **kw: klv.CoupledLSTM(
        units, use_peepholes=True, **kw
    ),
    "LayerNormLSTM": klv.LayerNormLSTM,
}
TIMESTEPS, FEATURES = 12, 3
# Keras can export a tf SavedModel from TensorFlow and JAX (jax2tf); on torch
# 3.15's route fails inside torch.export for any model (a Dense one too).
SAVED_MODEL = BACKEND in ("tensorflow", "jax")


def _model(name, bidirectional=False, **kwargs):
    keras.utils.set_random_seed(5)
    layer = LAYERS[name](6, **kwargs)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer)
    inputs = keras.Input((TIMESTEPS, FEATURES), name="sequences")
    model = keras.Model(inputs, keras.layers.Dense(2)(layer(inputs)))
    # Random non-trivial weights (norm gains away from 1, biases away from 0).
    rng = np.random.default_rng(0)
    model.set_weights(
        [
            w + rng.normal(0, 0.2, w.shape).astype("float32")
            for w in model.get_weights()
        ]
    )
    return model


def _inputs(batch=3):
    # A batch size other than any the export traced: the batch axis is dynamic.
    return (
        np.random.default_rng(1)
        .normal(size=(batch, TIMESTEPS, FEATURES))
        .astype("float32")
    )


def _expected(model, x):
    expected = model.predict(x, verbose=0)
    model(x[:1])  # Keras's ONNX export wants a model that has been called
    return expected


# Pairwise over the two backends that export: each exports every layer,
# half of them inside Bidirectional, the other backend the other half.
SAVED_MODEL_CASES = [
    (name, bool((k + (BACKEND == "jax")) % 2)) for k, name in enumerate(LAYERS)
]


@pytest.mark.slow
@pytest.mark.skipif(
    not SAVED_MODEL,
    reason="Keras 3.15 cannot export a tf SavedModel from torch",
)
@pytest.mark.parametrize(
    "name, bidirectional",
    SAVED_MODEL_CASES,
    ids=[
        f"{n}-{'bidirectional' if b else 'plain'}" for n, b in SAVED_MODEL_CASES
    ],
)
def test_saved_model_serves_what_predict_gives(name, bidirectional, tmp_path):
    import tensorflow as tf

    model = _model(name, bidirectional)
    x = _inputs()
    expected = _expected(model, x)

    model.export(tmp_path / "served", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "served"))  # keep a reference

    assert_close(served.serve(x), expected)


@pytest.mark.slow
@pytest.mark.parametrize("name", LAYERS)
def test_onnx_runs_in_onnxruntime_as_predict(name, tmp_path):
    import onnxruntime

    model = _model(name)
    x = _inputs()
    expected = _expected(model, x)

    path = str(tmp_path / "model.onnx")
    model.export(path, format="onnx", verbose=False)
    session = onnxruntime.InferenceSession(
        path, providers=["CPUExecutionProvider"]
    )
    (output,) = session.run(None, {session.get_inputs()[0].name: x})

    assert_close(output, expected)


