"""`litert.convert`: each layer is one fused LSTM op, in float and int8, run
in LiteRT's interpreter and in tflite-micro's.

The truth is `model.predict` (the layers themselves are checked against the
equations elsewhere) and, for int8, the float model's accuracy on a task it
learned (scikit-learn's digits). Every file is run in its real runtime.
"""

import keras
import numpy as np
import pytest
from conftest import load_example

import keras_lstm_variants as klv
from keras_lstm_variants import litert

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="LiteRT's converter is TensorFlow's: litert.convert needs the "
    "TensorFlow backend",
)
STEPS, FEATURES = 10, 3
FUSED = "UNIDIRECTIONAL_SEQUENCE_LSTM"


def _ops(flatbuffer):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    return [op["op_name"] for op in interpreter._get_ops_details()]


def _run_litert(flatbuffer, rows):
    """Each row a new sequence (the op keeps its state between calls)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer, num_threads=1)
    interpreter.allocate_tensors()
    (given,), (taken,) = (
        interpreter.get_input_details(),
        interpreter.get_output_details(),
    )
    outputs = []
    for row in rows:
        interpreter.reset_all_variables()
        interpreter.set_tensor(given["index"], _quantized(row[None], given))
        interpreter.invoke()
        outputs.append(
            _dequantized(interpreter.get_tensor(taken["index"]), taken)
        )
    return np.concatenate(outputs), given, taken


def _run_micro(flatbuffer, rows, given, taken):
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(flatbuffer)
    outputs = []
    for row in rows:
        interpreter.reset()
        interpreter.set_input(_quantized(row[None], given), 0)
        interpreter.invoke()
        outputs.append(_dequantized(interpreter.get_output(0), taken))
    return np.concatenate(outputs)


def _quantized(x, detail):
    if detail["dtype"] != np.int8:
        return x.astype("float32")
    scale, zero = detail["quantization"]
    return np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)


def _dequantized(y, detail):
    if detail["dtype"] != np.int8:
        return y
    scale, zero = detail["quantization"]
    return (y.astype("float32") - zero) * scale


def _random_model(layers, head_units=2, seed=0):
    """`layers` stacked on (STEPS, FEATURES), a Dense head, random weights
    of a scale that makes every gate and clip matter."""
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((STEPS, FEATURES))
    for layer in layers:
        x = layer(x)
    model = keras.Model(inputs, keras.layers.Dense(head_units)(x))
    rng = np.random.default_rng(seed)
    model.set_weights(
        [
            rng.normal(0, 0.5, w.shape).astype("float32")
            for w in model.get_weights()
        ]
    )
    return model


# Every configuration the op expresses; (layers, fused ops expected, runs on
# tflite-micro).
CONFIGURATIONS = {
    "lstm_stacked": (
        lambda: [klv.LSTM(8, return_sequences=True), klv.LSTM(6)], 2, True
    ),
    "peephole_projection_clips": (
        lambda: [
            klv.PeepholeLSTM(
                8, projection_units=5, cell_clip=0.6, projection_clip=0.4,
                return_sequences=True,
            )
        ],
        1,
        False,
    ),
    "coupled": (lambda: [klv.CoupledLSTM(8)], 1, True),
    "coupled_peepholes_backwards": (
        lambda: [
            klv.CoupledLSTM(
                8, use_peepholes=True, go_backwards=True, cell_clip=1.0,
                return_sequences=True,
            ),
            klv.LSTM(4, projection_units=3, go_backwards=True),
        ],
        2,
        False,
    ),
    "bidirectional": (
        lambda: [
            keras.layers.Bidirectional(
                klv.PeepholeLSTM(6, return_sequences=True)
            ),
            keras.layers.Bidirectional(klv.CoupledLSTM(5), merge_mode="sum"),
        ],
        4,
        False,
    ),
}


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_float_file_is_fused_ops_only_and_predicts_what_keras_does(name):
    make_layers, fused, on_micro = CONFIGURATIONS[name]
    model = _random_model(make_layers())
    x = (
        np.random.default_rng(1)
        .normal(size=(4, STEPS, FEATURES))
        .astype("float32")
    )
    expected = model.predict(x, verbose=0)

    flatbuffer = litert.convert(model)

    ops = _ops(flatbuffer)
    assert ops.count(FUSED) == fused, ops
    assert not {"WHILE", "FlexTensorListReserve"} & set(ops), ops
    actual, given, taken = _run_litert(flatbuffer, x)
    np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=0)
    if on_micro:
        micro = _run_micro(flatbuffer, x, given, taken)
        np.testing.assert_allclose(micro, expected, atol=1e-5, rtol=0)


def test_shared_layer_two_inputs_and_a_larger_batch():
    """A layer called on two inputs is two fused ops of its weights; the
    batch of the file is `batch_size`."""
    from ai_edge_litert.interpreter import Interpreter

    keras.utils.set_random_seed(6)
    shared = klv.PeepholeLSTM(5, projection_units=3)
    first, second = (
        keras.Input((STEPS, FEATURES)),
        keras.Input((STEPS, FEATURES)),
    )
    model = keras.Model(
        [first, second], keras.layers.Add()([shared(first), shared(second)])
    )
    x = (
        np.random.default_rng(6)
        .normal(size=(2, 2, STEPS, FEATURES))
        .astype("float32")
    )

    flatbuffer = litert.convert(model, batch_size=2)

    assert _ops(flatbuffer).count(FUSED) == 2
    interpreter = Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    for detail, inputs in zip(interpreter.get_input_details(), x, strict=True):
        interpreter.set_tensor(detail["index"], inputs)  # Add: order-free
    interpreter.invoke()
    actual = interpreter.get_tensor(
        interpreter.get_output_details()[0]["index"]
    )
    np.testing.assert_allclose(
        actual, model.predict(list(x), verbose=0), atol=1e-5
    )


def test_the_fused_state_carries_over_between_invocations_until_reset():
    """What the docs warn of: LiteRT's op keeps h and c; two calls on one
    sequence each are its continuation unless the variables are reset."""
    from ai_edge_litert.interpreter import Interpreter

    model = _random_model([klv.LSTM(6)])
    x = (
        np.random.default_rng(2)
        .normal(size=(1, STEPS, FEATURES))
        .astype("float32")
    )
    interpreter = Interpreter(model_content=litert.convert(model))
    interpreter.allocate_tensors()
    given = interpreter.get_input_details()[0]["index"]
    taken = interpreter.get_output_details()[0]["index"]
    outputs = []
    for reset in (False, False, True):
        if reset:
            interpreter.reset_all_variables()
        interpreter.set_tensor(given, x)
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(taken).copy())
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(outputs[0], expected, atol=1e-5)
    assert np.abs(outputs[1] - expected).max() > 1e-3
    np.testing.assert_allclose(outputs[2], expected, atol=1e-5)


@pytest.fixture(scope="module")
def digits():
    """The examples' split of scikit-learn's digits (offline)."""
    return load_example("_common").load_digits()


# Trained on the digits (8 steps of 8 pixels): the plain layer (every
# runtime) and the one with every operand the converter does not write.
TRAINED = {
    "LSTM": lambda: klv.LSTM(16),
    "PeepholeLSTM_projection_clip": lambda: klv.PeepholeLSTM(
        16, projection_units=12, cell_clip=3.0
    ),
}


@pytest.mark.parametrize("name", TRAINED)
def test_int8_file_keeps_the_accuracy_of_the_float_model(name, digits):
    x_train, y_train, x_test, y_test = digits
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8))
    outputs = keras.layers.Dense(10, activation="softmax")(
        TRAINED[name]()(inputs)
    )
    model = keras.Model(inputs, outputs)
    model.compile(
        keras.optimizers.Adam(5e-3), "sparse_categorical_crossentropy"
    )
    model.fit(x_train, y_train, batch_size=32, epochs=6, verbose=0)
    float_accuracy = np.mean(
        model.predict(x_test, verbose=0).argmax(-1) == y_test
    )
    assert float_accuracy > 0.8  # it learned the task

    def calibration():
        for image in x_train[:100]:
            yield [image[None]]

    flatbuffer = litert.convert(
        model, quantize="int8", representative_dataset=calibration
    )

    ops = _ops(flatbuffer)
    assert ops.count(FUSED) == 1 and "WHILE" not in ops, ops
    scores, given, taken = _run_litert(flatbuffer, x_test)
    assert given["dtype"] == taken["dtype"] == np.int8
    accuracy = np.mean(scores.argmax(-1) == y_test)
    # The bound the deployment guide states: within 2 points of float.
    assert accuracy >= float_accuracy - 0.02, (accuracy, float_accuracy)
    if name == "LSTM":
        micro = _run_micro(flatbuffer, x_test, given, taken)
        assert np.mean(micro.argmax(-1) == scores.argmax(-1)) >= 0.99


def test_unsupported_layer_is_an_error_naming_it_or_unrolled_on_request():
    model = _random_model([klv.LayerNormLSTM(6, name="normed")])
    x = (
        np.random.default_rng(3)
        .normal(size=(2, STEPS, FEATURES))
        .astype("float32")
    )

    with pytest.raises(ValueError, match="'normed'.*LayerNormLSTM.*unroll"):
        litert.convert(model)
    # ... and names the layers that do convert (the module docstring's).
    with pytest.raises(
        ValueError, match="that can are CoupledLSTM, LSTM, PeepholeLSTM "
    ):
        litert.convert(_random_model([klv.SLSTM(4)]))

    flatbuffer = litert.convert(model, unsupported="unroll")
    ops = _ops(flatbuffer)
    assert FUSED not in ops and "WHILE" not in ops, ops
    actual, _, _ = _run_litert(flatbuffer, x)
    # Not the fused op: LiteRT's builtins sum the normalisation's statistics
    # in another order (1.1e-5 measured with these weights).
    np.testing.assert_allclose(actual, model.predict(x, verbose=0), atol=5e-5)


@pytest.mark.parametrize(
    "layer, reason",
    [
        (lambda: klv.LSTM(4, output_zoneout=0.1), "zoneout"),
        (lambda: klv.LSTM(4, activation="relu"), "activation='relu'"),
        (lambda: klv.search_space.layer("NIG", 4), "NoInputGateLSTM"),
    ],
    ids=["zoneout", "activation", "search_space"],
)
def test_unsupported_reason_says_what_the_op_lacks(layer, reason):
    model = _random_model([layer()])
    with pytest.raises(ValueError, match=reason):
        litert.convert(model)


def test_masked_layer_is_refused():
    inputs = keras.Input((STEPS, FEATURES))
    x = keras.layers.Masking()(inputs)
    model = keras.Model(inputs, klv.LSTM(4)(x))
    with pytest.raises(ValueError, match="mask"):
        litert.convert(model)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"quantize": "int4"}, "quantize='int4'"),
        ({"quantize": "int8"}, "representative_dataset=None"),
        ({"unsupported": "skip"}, "unsupported='skip'"),
        ({"batch_size": 0}, "batch_size=0"),
    ],
)
def test_arguments_are_checked(arguments, message):
    model = _random_model([klv.LSTM(4)])
    with pytest.raises(ValueError, match=message):
        litert.convert(model, **arguments)


def test_a_path_or_a_shape_without_steps_is_named():
    with pytest.raises(ValueError, match="load_model.*model='model.keras'"):
        litert.convert("model.keras")
    inputs = keras.Input((None, FEATURES))
    model = keras.Model(inputs, klv.LSTM(4)(inputs))
    with pytest.raises(ValueError, match=r"keras.Input\(\(steps, features"):
        litert.convert(model)


def test_fused_weights_document_the_coupled_gate_as_negated_forget_gate():
    """CoupledLSTM's i = 1 - f written as the op's input gate sigma(-z_f):
    the same number, checked on the equations."""
    cell = klv.CoupledLSTMCell(3, use_peepholes=True)
    cell.build((None, 2))
    rng = np.random.default_rng(4)
    for weight in cell.weights:
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    operands = litert.fused_weights(cell)
    x, h, c = (
        rng.normal(size=(1, 2)),
        rng.normal(size=(1, 3)),
        rng.normal(size=(1, 3)),
    )
    z = (
        x @ operands["kernel"]
        + h @ operands["recurrent_kernel"]
        + operands["bias"]
    )
    z_i, z_f = z[:, :3], z[:, 3:6]
    p_i, p_f, _ = operands["peepholes"]
    sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    np.testing.assert_allclose(
        sigmoid(z_i + p_i * c), 1 - sigmoid(z_f + p_f * c), atol=1e-12
    )


# --- litert.run: a converted file on float inputs, as a device runs it ------


@pytest.fixture(scope="module")
def small_model():
    """A `LSTM` (Keras's initializers) with a head, its float file of batch
    2, its int8 file, and inputs on which the int8 file is calibrated."""
    keras.utils.set_random_seed(7)
    inputs = keras.Input((STEPS, FEATURES))
    model = keras.Model(inputs, keras.layers.Dense(3)(klv.LSTM(6)(inputs)))
    x = np.random.default_rng(7).uniform(-1, 1, (6, STEPS, FEATURES))
    x = x.astype("float32")

    def calibration():
        for row in x:
            yield [row[None]]

    return (
        model,
        x,
        litert.convert(model, batch_size=2),
        litert.convert(
            model, quantize="int8", representative_dataset=calibration
        ),
    )


@pytest.mark.parametrize("runtime", litert.RUNTIMES)
def test_run_gives_what_predict_gives_float_and_int8(
    small_model, runtime, tmp_path
):
    model, x, float_file, int8_file = small_model
    expected = model.predict(x, verbose=0)

    # Batches of the file's size, each from a zero state: the state of the
    # previous batch does not leak into the next (predict's semantics).
    np.testing.assert_allclose(
        litert.run(float_file, x, runtime=runtime), expected, atol=1e-5
    )
    path = tmp_path / "model.tflite"
    path.write_bytes(int8_file)
    # int8: quantized inputs, dequantized outputs, from the file's own
    # scales; the error is the quantization's, a few steps of the output's
    # int8 grid (1.6 steps measured).
    actual = litert.run(str(path), x, runtime=runtime)
    assert actual.dtype == np.float32 and actual.shape == expected.shape
    step = np.ptp(expected) / 255
    assert np.abs(actual - expected).max() < 3 * step, (actual, expected)


@pytest.mark.parametrize("runtime", litert.RUNTIMES)
def test_int8_file_of_a_cell_with_a_small_state_range_runs_right(runtime):
    """CoupledLSTM's defaults keep |c| below 0.5 on these inputs: the int16
    cell state would get a scale LiteRT's kernel computes wrongly (mean
    error 0.14 on outputs spanning 0.37, measured before the fix), while
    tflite-micro was right: both now give what predict gives."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6, 4)), klv.CoupledLSTM(8)])
    x = np.random.default_rng(0).uniform(-1, 1, (120, 6, 4)).astype("float32")

    def calibration():
        for row in x[:100]:
            yield [row[None]]

    int8_file = litert.convert(
        model, quantize="int8", representative_dataset=calibration
    )
    expected = model.predict(x[100:], verbose=0)
    actual = litert.run(int8_file, x[100:], runtime=runtime)
    step = np.ptp(expected) / 255  # 1.3 steps measured, in both runtimes
    assert np.abs(actual - expected).max() < 3 * step, (actual, expected)


def test_run_names_what_is_wrong(small_model):
    model, x, float_file, _ = small_model
    cases = [
        (
            lambda: litert.run(float_file, x, runtime="arduino"),
            "runtime='arduino'",
        ),
        (lambda: litert.run(float_file, x[:3]), r"batches of 2.*\(3, 10, 3\)"),
        (
            lambda: litert.run(float_file, x[..., :2]),
            r"\(10, 3\).*\(6, 10, 2\)",
        ),
        (lambda: litert.run(float_file, [x, x]), "1 input.*Received: 2"),
        (lambda: litert.run("missing.tflite", x), "missing.tflite"),
        (lambda: litert.run(model, x), "of type Functional"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    peepholes = litert.convert(_random_model([klv.PeepholeLSTM(4)]))
    with pytest.raises(ValueError, match="has peepholes.*runtime='litert'"):
        litert.run(peepholes, x[:1], runtime="micro")


def test_gru_layers_convert_unrolled_and_run_on_every_runtime(monkeypatch):
    """LiteRT has no fused GRU op: a GRU layer converts unrolled (builtin
    ops, no `WHILE`), and so runs in LiteRT and tflite-micro with the
    Keras model's outputs, and quantizes to int8.

    The int8 conversion runs with the memory freed before calibration
    overwritten: TensorFlow's calibration wrapper reads the model's
    constants from bytes that only its Python owner keeps alive, and
    `quantize_int8` once dropped that owner (CI then failed at random on a
    `SPLIT` whose axis was read from reused memory)."""
    import gc

    from keras_lstm_variants.litert import _tensorflow

    model = _random_model([
        klv.GRU(4, return_sequences=True), klv.MGU(4, go_backwards=True),
    ])
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, STEPS, FEATURES)).astype("float32")
    expected = model.predict(x, verbose=0)
    flatbuffer = litert.convert(model)
    assert "WHILE" not in _ops(flatbuffer)
    actual, given, taken = _run_litert(flatbuffer, x)
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    micro = _run_micro(flatbuffer, x, given, taken)
    np.testing.assert_allclose(micro, expected, atol=1e-5)

    calibrated = _tensorflow._calibrated

    def after_reuse(*args):
        gc.collect()  # then blocks of the file's size, reused and written
        sizes = range(len(flatbuffer), 2 * len(flatbuffer), 256)
        junk = [bytes([0x7F]) * size for size in sizes]  # noqa: F841
        return calibrated(*args)

    monkeypatch.setattr(_tensorflow, "_calibrated", after_reuse)
    quantized = litert.convert(
        model, quantize="int8",
        representative_dataset=lambda: ([row[None]] for row in x),
    )
    int8, _, _ = _run_litert(quantized, x)
    # int8 rounding of the activations: a few steps of 1/128 of the range.
    span = np.abs(expected).max()
    assert np.abs(int8 - expected).max() < 0.1 * span
