"""PyTorch-only fast path of the layers, in one module.

`native_lstm` runs a whole sequence in the op behind `torch.nn.LSTM`
(`torch.lstm`: cuDNN on a GPU, ATen's kernels on CPU), given a cell's
standard LSTM form (`LSTMCellBase.standard_lstm_form`): projection
included (`torch.nn.LSTM`'s `proj_size`), no peepholes, no clips. The
operands are the form's tensors, transposed to PyTorch's layout, so
autograd carries the gradients back to the cell's own weights.
`_fused.py` decides where it runs.
"""

import warnings

import torch
from keras import ops


def native_lstm_runs_here(inputs, on_cpu):
    """Whether the native op runs for `inputs` here: on a CUDA device, or
    on CPU where `on_cpu` says it pays; not while `torch.jit` traces the
    model (PyTorch's ONNX export), which then records the portable loop."""
    if torch.jit.is_tracing():
        return False
    return inputs.device.type == "cuda" or on_cpu


def native_lstm(inputs, h_0, c_0, form, go_backwards, training):
    """`(last_output, outputs, [h, c])` of the form's op over `inputs`
    `(batch, steps, features)` from the states `h_0`, `c_0`; with
    `go_backwards` the steps run last to first (and so do the outputs)."""
    kernel, recurrent_kernel, bias = (
        None if w is None else ops.convert_to_tensor(w)
        for w in (form.kernel, form.recurrent_kernel, form.bias)
    )
    inputs = ops.convert_to_tensor(inputs)
    # torch.nn.LSTM's parameter order: weight_ih, weight_hh, bias_ih,
    # bias_hh, weight_hr; weights are (out, in).
    params = [kernel.T, recurrent_kernel.T]
    if bias is not None:
        params += [bias, torch.zeros_like(bias)]
    if form.projection_kernel is not None:
        params.append(ops.convert_to_tensor(form.projection_kernel).T)
    if go_backwards:
        inputs = torch.flip(inputs, (1,))
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
            inputs.to(kernel.dtype),
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
