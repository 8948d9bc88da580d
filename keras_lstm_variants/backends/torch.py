"""PyTorch: eager loops, no custom gradient needed, and the ops behind
`torch.nn.LSTM` and `torch.nn.GRU` as the fused kernels.

`fused_lstm` runs a whole sequence in `torch.lstm` (cuDNN on a GPU, ATen's
kernels on CPU), given a cell's standard LSTM form: projection included
(`torch.nn.LSTM`'s `proj_size`), no peepholes, no clips, no mask. The
operands are the form's tensors, transposed to PyTorch's layout, so
autograd carries the gradients back to the cell's own weights.
"""

import warnings

import torch
from keras import ops

from keras_lstm_variants.backends._common import Declined
from keras_lstm_variants.backends._common import refuse_parts


def loop_context():
    return "torch"


def with_gradient(forward, backward):
    """None: on PyTorch the layers take autodiff of the forward pass."""
    return None


def fused_lstm(sequences, h_0, c_0, mask, form, return_sequences, training):
    """`(last_output, outputs, [h, c])` of the form's op over `sequences`
    `(batch, steps, features)` from the states `h_0`, `c_0`."""
    if mask is not None:
        raise Declined("PyTorch's native LSTM op takes no mask")
    if torch.jit.is_tracing():
        # PyTorch's ONNX export traces the model: it records the loop.
        raise Declined("torch.jit is tracing the model")
    refuse_parts(
        form, ("peepholes", "cell_clip", "projection_clip"),
        "PyTorch's native LSTM op",
    )
    kernel, recurrent_kernel, bias = (
        None if w is None else ops.convert_to_tensor(w)
        for w in (form.kernel, form.recurrent_kernel, form.bias)
    )
    # torch.nn.LSTM's parameter order: weight_ih, weight_hh, bias_ih,
    # bias_hh, weight_hr; weights are (out, in).
    params = [kernel.T, recurrent_kernel.T]
    if bias is not None:
        params += [bias, torch.zeros_like(bias)]
    if form.projection_kernel is not None:
        params.append(ops.convert_to_tensor(form.projection_kernel).T)
    states = (
        ops.convert_to_tensor(h_0).unsqueeze(0),
        ops.convert_to_tensor(c_0).unsqueeze(0),
    )
    with warnings.catch_warnings():
        # With a projection, ATen says it runs its own kernel, not oneDNN's:
        # that is the op's business, not the user's.
        warnings.filterwarnings(
            "ignore", "LSTM with projections is not supported with oneDNN"
        )
        outputs, h, c = torch.lstm(
            ops.convert_to_tensor(sequences).to(kernel.dtype),
            tuple(s.to(kernel.dtype) for s in states),
            params,
            bias is not None,  # has_biases
            1,  # num_layers
            0.0,  # dropout between layers
            bool(training),
            False,  # bidirectional
            True,  # batch_first
        )
    return outputs[:, -1], outputs, [h[0], c[0]]


def fused_gru(sequences, h_0, mask, form, return_sequences, training):
    """`(last_output, outputs, [h])` of the standard GRU form's op
    (`torch.gru`: cuDNN on a GPU, ATen on CPU) over `sequences`. PyTorch's
    gate order is r, z, n where Keras's is z, r, h: the blocks are
    reordered, in the graph, so that gradients reach the cell's weights."""
    if mask is not None:
        raise Declined("PyTorch's native GRU op takes no mask")
    if torch.jit.is_tracing():
        raise Declined("torch.jit is tracing the model")
    kernel, recurrent_kernel = (
        ops.convert_to_tensor(w) for w in (form.kernel, form.recurrent_kernel)
    )

    def torch_order(w):  # Keras's z, r, h blocks -> PyTorch's r, z, n
        z, r, h = torch.chunk(w, 3, dim=-1)
        return torch.cat([r, z, h], dim=-1)

    params = [torch_order(kernel).T, torch_order(recurrent_kernel).T]
    if form.bias is not None:
        bias = ops.convert_to_tensor(form.bias)
        params += [torch_order(bias[0]), torch_order(bias[1])]
    outputs, h = torch.gru(
        ops.convert_to_tensor(sequences).to(kernel.dtype),
        ops.convert_to_tensor(h_0).to(kernel.dtype).unsqueeze(0),
        params,
        form.bias is not None,  # has_biases
        1,  # num_layers
        0.0,  # dropout between layers
        bool(training),
        False,  # bidirectional
        True,  # batch_first
    )
    return outputs[:, -1], outputs, [h[0]]
