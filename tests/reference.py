"""Independent NumPy (float64) implementations of the equations.

Written from the equations in the papers and the issue, not from the
package's code: each step function takes the weights by their documented
names and returns the new (h, c). `run` applies a step over a sequence with
the masking semantics of `keras.layers.RNN`.
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _gate_inputs(x, h, w, n_gates):
    z = x @ w["kernel"] + h @ w["recurrent_kernel"]
    if "bias" in w:
        z = z + w["bias"]
    return np.split(z, n_gates, axis=-1)


def lstm_step(x, h, c, w):
    z_i, z_f, z_c, z_o = _gate_inputs(x, h, w, 4)
    c_new = sigmoid(z_f) * c + sigmoid(z_i) * np.tanh(z_c)
    return sigmoid(z_o) * np.tanh(c_new), c_new


def peephole_step(x, h, c, w):
    z_i, z_f, z_c, z_o = _gate_inputs(x, h, w, 4)
    i = sigmoid(z_i + w["input_gate_peephole_weights"] * c)
    f = sigmoid(z_f + w["forget_gate_peephole_weights"] * c)
    c_new = f * c + i * np.tanh(z_c)
    o = sigmoid(z_o + w["output_gate_peephole_weights"] * c_new)
    return o * np.tanh(c_new), c_new


def coupled_step(x, h, c, w):
    z_f, z_c, z_o = _gate_inputs(x, h, w, 3)
    p_f = w.get("forget_gate_peephole_weights", 0.0)
    p_o = w.get("output_gate_peephole_weights", 0.0)
    f = sigmoid(z_f + p_f * c)
    c_new = f * c + (1.0 - f) * np.tanh(z_c)
    o = sigmoid(z_o + p_o * c_new)
    return o * np.tanh(c_new), c_new


def layer_norm(a, gamma, beta, epsilon):
    mean = a.mean(axis=-1, keepdims=True)
    variance = ((a - mean) ** 2).mean(axis=-1, keepdims=True)
    return (a - mean) / np.sqrt(variance + epsilon) * gamma + beta


def layer_norm_step(x, h, c, w, epsilon=1e-3, carry_normalized_state=False):
    def ln(a, name):
        return layer_norm(a, w[name + "_gamma"], w[name + "_beta"], epsilon)

    z = ln(x @ w["kernel"], "kernel_norm")
    z = z + ln(h @ w["recurrent_kernel"], "recurrent_norm")
    if "bias" in w:
        z = z + w["bias"]
    z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
    c_new = sigmoid(z_f) * c + sigmoid(z_i) * np.tanh(z_c)
    c_norm = ln(c_new, "state_norm")
    h_new = sigmoid(z_o) * np.tanh(c_norm)
    return h_new, (c_norm if carry_normalized_state else c_new)


def run(
    step,
    weights,
    x,
    h0=None,
    c0=None,
    mask=None,
    go_backwards=False,
    zero_output_for_mask=False,
):
    """Runs `step` over x (batch, time, features) like `keras.layers.RNN`.

    Returns (outputs, h, c); `outputs` is in processing order (reversed when
    `go_backwards`), as Keras returns it. A masked step keeps the states and
    repeats the previous output (or outputs zeros).
    """
    x = np.asarray(x, np.float64)
    batch, time = x.shape[:2]
    units = weights["recurrent_kernel"].shape[0]
    h = np.zeros((batch, units)) if h0 is None else np.asarray(h0, np.float64)
    c = np.zeros((batch, units)) if c0 is None else np.asarray(c0, np.float64)
    mask = np.ones((batch, time), bool) if mask is None else np.asarray(mask)
    order = range(time - 1, -1, -1) if go_backwards else range(time)
    output = np.zeros((batch, units))
    outputs = []
    for t in order:
        h_new, c_new = step(x[:, t], h, c, weights)
        keep = mask[:, t][:, None]
        h = np.where(keep, h_new, h)
        c = np.where(keep, c_new, c)
        output = np.where(keep, h_new, output)
        outputs.append(np.where(keep, h_new, 0.0) if zero_output_for_mask
                       else output)
    return np.stack(outputs, axis=1), h, c
