"""The TensorFlow side of `litert.convert`: TensorFlow's converter, and the
edits of LiteRT's flatbuffer that it cannot make itself. Every function
imports TensorFlow when called: importing the package imports no backend.
"""

# TensorFlow's converter replaces a function that carries the attribute
# `api_implements="lstm_<unique id>"` (with `time_major` and `go_backwards`
# attributes) by one `UNIDIRECTIONAL_SEQUENCE_LSTM` op, reading the
# function's arguments as Keras 2's `standard_lstm` had them: inputs,
# initial h and c, kernel, recurrent kernel, bias (gates i, f, c, o). It
# ignores the function's body, and of its results it fills the outputs (the
# last and all), not the final states. This is how Keras 2's `LSTM` reached
# the fused op; `litert.convert` traces the model (`litert_float_model`)
# with each supported layer calling such a function (`litert_fused_call`),
# then writes the operands the converter does not know (peepholes,
# projection, clips) into each op (`with_full_operands`).

def _converter_lstm(go_backwards, operands):
    """A new function marked for the converter (one per layer call, as the
    unique id wants). Its body runs only if the traced graph itself is
    executed: the fused op's equations, its arguments' standard gates with
    `operands`' peepholes, projection and clips (`litert.fused_weights`)."""
    import uuid

    import tensorflow as tf

    peepholes = operands["peepholes"]
    projection = operands["projection"]
    cell_clip = operands["cell_clip"]
    projection_clip = operands["projection_clip"]

    def standard_lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        steps = tf.transpose(inputs, (1, 0, 2))
        if go_backwards:
            steps = tf.reverse(steps, axis=[0])

        def step(states, x_t):
            h, c = states
            z = tf.matmul(x_t, kernel) + tf.matmul(h, recurrent_kernel) + bias
            z_i, z_f, z_c, z_o = tf.split(z, 4, axis=1)
            if peepholes is not None:
                z_i += peepholes[0] * c
                z_f += peepholes[1] * c
            c = tf.sigmoid(z_f) * c + tf.sigmoid(z_i) * tf.tanh(z_c)
            if cell_clip:
                c = tf.clip_by_value(c, -cell_clip, cell_clip)
            if peepholes is not None:
                z_o += peepholes[2] * c
            h = tf.sigmoid(z_o) * tf.tanh(c)
            if projection is not None:
                h = tf.matmul(h, projection)
                if projection_clip:
                    h = tf.clip_by_value(h, -projection_clip, projection_clip)
            return h, c

        hs, cs = tf.scan(step, steps, initializer=(init_h, init_c))
        # The last result is Keras 2's "runtime" marker, a float.
        return hs[-1], tf.transpose(hs, (1, 0, 2)), hs[-1], cs[-1], 1.0

    return tf.function(
        standard_lstm,
        experimental_attributes={
            "api_implements": f"lstm_{uuid.uuid4()}",
            "api_preferred_device": "CPU",
            "time_major": False,
            "go_backwards": bool(go_backwards),
        },
        autograph=False,
    )


def litert_fused_call(layer, sequences, operands_of, records):
    """`layer`'s output as the fused op computes it, for the converter.

    `operands_of(cell)` gives the cell's operands as NumPy arrays
    (`litert.fused_weights`), read out of the trace; they are recorded in
    `records` (one entry per layer, as Keras may trace a model more than
    once) for `with_full_operands`."""
    import tensorflow as tf

    with tf.init_scope():  # the weights' values, out of the trace
        weights = operands_of(layer.cell)
    records[id(layer)] = weights
    batch = tf.shape(sequences)[0]
    h0 = tf.zeros((batch, layer.cell.output_size), sequences.dtype)
    c0 = tf.zeros((batch, layer.cell.units), sequences.dtype)
    last, outputs, _, _, _ = _converter_lstm(layer.go_backwards, weights)(
        sequences,
        h0,
        c0,
        tf.constant(weights["kernel"]),
        tf.constant(weights["recurrent_kernel"]),
        tf.constant(weights["bias"]),
    )
    return outputs if layer.return_sequences else last


def litert_float_model(model, batch_size):
    """The model traced for export (where the layers' `call_hook`s, set by
    `litert.convert`, mark the fused ones) and converted to a float LiteRT
    flatbuffer."""
    import tempfile

    import tensorflow as tf

    specs = [
        tf.TensorSpec((batch_size, *tensor.shape[1:]), tensor.dtype)
        for tensor in model.inputs
    ]
    if any(dim is None for spec in specs for dim in spec.shape):
        raise ValueError(
            "litert.convert needs every dimension of each model input except "
            "the batch, the number of time steps included (the fused op's "
            "shape is fixed): build the model with e.g. `keras.Input((steps, "
            "features))`. Received: input shapes "
            f"{[tuple(t.shape) for t in model.inputs]}."
        )
    with tempfile.TemporaryDirectory() as directory:
        model.export(
            directory,
            format="tf_saved_model",
            # The model's one argument: a tensor, or the list of them.
            input_signature=specs if len(specs) == 1 else [specs],
            verbose=False,
        )
        converter = tf.lite.TFLiteConverter.from_saved_model(directory)
        return converter.convert()


# Operand positions of UNIDIRECTIONAL_SEQUENCE_LSTM (TensorFlow Lite schema).
_INPUT_TO_FORGET = 2
_PEEPHOLES = (9, 10, 11)
_PROJECTION = 16


def with_full_operands(flatbuffer, fused):
    """Writes peepholes, projection and clips into each fused op, which the
    converter built from the standard gates only. Each op is matched to its
    layer by its input-to-forget weights."""
    import numpy as np
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(flatbuffer)
    lstm_code = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
    ops = [
        (subgraph, op)
        for subgraph in model.subgraphs
        for op in subgraph.operators
        if model.operatorCodes[op.opcodeIndex].builtinCode == lstm_code
    ]
    unused = list(range(len(fused)))
    for subgraph, op in ops:
        forget = _tensor_array(model, subgraph, op.inputs[_INPUT_TO_FORGET])
        match = [
            k
            for k, w in enumerate(fused)
            if np.array_equal(_forget_block(w["kernel"]), forget)
        ]
        if not match:
            raise RuntimeError(
                "A fused LSTM op matches none of the layers marked for it; "
                "please report this with your TensorFlow version."
            )
        # A layer called twice makes two ops of one record; layers of equal
        # forget weights are told apart by order.
        k = next((k for k in match if k in unused), match[0])
        if k in unused:
            unused.remove(k)
        weights = fused[k]
        inputs = list(op.inputs)
        if weights["peepholes"] is not None:
            for slot, vector in zip(
                _PEEPHOLES, weights["peepholes"], strict=True
            ):
                inputs[slot] = _add_constant(model, subgraph, vector)
        if weights["projection"] is not None:
            inputs[_PROJECTION] = _add_constant(
                model, subgraph, weights["projection"].T
            )
        op.inputs = np.array(inputs, dtype=np.int32)
        op.builtinOptions.cellClip = weights["cell_clip"]
        op.builtinOptions.projClip = weights["projection_clip"]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _forget_block(kernel):
    """The op's input-to-forget weights `(units, features)` from a kernel."""
    units = kernel.shape[1] // 4
    return kernel[:, units : 2 * units].T


def _tensor_array(model, subgraph, index):
    import numpy as np

    tensor = subgraph.tensors[index]
    data = model.buffers[tensor.buffer].data
    if data is None:
        return np.zeros((0,), np.float32)
    return np.frombuffer(bytes(data), "<f4").reshape(tensor.shape)


def _add_constant(model, subgraph, array):
    """Appends a float32 constant tensor; returns its index."""
    import numpy as np
    from tensorflow.lite.python import schema_py_generated as schema

    array = np.ascontiguousarray(array, dtype="<f4")
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(array.tobytes(), np.uint8)
    model.buffers.append(buffer)
    tensor = schema.TensorT()
    tensor.shape = np.array(array.shape, np.int32)
    tensor.type = schema.TensorType.FLOAT32
    tensor.buffer = len(model.buffers) - 1
    tensor.name = f"keras_lstm_variants/constant_{len(subgraph.tensors)}"
    subgraph.tensors.append(tensor)
    return len(subgraph.tensors) - 1


def quantize_int8(flatbuffer, representative_dataset, reset_state=True):
    """Full-integer int8 (int8 inputs and outputs), calibrated on
    `representative_dataset`: the steps `TFLiteConverter` takes for
    `optimizations=[DEFAULT]`, `TFLITE_BUILTINS_INT8`, on our finished float
    model (the converter's own run would quantize before
    `with_full_operands`), with one difference: each sample starts from a
    zero state. The fused op keeps h and c in variable tensors between
    invocations, so the converter's calibration runs the samples as one
    long sequence, and calibrates the cell state on a range it never has
    (measured: int8 PeepholeLSTM on digits, 10.7% accurate; 92.6% so).
    Resizing the inputs makes the interpreter reallocate, which zeroes the
    variable tensors (`reset_state`; a model without the fused op has none,
    and an unrolled layer fixes its number of steps). `tests/test_litert.py`
    fails if TensorFlow moves the functions used here."""
    from tensorflow.lite.python.optimize import calibrator

    # The C++ wrapper reads the model (its constants too) from the bytes it
    # was given, without a copy; only the Python `Calibrator` holds them.
    # Dropping it (as this function once did, keeping `_calibrator` alone)
    # freed the constants under the wrapper: calibration then failed at
    # random (a `SPLIT` axis or a `RESHAPE` shape read from reused memory)
    # or, worse, ran on garbage weights. `owner` lives until the end.
    owner = calibrator.Calibrator(
        calibrator.add_intermediate_tensors(flatbuffer)
    )
    try:
        return _calibrated(owner._calibrator, representative_dataset,
                           reset_state)
    except RuntimeError as error:  # TensorFlow's own calibration failed
        raise ValueError(
            "quantize='int8': TensorFlow's calibrator could not run this "
            f"model ({error}). Convert to float (quantize=None) instead, "
            "and report the model to us. Received: quantize='int8'."
        ) from None


def _calibrated(wrapper, representative_dataset, reset_state):
    """`wrapper` (TensorFlow's calibrator) fed every sample of the
    representative dataset, then its quantized model."""
    import numpy as np
    import tensorflow as tf
    from tensorflow.lite.python.convert import mlir_quantize

    if not reset_state:
        wrapper.Prepare()  # the file's own shapes, no resize
    for sample in representative_dataset():
        if not isinstance(sample, (list, tuple)):
            raise ValueError(
                "Argument `representative_dataset` must yield lists of "
                "arrays, one per model input. Received: a "
                f"{type(sample).__name__}."
            )
        sample = [np.asarray(x, dtype=np.float32) for x in sample]
        shapes = [list(x.shape) for x in sample]
        if reset_state:
            longer = [
                [s[0], s[1] + 1, *s[2:]] if len(s) > 1 else s for s in shapes
            ]
            wrapper.Prepare(longer)
            wrapper.Prepare(shapes)  # reallocated: the state starts at zero
        wrapper.FeedTensor(sample)
    return mlir_quantize(
        _cell_state_range_at_least_one(wrapper.Calibrate()),
        input_data_type=tf.int8,
        output_data_type=tf.int8,
    )


# The fused op's input holding the cell state (TFLite's lstm_shared.h).
_CELL_STATE_INPUT = 19


def _cell_state_range_at_least_one(calibrated):
    """Widens each fused op's calibrated cell-state range to at least
    [-1, 1]. The quantizer gives the int16 cell state the power-of-two
    scale that covers its range: a range inside [-0.5, 0.5] gets 2^-16 or
    less, which LiteRT's integer LSTM kernel computes wrongly (its tanh of
    the cell takes 15 + log2(scale) integer bits, negative there), while
    tflite-micro's is right. Measured: LSTM(8) with weights scaled by 0.3,
    mean error 0.10 on outputs spanning 0.19 in LiteRT, 0.0002 in
    tflite-micro; with the range widened, 0.0003 in both. At least 2^-15
    costs one bit of the int16 cell state only where the range was
    small."""
    import numpy as np
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(calibrated)
    lstm_code = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if model.operatorCodes[op.opcodeIndex].builtinCode != lstm_code:
                continue
            tensor = subgraph.tensors[op.inputs[_CELL_STATE_INPUT]]
            quantization = tensor.quantization
            quantization.min = np.minimum(quantization.min, -1.0)
            quantization.max = np.maximum(quantization.max, 1.0)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
