"""Independent NumPy (float64) implementations of the equations.

Written from the equations in the papers and the issue, not from the
package's code: each step function takes the weights by their documented
names and returns the new (h, c). `run` applies a step over a sequence with
the masking semantics of `keras.layers.RNN`.

The options every step takes (`**options`), as `tf.compat.v1`'s LSTMCell
and Krueger et al. (2017) define them: `cell_clip` clips the new carry before
the output gate (and its peephole) reads it; with a `projection_kernel`
weight the output is projected, then clipped to `projection_clip`;
`zoneout=(r_h, r_c)` at inference mixes each new state with the previous
one, r * previous + (1 - r) * new.
"""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _gate_inputs(x, h, w, n_gates):
    z = x @ w["kernel"] + h @ w["recurrent_kernel"]
    if "bias" in w:
        z = z + w["bias"]
    return np.split(z, n_gates, axis=-1)


def _clip(a, bound):
    return a if bound is None else np.clip(a, -bound, bound)


def _outputs(h_new, c_new, h, c, w, projection_clip=None, zoneout=(0, 0),
             **_):
    """The output's projection and clip, then zoneout, for every step."""
    if "projection_kernel" in w:
        h_new = _clip(h_new @ w["projection_kernel"], projection_clip)
    r_h, r_c = zoneout
    if r_h:
        h_new = r_h * h + (1 - r_h) * h_new
    if r_c:
        c_new = r_c * c + (1 - r_c) * c_new
    return h_new, c_new


def lstm_step(x, h, c, w, cell_clip=None, **options):
    z_i, z_f, z_c, z_o = _gate_inputs(x, h, w, 4)
    c_new = _clip(sigmoid(z_f) * c + sigmoid(z_i) * np.tanh(z_c), cell_clip)
    h_new = sigmoid(z_o) * np.tanh(c_new)
    return _outputs(h_new, c_new, h, c, w, **options)


def peephole_step(x, h, c, w, cell_clip=None, **options):
    z_i, z_f, z_c, z_o = _gate_inputs(x, h, w, 4)
    i = sigmoid(z_i + w["input_gate_peephole_weights"] * c)
    f = sigmoid(z_f + w["forget_gate_peephole_weights"] * c)
    c_new = _clip(f * c + i * np.tanh(z_c), cell_clip)
    o = sigmoid(z_o + w["output_gate_peephole_weights"] * c_new)
    return _outputs(o * np.tanh(c_new), c_new, h, c, w, **options)


def coupled_step(x, h, c, w, cell_clip=None, **options):
    z_f, z_c, z_o = _gate_inputs(x, h, w, 3)
    p_f = w.get("forget_gate_peephole_weights", 0.0)
    p_o = w.get("output_gate_peephole_weights", 0.0)
    f = sigmoid(z_f + p_f * c)
    c_new = _clip(f * c + (1.0 - f) * np.tanh(z_c), cell_clip)
    o = sigmoid(z_o + p_o * c_new)
    return _outputs(o * np.tanh(c_new), c_new, h, c, w, **options)


def janet_step(x, h, c, w, shift=1.0, cell_clip=None, **options):
    """JANET (Van der Westhuizen & Lasenby 2018), the guide's example."""
    z_f, z_c = _gate_inputs(x, h, w, 2)
    write = 1.0 - sigmoid(z_f - shift)
    c_new = _clip(sigmoid(z_f) * c + write * np.tanh(z_c), cell_clip)
    return _outputs(c_new, c_new, h, c, w, **options)


def layer_norm(a, gamma, beta, epsilon):
    mean = a.mean(axis=-1, keepdims=True)
    variance = ((a - mean) ** 2).mean(axis=-1, keepdims=True)
    return (a - mean) / np.sqrt(variance + epsilon) * gamma + beta


def layer_norm_step(x, h, c, w, epsilon=1e-3, carry_normalized_state=False,
                    cell_clip=None, **options):
    """Ba et al.; with `carry_normalized_state`, TFA's form, whose carry is
    LN_c(c_t) (clipped by `cell_clip`, as any carry)."""

    def ln(a, name):
        return layer_norm(a, w[name + "_gamma"], w[name + "_beta"], epsilon)

    z = ln(x @ w["kernel"], "kernel_norm")
    z = z + ln(h @ w["recurrent_kernel"], "recurrent_norm")
    if "bias" in w:
        z = z + w["bias"]
    z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
    c_new = sigmoid(z_f) * c + sigmoid(z_i) * np.tanh(z_c)
    if carry_normalized_state:
        c_new = _clip(ln(c_new, "state_norm"), cell_clip)
        h_new = sigmoid(z_o) * np.tanh(c_new)
    else:
        c_new = _clip(c_new, cell_clip)
        h_new = sigmoid(z_o) * np.tanh(ln(c_new, "state_norm"))
    return _outputs(h_new, c_new, h, c, w, **options)


def _gates(weights):
    """The number of gate blocks: the bias's (or kernel's) width over U."""
    if "projection_kernel" in weights:
        units = weights["projection_kernel"].shape[0]
    else:
        units = weights["recurrent_kernel"].shape[0]
    return weights["kernel"].shape[1] // units


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
    outputs_size = weights["recurrent_kernel"].shape[0]
    units = weights["recurrent_kernel"].shape[1] // _gates(weights)
    h = (np.zeros((batch, outputs_size)) if h0 is None
         else np.asarray(h0, np.float64))
    c = np.zeros((batch, units)) if c0 is None else np.asarray(c0, np.float64)
    mask = np.ones((batch, time), bool) if mask is None else np.asarray(mask)
    order = range(time - 1, -1, -1) if go_backwards else range(time)
    output = np.zeros((batch, outputs_size))
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


def greff_run(name, p, x, mask=None, cell_clip=None):
    """Greff et al.'s (2017) equations of search-space variant `name`, over
    x (batch, time, features), masked like `run`.

    `p` holds the paper's parameters: `W_g` (D, U), `R_g` (P, U) and `b_g`
    for each block g in z (block input), i, f, o; the peepholes `p_i`,
    `p_f`, `p_o`; `R` (3U, 3U) for FGR (rows: i, f, o at t-1; columns: the
    gates i, f, o they feed); `P` (U, P) for a projection. Returns
    (outputs, y, c, gates), `gates` = [i, f, o] of the last step.
    """
    x = np.asarray(x, np.float64)
    batch, time = x.shape[:2]
    units = p["W_z"].shape[1]
    out_size = p["P"].shape[1] if "P" in p else units
    y, c = np.zeros((batch, out_size)), np.zeros((batch, units))
    gates = np.zeros((batch, 3 * units))
    mask = np.ones((batch, time), bool) if mask is None else np.asarray(mask)
    identity = lambda a: a  # noqa: E731
    g = identity if name == "NIAF" else np.tanh
    h = identity if name == "NOAF" else np.tanh
    peep = (lambda k: 0.0) if name == "NP" else (lambda k: p[k])  # noqa: E731
    output, outputs = np.zeros((batch, out_size)), []
    for t in range(time):
        def bar(k, t=t, y=y):
            return x[:, t] @ p[f"W_{k}"] + y @ p[f"R_{k}"] + p[f"b_{k}"]
        r_i, r_f, r_o = (np.split(gates @ p["R"], 3, axis=-1)
                         if name == "FGR" else (0.0, 0.0, 0.0))
        z = g(bar("z"))
        i = 1.0 if name == "NIG" else sigmoid(bar("i") + r_i + peep("p_i") * c)
        if name == "CIFG":
            f = 1.0 - i
        elif name == "NFG":
            f = 1.0
        else:
            f = sigmoid(bar("f") + r_f + peep("p_f") * c)
        c_new = _clip(z * i + c * f, cell_clip)
        o = (1.0 if name == "NOG"
             else sigmoid(bar("o") + r_o + peep("p_o") * c_new))
        y_new = h(c_new) * o
        if "P" in p:
            y_new = y_new @ p["P"]
        gates_new = np.concatenate(
            [np.broadcast_to(a, c.shape) for a in (i, f, o)], axis=-1
        )
        keep = mask[:, t][:, None]
        y, c = np.where(keep, y_new, y), np.where(keep, c_new, c)
        gates = np.where(keep, gates_new, gates)
        output = np.where(keep, y_new, output)
        outputs.append(output)
    return np.stack(outputs, axis=1), y, c, gates


# The minimal RNNs (Feng et al. 2024, "Were RNNs All We Needed?"): the
# sequential equations of the paper (its appendix's "sequential mode"), in
# linear space. Weights: `kernel` (D, kU) and `bias`, blocks h, z (minGRU)
# or h, f, i (minLSTM). Each step returns the new h (the only state).


def _saturating_sigmoid(x):
    """sigmoid(x), without overflow for |x| in the thousands."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def min_g(x):
    """g(x) = x + 1/2 for x >= 0, sigmoid(x) otherwise."""
    return np.where(x >= 0, x + 0.5, _saturating_sigmoid(x))


def _min_gate_inputs(x, w, n_gates):
    z = x @ w["kernel"]
    if "bias" in w:
        z = z + w["bias"]
    return np.split(z, n_gates, axis=-1)


def min_gru_step(x, h, w):
    z_h, z_z = _min_gate_inputs(x, w, 2)
    z = _saturating_sigmoid(z_z)
    return (1.0 - z) * h + z * min_g(z_h)


def min_lstm_step(x, h, w, normalize_gates=True):
    z_h, z_f, z_i = _min_gate_inputs(x, w, 3)
    f, i = _saturating_sigmoid(z_f), _saturating_sigmoid(z_i)
    if normalize_gates:
        # f / (f + i) = 1 / (1 + i / f) = sigmoid(log f - log i): defined
        # where both sigmoids underflow (pre-activations < -745).
        log_f, log_i = -np.logaddexp(0.0, -z_f), -np.logaddexp(0.0, -z_i)
        f = _saturating_sigmoid(log_f - log_i)
        i = _saturating_sigmoid(log_i - log_f)
    return f * h + i * min_g(z_h)


def min_run(step, weights, x, h0=None, mask=None, go_backwards=False,
            zero_output_for_mask=False):
    """`run` for a minimal RNN's step (state h only): (outputs, h)."""
    units = weights["kernel"].shape[1] // (2 if step is min_gru_step else 3)
    return state_run(
        lambda x_t, h: step(x_t, h, weights), x, units, h0=h0, mask=mask,
        go_backwards=go_backwards, zero_output_for_mask=zero_output_for_mask,
    )


def state_run(step, x, units, h0=None, mask=None, go_backwards=False,
              zero_output_for_mask=False):
    """`run` for a cell whose state is h alone, `step(x_t, h) -> h`:
    (outputs, h)."""
    x = np.asarray(x, np.float64)
    batch, time = x.shape[:2]
    h = np.zeros((batch, units)) if h0 is None else np.asarray(h0, np.float64)
    mask = np.ones((batch, time), bool) if mask is None else np.asarray(mask)
    order = range(time - 1, -1, -1) if go_backwards else range(time)
    output, outputs = np.zeros((batch, units)), []
    for t in order:
        h_new = step(x[:, t], h)
        keep = mask[:, t][:, None]
        h = np.where(keep, h_new, h)
        output = np.where(keep, h_new, output)
        outputs.append(np.where(keep, h_new, 0.0) if zero_output_for_mask
                       else output)
    return np.stack(outputs, axis=1), h


# --- The GRU family (Keras's weight layouts: gate blocks z, r, h) ----------


def _gru_biases(w, width, reset_after):
    """(input bias, recurrent bias) of a Keras GRU bias, zeros if absent."""
    b = w.get("bias")
    if b is None:
        return np.zeros(width), np.zeros(width)
    if reset_after:
        return b[0], b[1]
    return b, np.zeros(width)


def gru_step(x, h, w, reset_after=True, zoneout=0.0):
    """Cho et al. (2014), as Keras documents both of its forms: reset
    after the matmul (v3 / cuDNN) or before it (v1)."""
    W, R = w["kernel"], w["recurrent_kernel"]
    bx, bh = _gru_biases(w, W.shape[1], reset_after)
    x_z, x_r, x_h = np.split(x @ W + bx, 3, axis=-1)
    R_z, R_r, R_h = np.split(R, 3, axis=1)
    bh_z, bh_r, bh_h = np.split(bh, 3)
    z = sigmoid(x_z + h @ R_z + bh_z)
    r = sigmoid(x_r + h @ R_r + bh_r)
    if reset_after:
        candidate = np.tanh(x_h + r * (h @ R_h + bh_h))
    else:
        candidate = np.tanh(x_h + (r * h) @ R_h)
    h_new = z * h + (1 - z) * candidate
    return zoneout * h + (1 - zoneout) * h_new


def layer_norm_gru_step(x, h, w, epsilon=1e-5):
    """haste's LayerNormGRU: each projection normalised over its 3U
    columns, scaled by its gain, then biased; the reset gate after."""

    def norm(a, gain):
        mean = a.mean(axis=-1, keepdims=True)
        var = ((a - mean) ** 2).mean(axis=-1, keepdims=True)
        return (a - mean) / np.sqrt(var + epsilon) * gain

    gamma, b = w["norm_gamma"], w["bias"]
    a_x = norm(x @ w["kernel"], gamma[0]) + b[0]
    a_h = norm(h @ w["recurrent_kernel"], gamma[1]) + b[1]
    x_z, x_r, x_h = np.split(a_x, 3, axis=-1)
    h_z, h_r, h_h = np.split(a_h, 3, axis=-1)
    z, r = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
    return z * h + (1 - z) * np.tanh(x_h + r * h_h)


def mgu_step(x, h, w):
    """Zhou et al. (2016): one forget gate f resets and updates."""
    W_f, W_h = np.split(w["kernel"], 2, axis=1)
    R_f, R_h = np.split(w["recurrent_kernel"], 2, axis=1)
    b_f, b_h = np.split(w["bias"], 2)
    f = sigmoid(x @ W_f + b_f + h @ R_f)
    candidate = np.tanh(x @ W_h + b_h + (f * h) @ R_h)
    return (1 - f) * h + f * candidate


def gru_gate_variant_step(x, h, w, name):
    """Dey & Salem (2017): GRU1 gates from h and a bias, GRU2 from h, GRU3
    from a bias; the candidate is the original GRU's (reset before)."""
    W, R, b = w["kernel"], w["recurrent_kernel"], w["bias"]
    if name == "GRU3":
        R_h = R
        b_z, b_r, b_h = np.split(b, 3)
        z, r = sigmoid(b_z), sigmoid(b_r)
    else:
        R_z, R_r, R_h = np.split(R, 3, axis=1)
        if name == "GRU1":
            b_z, b_r, b_h = np.split(b, 3)
        else:
            b_z = b_r = 0.0
            b_h = b
        z, r = sigmoid(h @ R_z + b_z), sigmoid(h @ R_r + b_r)
    candidate = np.tanh(x @ W + b_h + (r * h) @ R_h)
    return z * h + (1 - z) * candidate


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def slstm_step(x, h, c, n, m, w, num_heads=1):
    """xLSTM's sLSTM (Beck et al. 2024, the official code's "slstm"
    pointwise function): exponential input and forget gates stabilised by
    m (the first step, where n = 0, takes m = i), normaliser n, and the
    recurrent kernel block-diagonal over `num_heads` heads,
    `recurrent_kernel[k]` `(d, 4d)` head k's block. Returns (h, c, n, m)."""
    units = c.shape[-1]
    d = units // num_heads
    r = w["recurrent_kernel"]
    ry = np.zeros((x.shape[0], 4, units))
    for k in range(num_heads):
        head = slice(k * d, (k + 1) * d)
        ry[:, :, head] = (h[:, head] @ r[k]).reshape(-1, 4, d)
    z = x @ w["kernel"] + ry.reshape(-1, 4 * units)
    if "bias" in w:
        z = z + w["bias"]
    z_i, z_f, z_z, z_o = np.split(z, 4, axis=-1)
    log_f_plus_m = m + _log_sigmoid(z_f)
    m_new = np.where(n == 0.0, z_i, np.maximum(z_i, log_f_plus_m))
    i = np.minimum(np.exp(z_i - m_new), 1.0)
    f = np.minimum(np.exp(log_f_plus_m - m_new), 1.0)
    c_new = f * c + i * np.tanh(z_z)
    n_new = f * n + i
    return sigmoid(z_o) * c_new / n_new, c_new, n_new, m_new


def slstm_run(weights, x, num_heads=1, states=None, mask=None,
              go_backwards=False):
    """`run` for `slstm_step`: (outputs, [h, c, n, m])."""
    x = np.asarray(x, np.float64)
    batch, time = x.shape[:2]
    units = weights["kernel"].shape[1] // 4
    states = ([np.zeros((batch, units))] * 4 if states is None
              else [np.asarray(s, np.float64) for s in states])
    mask = np.ones((batch, time), bool) if mask is None else np.asarray(mask)
    order = range(time - 1, -1, -1) if go_backwards else range(time)
    output, outputs = np.zeros((batch, units)), []
    for t in order:
        new = slstm_step(x[:, t], *states, weights, num_heads=num_heads)
        keep = mask[:, t][:, None]
        states = [
            np.where(keep, a, b) for a, b in zip(new, states, strict=True)
        ]
        output = np.where(keep, new[0], output)
        outputs.append(output)
    return np.stack(outputs, axis=1), states


def mlstm_step(x, C, n, m, w, num_heads):
    """xLSTM's mLSTM (Beck et al. 2024) with the paper's output gate: per
    head, a matrix memory C (key index, then value index) and normaliser n
    written with exponential input and sigmoid forget gates, stabilised by
    m (the official `recurrent_step_stabilized_simple`, epsilon 1e-6). q, k,
    v, o from `kernel`/`bias`, the gates i, f from `gate_kernel`/
    `gate_bias` (one column per head). Returns (h, C, n, m), C of shape
    (batch, heads, d, d), n (batch, heads, d), m (batch, heads)."""
    z = x @ w["kernel"] + w.get("bias", 0.0)
    q, k, v, o = np.split(z, 4, axis=-1)
    batch, units = q.shape
    d = units // num_heads
    q, k, v = (a.reshape(batch, num_heads, d) for a in (q, k, v))
    k = k / np.sqrt(d)
    i_pre, f_pre = np.split(x @ w["gate_kernel"] + w["gate_bias"], 2, axis=-1)
    log_f = _log_sigmoid(f_pre)
    m_new = np.maximum(log_f + m, i_pre)
    i = np.exp(i_pre - m_new)
    f = np.exp(log_f + m - m_new)
    C_new = (f[..., None, None] * C
             + i[..., None, None] * k[..., :, None] * v[..., None, :])
    n_new = f[..., None] * n + i[..., None] * k
    numerator = np.einsum("bhd,bhde->bhe", q, C_new)
    denominator = np.maximum(np.abs(np.sum(q * n_new, axis=-1)),
                             np.exp(-m_new)) + 1e-6
    h = (numerator / denominator[..., None]).reshape(batch, units)
    return sigmoid(o) * h, C_new, n_new, m_new


def mlstm_run(weights, x, num_heads, mask=None, go_backwards=False):
    """`run` for `mlstm_step` from a zero state: (outputs, [C, n, m])."""
    x = np.asarray(x, np.float64)
    batch, time = x.shape[:2]
    units = weights["kernel"].shape[1] // 4
    d = units // num_heads
    states = [np.zeros((batch, num_heads, d, d)),
              np.zeros((batch, num_heads, d)), np.zeros((batch, num_heads))]
    mask = np.ones((batch, time), bool) if mask is None else np.asarray(mask)
    order = range(time - 1, -1, -1) if go_backwards else range(time)
    output, outputs = np.zeros((batch, units)), []
    for t in order:
        h, *new = mlstm_step(x[:, t], *states, weights, num_heads)
        keep = mask[:, t]
        states = [
            np.where(keep.reshape((batch,) + (1,) * (a.ndim - 1)), a, b)
            for a, b in zip(new, states, strict=True)
        ]
        output = np.where(keep[:, None], h, output)
        outputs.append(output)
    return np.stack(outputs, axis=1), states
