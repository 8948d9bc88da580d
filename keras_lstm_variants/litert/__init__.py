"""On-device: the layers as LiteRT's fused `UNIDIRECTIONAL_SEQUENCE_LSTM` op.

`convert(model)` turns a Keras model (TensorFlow backend) into a `.tflite`
flatbuffer in which each of our layers is one fused sequence-LSTM op, no
`WHILE` loop: the form that LiteRT's and the microcontroller runtime's
optimised kernels run, and that full-integer int8 quantization supports.

How: while `convert` traces the model, each supported layer runs a function
that TensorFlow's converter recognises and replaces by the fused op (the
mechanism of Keras 2's `LSTM`, in `litert/_tensorflow.py`), with the operands
of the cell's standard LSTM form (`LSTMCellBase.standard_lstm_form`, the
declaration every fused route reads); the converter fills in the standard
gates. What the converter's route cannot say (peepholes, projection,
clipping) `convert` then writes into the op, whose operands have a slot for
each; the coupled gate of `CoupledLSTM` is, as its form declares, the
standard input gate $\\sigma(-z_f) = 1 - \\sigma(z_f)$. Last, with
`quantize="int8"`, the model is calibrated on the representative data and
quantized as the converter does.

What fuses (`unsupported_reason` says why a layer does not):

- `LSTM`, `PeepholeLSTM`, `CoupledLSTM` (with or without peepholes), and
  any variant that declares a standard LSTM form (`standard_lstm_gates`), with
  `projection_units`, `cell_clip` and `projection_clip`, `return_sequences`
  either way, `go_backwards`, stacked, inside `keras.layers.Bidirectional`
  (two unidirectional ops), with `activation="tanh"` and
  `recurrent_activation="sigmoid"` (the op's gates).
- Not: `LayerNormLSTM` (it normalises $xW$ and $hU$ separately, the op
  normalises each gate's sum), Greff et al.'s search-space variants and
  variants that declare no standard form (the op computes only the
  standard equations), zoneout
  (its inference output is a mixture with the previous state), masks,
  `stateful`, `return_state` and an `initial_state` (the op keeps its state
  in variable tensors of its own). With `unsupported="unroll"` such a layer
  is unrolled over its fixed number of steps instead (builtin ops, no
  fused op); with `unsupported="error"` (the default) `convert` raises.
"""

import functools

import numpy as np

from keras_lstm_variants._gru_layer import GRULayerBase
from keras_lstm_variants._keras_internal import flatten_layers
from keras_lstm_variants._lstm_layer import LSTMLayerBase

QUANTIZATIONS = (None, "int8")
UNSUPPORTED = ("error", "unroll")


def unsupported_reason(layer, mask=None, initial_state=None):
    """Why `layer` cannot run as the fused op, or None where it can.

    `mask` and `initial_state` are those of the call being converted.
    """
    cell = layer.cell
    problem = cell.standard_lstm_form_problem()
    if problem is not None:
        return problem
    if cell.standard_lstm_form() is None:
        return (
            f"{type(cell).__name__} has no standard LSTM form in this "
            "configuration"
        )
    if layer.stateful:
        return "the fused op keeps no state across calls (stateful=True)"
    if layer.return_state:
        return "the fused op does not return its final states (return_state)"
    if mask is not None:
        return "the fused op has no mask (the layer was called with a mask)"
    if initial_state is not None:
        return "the fused op starts from zeros (an initial_state was passed)"
    return None


def fusable_layers():
    """The names of the package's layers whose cells, as constructed by
    default, have a standard LSTM form (which the fused op computes)."""

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return sorted({
        layer.__name__ for layer in subclasses(LSTMLayerBase)
        if layer.__module__.startswith("keras_lstm_variants.")
        and not layer.__name__.startswith("_")
        and layer.cell_class(1).standard_lstm_form_problem() is None
    })


def fused_weights(cell):
    """The fused op's operands for `cell`, as NumPy arrays: its standard
    LSTM form (`LSTMCellBase.standard_lstm_form`) in the op's terms.

    Returns a dict: `kernel` `(features, 4 * units)`, `recurrent_kernel`
    `(output_size, 4 * units)` and `bias` `(4 * units,)`, with the gate
    blocks in the op's order i, f, c, o (Keras's); `peepholes`, None or the
    three vectors for i, f, o; `projection`, None or `(units, projection)`;
    `cell_clip` and `projection_clip` (0 for none, as the op's options).
    `CoupledLSTM`'s input gate is $\\sigma(-z_f - p_f c)$: the negated
    forget-gate weights, as its form declares.
    """
    form = cell.standard_lstm_form()
    if form is None:
        raise ValueError(
            f"{type(cell).__name__} has no standard LSTM form: "
            f"{cell.standard_lstm_form_problem() or 'none declared here'}."
        )
    kernel = _as_numpy(form.kernel)
    bias = (
        np.zeros(kernel.shape[1], kernel.dtype)
        if form.bias is None
        else _as_numpy(form.bias)
    )
    return {
        "kernel": kernel,
        "recurrent_kernel": _as_numpy(form.recurrent_kernel),
        "bias": bias,
        "peepholes": None
        if form.peepholes is None
        else tuple(_as_numpy(p) for p in form.peepholes),
        "projection": None
        if form.projection_kernel is None
        else _as_numpy(form.projection_kernel),
        "cell_clip": float(form.cell_clip or 0.0),
        "projection_clip": float(form.projection_clip or 0.0),
    }


def _as_numpy(variable):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(variable))


def convert(
    model,
    quantize=None,
    representative_dataset=None,
    unsupported="error",
    batch_size=1,
):
    """Converts `model` to a LiteRT flatbuffer with fused LSTM ops.

    Args:
        model: A built Keras model, TensorFlow backend, whose inputs have a
            known shape but for the batch.
        quantize: None (float32) or `"int8"`: full-integer quantization,
            int8 inputs and outputs, builtin int8 ops only
            (`TFLITE_BUILTINS_INT8`), calibrated on `representative_dataset`.
        representative_dataset: With `quantize="int8"`, a callable returning
            an iterable of input lists (one array per model input, batch
            `batch_size`), as `TFLiteConverter.representative_dataset`.
        unsupported: What to do with a layer that cannot be fused
            (`unsupported_reason`): `"error"` raises, `"unroll"` unrolls it.
        batch_size: The batch of the converted model (the fused op's state
            tensors have a fixed batch). Defaults to 1.

    Returns:
        The `.tflite` flatbuffer, as bytes.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "litert.convert traces the model with TensorFlow's converter: "
            "set KERAS_BACKEND=tensorflow. Received: backend="
            f"{keras.backend.backend()!r}."
        )
    if not isinstance(model, keras.Model):
        raise ValueError(
            "Argument `model` must be a keras.Model (load a `.keras` file "
            "with keras.saving.load_model first). Received: "
            f"model={model!r}."
        )
    if quantize not in QUANTIZATIONS:
        raise ValueError(
            f"Argument `quantize` must be one of {QUANTIZATIONS}. "
            f"Received: quantize={quantize!r}."
        )
    if quantize == "int8" and representative_dataset is None:
        raise ValueError(
            "Argument `representative_dataset` is needed to calibrate "
            "quantize='int8'. Received: representative_dataset=None."
        )
    if unsupported not in UNSUPPORTED:
        raise ValueError(
            f"Argument `unsupported` must be one of {UNSUPPORTED}. "
            f"Received: unsupported={unsupported!r}."
        )
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(
            "Argument `batch_size` must be a positive integer. "
            f"Received: batch_size={batch_size!r}."
        )
    from keras_lstm_variants.litert import _tensorflow

    records = {}
    layers = [
        layer for layer in flatten_layers(model)
        if isinstance(layer, (LSTMLayerBase, GRULayerBase))
    ]
    unrolls = [layer.unroll for layer in layers]
    for layer in layers:
        layer.call_hook = functools.partial(
            _traced_call, records=records, unsupported=unsupported
        ) if isinstance(layer, LSTMLayerBase) else _unrolled_call
    try:  # Keras traces the model here, our layers marked by their hooks
        flatbuffer = _tensorflow.litert_float_model(model, batch_size)
        unrolled = [
            layer.name for layer, unroll in zip(layers, unrolls, strict=True)
            if layer.unroll and not unroll
        ]
    finally:
        for layer, unroll in zip(layers, unrolls, strict=True):
            layer.call_hook = None
            layer.unroll = unroll
    flatbuffer = _tensorflow.with_full_operands(
        flatbuffer, list(records.values())
    )
    if quantize == "int8":
        if records and unrolled:
            raise ValueError(
                "quantize='int8' calibrates the fused LSTM op's state on "
                "each sample from zero, which a model that also has unrolled "
                f"layers ({', '.join(unrolled)}) cannot do (their number of "
                "steps is fixed). Convert the parts separately, or quantize "
                "a model of fused layers only. Received: quantize='int8'."
            )
        flatbuffer = _tensorflow.quantize_int8(
            flatbuffer, representative_dataset, reset_state=bool(records)
        )
    return flatbuffer


def _traced_call(layer, sequences, initial_state, mask, records, unsupported):
    """A layer's call while `convert` traces the model: the fused op's
    marked function where it computes the layer, else None (the layer's
    own call, unrolled) or an error, as `unsupported` asks."""
    from keras_lstm_variants.litert import _tensorflow

    reason = unsupported_reason(layer, mask, initial_state)
    if reason is None:
        return _tensorflow.litert_fused_call(
            layer, sequences, fused_weights, records
        )
    if unsupported == "error":
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) cannot be "
            f"LiteRT's fused LSTM op: {reason}. The layers of this package "
            f"that can are {', '.join(fusable_layers())} (and any variant "
            "with a standard LSTM form). Pass unsupported='unroll' to unroll "
            "it instead."
        )
    return _unrolled_call(layer, sequences, reason=reason)


def _unrolled_call(layer, sequences, initial_state=None, mask=None,
                   reason="LiteRT has no fused GRU op"):
    """None (the layer's own call), unrolled over the fixed number of steps:
    builtin ops that LiteRT, tflite-micro and int8 quantization all take.
    A GRU layer always converts so: kept as a loop, the converter's `WHILE`
    ran in LiteRT but gave other numbers in tflite-micro and stopped the
    int8 quantizer here."""
    if sequences.shape[1] is None:
        raise ValueError(
            f"Layer {layer.name!r} cannot be fused ({reason}) nor unrolled "
            "without a fixed number of steps. Received: inputs.shape="
            f"{tuple(sequences.shape)}."
        )
    layer.unroll = True  # restored by `convert`
    return None


__all__ = [
    "convert", "fusable_layers", "fused_weights", "run", "unsupported_reason",
]

# --- Running a converted file, as a device does ----------------------------

RUNTIMES = ("litert", "micro")


def run(flatbuffer, inputs, runtime="litert"):
    """Runs a `.tflite` file on float inputs, as a device would.

    Each batch of the file's fixed batch size starts from a zero state (the
    fused op keeps `h` and `c` between invocations: `run` resets them). A
    full-integer int8 file's inputs are quantized, and its outputs
    dequantized, with the scale and zero point that the file itself holds,
    so that the result compares with `model.predict` directly.

    Args:
        flatbuffer: The file, as `convert` returns it (bytes) or a path.
        inputs: A float array `(samples, *input_shape)`, or a list of them,
            one per input of the file (in the file's order). `samples` is a
            multiple of the file's batch size (`convert`'s `batch_size`).
        runtime: `"litert"`, LiteRT's interpreter (`ai-edge-litert`), or
            `"micro"`, the microcontroller interpreter of `tflite-micro`,
            whose LSTM kernel runs `LSTM` and `CoupledLSTM` without
            peepholes or projection. Both are in the `export` extra.

    Returns:
        The outputs as float32, `(samples, *output_shape)`: one array, or a
        list of them for a file with several outputs.
    """
    if runtime not in RUNTIMES:
        raise ValueError(
            f"Argument `runtime` must be one of {RUNTIMES}. "
            f"Received: runtime={runtime!r}."
        )
    flatbuffer = _flatbuffer_bytes(flatbuffer)
    Interpreter = _runtime_module("ai_edge_litert.interpreter").Interpreter
    interpreter = Interpreter(model_content=flatbuffer, num_threads=1)
    interpreter.allocate_tensors()
    given = interpreter.get_input_details()
    taken = interpreter.get_output_details()
    arrays = _checked_inputs(inputs, given)
    batch = int(given[0]["shape"][0])
    if runtime == "micro":
        reason = _micro_unsupported(interpreter)
        if reason:
            raise ValueError(
                f"tflite-micro's LSTM kernel cannot run this file: {reason}. "
                "Run it with runtime='litert'. Received: runtime='micro'."
            )
        micro = _runtime_module("tflite_micro.python.tflite_micro.runtime")
        interpreter = micro.Interpreter.from_bytes(flatbuffer)
    outputs = [[] for _ in taken]
    for start in range(0, len(arrays[0]), batch):
        if runtime == "micro":
            interpreter.reset()
        else:
            interpreter.reset_all_variables()
        for index, (array, detail) in enumerate(
            zip(arrays, given, strict=True)
        ):
            x = _quantize(array[start:start + batch], detail)
            if runtime == "micro":
                interpreter.set_input(x, index)
            else:
                interpreter.set_tensor(detail["index"], x)
        interpreter.invoke()
        for index, detail in enumerate(taken):
            y = (
                interpreter.get_output(index)
                if runtime == "micro"
                else interpreter.get_tensor(detail["index"])
            )
            outputs[index].append(_dequantize(np.array(y), detail))
    results = [np.concatenate(parts) for parts in outputs]
    return results[0] if len(results) == 1 else results


def _micro_unsupported(interpreter):
    """Why tflite-micro cannot run a file: its LSTM kernel has no peephole
    operands (9-11 of the fused op) and no projection (16-17)."""
    for op in interpreter._get_ops_details():
        if op["op_name"] != "UNIDIRECTIONAL_SEQUENCE_LSTM":
            continue
        operands = [int(i) for i in op["inputs"]]
        if any(i >= 0 for i in operands[9:12]):
            return "a fused LSTM op has peepholes"
        if any(i >= 0 for i in operands[16:18]):
            return "a fused LSTM op has a projection"
    return None


def _runtime_module(name):
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"litert.run needs {name.split('.')[0]!r}, which is not "
            'installed: pip install "keras-lstm-variants[export-tensorflow]"'
            ' (from a checkout: pip install ".[export-tensorflow]").',
            name=error.name,
        ) from error


def _flatbuffer_bytes(flatbuffer):
    import os

    if isinstance(flatbuffer, (bytes, bytearray)):
        return bytes(flatbuffer)
    if isinstance(flatbuffer, (str, os.PathLike)):
        if not os.path.isfile(flatbuffer):
            raise ValueError(
                "Argument `flatbuffer` is neither bytes nor an existing "
                f"file. Received: flatbuffer={flatbuffer!r}."
            )
        with open(flatbuffer, "rb") as file:
            return file.read()
    raise ValueError(
        "Argument `flatbuffer` must be the bytes that `convert` returns or "
        f"a path to a .tflite file. Received: flatbuffer of type "
        f"{type(flatbuffer).__name__}."
    )


def _checked_inputs(inputs, details):
    arrays = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if len(arrays) != len(details):
        raise ValueError(
            f"The file has {len(details)} input(s), and `inputs` must hold "
            f"one array for each. Received: {len(arrays)} array(s)."
        )
    arrays = [np.asarray(a, dtype="float32") for a in arrays]
    batch = int(details[0]["shape"][0])
    for index, (array, detail) in enumerate(zip(arrays, details, strict=True)):
        expected = tuple(int(d) for d in detail["shape"][1:])
        if array.ndim == 0 or array.shape[1:] != expected:
            raise ValueError(
                f"Input {index} of the file takes samples of shape {expected} "
                "(after a leading axis of samples). Received: "
                f"inputs[{index}].shape={array.shape}."
            )
        if len(array) != len(arrays[0]) or len(array) % batch:
            raise ValueError(
                f"The file runs batches of {batch} samples: each input's "
                f"number of samples must be the same multiple of {batch}. "
                f"Received: inputs[{index}].shape={array.shape}."
            )
    return arrays


def _quantize(x, detail):
    if detail["dtype"] == np.float32:
        return x
    scale, zero = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    q = np.round(x / scale + zero)
    return np.clip(q, info.min, info.max).astype(detail["dtype"])


def _dequantize(y, detail):
    if detail["dtype"] == np.float32:
        return y
    scale, zero = detail["quantization"]
    return ((y.astype("float32") - zero) * scale).astype("float32")
