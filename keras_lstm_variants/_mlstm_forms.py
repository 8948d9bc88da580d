r"""The mLSTM's three forms, each the official code's, all computing the
same outputs and states (up to float rounding) from any initial state:

- `mlstm_step`: one step of the recurrence (the official
  `recurrent_step_stabilized_simple`);
- `mlstm_parallel`: every step at once, $T^2$ in time and memory (the
  official `parallel_stabilized_simple`, with an initial state);
- `mlstm_chunkwise`: the recurrence over chunks of steps, the parallel form
  inside each (the official `chunkwise_simple`), its memory close to
  linear in $T$.

Per head, with keys scaled by $1/\sqrt d$ (the official step's
convention; its `chunkwise_simple` scales the queries instead, so that its
`C` and `n` are $\sqrt d$ times ours). Every form takes `q`, `k`, `v`
`(batch, heads, T, d)` (the step: `(batch, heads, d)`), the input gate's
pre-activation `i_pre` and the forget gate's log `log_f`
$= \log \sigma(\tilde f)$ `(batch, heads, T)`, and the state `C`
`(batch, heads, d, d)` (key index, then value index), `n`
`(batch, heads, d)`, `m` `(batch, heads)`.
"""

import math

from keras import ops

from keras_lstm_variants._numerics import LOG_ZERO
from keras_lstm_variants._numerics import log_sigmoid

# The official code's epsilon, added to the normaliser max(|n^T q|, e^-m).
EPSILON = 1e-6


def mlstm_step(q, k, v, i_pre, f_pre, C_tm1, n_tm1, m_tm1):
    r"""One stabilised step, per head: the official
    `recurrent_step_stabilized_simple`.

    `q`, `k`, `v` are `(batch, heads, d)`, `i_pre`, `f_pre` and `m_tm1`
    `(batch, heads)`, `C_tm1` `(batch, heads, d, d)` (key index, then value
    index), `n_tm1` `(batch, heads, d)`. Returns $\tilde h_t$ and
    $(C_t, n_t, m_t)$.
    """
    k = k / math.sqrt(ops.shape(k)[-1])
    log_f = log_sigmoid(f_pre)
    m = ops.maximum(log_f + m_tm1, i_pre)
    f = ops.exp(log_f + m_tm1 - m)
    i = ops.exp(i_pre - m)
    C = (
        f[..., None, None] * C_tm1
        + i[..., None, None] * k[..., :, None] * v[..., None, :]
    )
    n = f[..., None] * n_tm1 + i[..., None] * k
    h_numerator = ops.einsum("bhd,bhde->bhe", q, C)
    qn = ops.sum(q * n, axis=-1)
    h_denominator = ops.maximum(ops.abs(qn), ops.exp(-m)) + EPSILON
    return h_numerator / h_denominator[..., None], (C, n, m)


def mlstm_parallel(q, k, v, i_pre, log_f, C0, n0, m0):
    r"""Every step at once, stabilised: the official
    `parallel_stabilized_simple`, with an initial state `C0`, `n0`, `m0`.
    With $F_t = \sum_{r \le t} \log f_r$,

    $$
    \log D_{ts} = F_t - F_s + \tilde i_s \ (s \le t), \qquad
    \log D_{t0} = F_t + m_0, \qquad
    m_t = \max(\log D_{t0}, \max_s \log D_{ts})
    $$

    and with $D$ scaled by $e^{-m_t}$, $h$'s numerator is
    $D_{t0} q_t^\top C_0 + \sum_s D_{ts} (q_t^\top k_s) v_s$ and
    $n_t^\top q_t = D_{t0} q_t^\top n_0 + \sum_s D_{ts} q_t^\top k_s$.
    The column of the initial state makes $m_t$ the recurrent form's
    exactly, so both forms divide by the same normaliser (the official
    parallel form, which has no initial state, takes the maximum over the
    steps alone; the two differ only in where the epsilon is added).
    Returns $\tilde h$, `(batch, heads, T, d)`, and the last $(C, n, m)$.
    """
    k = k / math.sqrt(ops.shape(k)[-1])
    F = ops.cumsum(log_f, axis=-1)
    h, (D, D0, m) = _from_state(q, k, v, i_pre, F, C0, n0, m0)
    D_last, D0_last = D[..., -1, :], D0[..., -1]
    C = D0_last[..., None, None] * C0 + ops.einsum(
        "bhs,bhsd,bhse->bhde", D_last, k, v
    )
    n = D0_last[..., None] * n0 + ops.einsum("bhs,bhsd->bhd", D_last, k)
    return h, (C, n, m[..., -1])


def mlstm_chunkwise(q, k, v, i_pre, log_f, C0, n0, m0, chunk_size):
    r"""The recurrence over chunks of `chunk_size` steps, the parallel form
    inside each: the official `chunkwise_simple`, with any number of steps
    (the last chunk padded with steps that change nothing: $\tilde i =
    -\infty$, $\log f = 0$) and parallel over the chunks too.

    With $a_t$ the sum of $\log f$ inside $t$'s chunk up to $t$, $A_j$ chunk
    $j$'s total and $G_j = \sum_{l \le j} A_l$, chunk $l$ adds to the state
    $K_l = \sum_{s \in l} e^{A_l - a_s + \tilde i_s - \mu_l} k_s v_s^\top$
    ($\mu_l$ its largest exponent), and the state after chunk $j$ is

    $$
    C_j = e^{G_j + m_0 - M_j} C_0
        + \sum_{l \le j} e^{G_j - G_l + \mu_l - M_j} K_l, \qquad
    M_j = \max(G_j + m_0,\ \max_{l \le j} G_j - G_l + \mu_l)
    $$

    for every $j$ at once ($n$ the same with $k_s$ for $k_s v_s^\top$):
    $M_j$ is the recurrence's $m$ after the chunk, exactly. Inside chunk
    $j$, step $t$ reads the state before the chunk as `mlstm_parallel`
    reads its initial state, with $a_t$ for $F_t$: its stabiliser is the
    recurrence's $m_t$ too, and all three forms divide by the same
    normaliser. Memory per head: $T L$ (the decays inside the chunks) +
    $(T / L) d^2$ (the chunks' states) + $(T / L)^2$ (the decays between
    chunks), against the parallel form's $T^2$; time: the same terms times
    $d$, and $(T / L)^2 d^2$ for the states between chunks, which a scan
    over the chunks (the official loop) would make linear: at $d = 16$
    and T = 16384 it is a small part (measured: RESULTS.md).
    Returns $\tilde h$, `(batch, heads, T, d)`, and the last $(C, n, m)$.
    """
    heads, steps, d = q.shape[1], q.shape[2], q.shape[3]
    k = k / math.sqrt(d)
    size = min(chunk_size, steps)  # a short sequence: one chunk, no padding
    chunks = -(-steps // size)
    pad = chunks * size - steps
    if pad:
        time = [(0, 0), (0, 0), (0, pad)]
        q, k, v = (ops.pad(x, [*time, (0, 0)]) for x in (q, k, v))
        i_pre = ops.pad(i_pre, time, constant_values=LOG_ZERO)
        log_f = ops.pad(log_f, time)

    def chunked(x):  # (batch, heads, T, ...) -> (batch, heads, N, L, ...)
        return ops.reshape(x, (-1, heads, chunks, size, *x.shape[3:]))

    q, k, v, i_pre, log_f = map(chunked, (q, k, v, i_pre, log_f))
    a = ops.cumsum(log_f, axis=-1)  # (batch, heads, N, L)
    A = a[..., -1]
    G = ops.cumsum(A, axis=-1)  # (batch, heads, N)

    # What each chunk adds to the state, stabilised by its own maximum.
    to_end = A[..., None] - a + i_pre
    mu = ops.max(to_end, axis=-1)
    e = ops.exp(to_end - mu[..., None])
    K = ops.einsum("bhnl,bhnld,bhnle->bhnde", e, k, v)
    K_n = ops.einsum("bhnl,bhnld->bhnd", e, k)

    # The states after each chunk, all at once (the parallel form, chunks
    # for steps), then the states before each chunk.
    j = ops.arange(chunks)
    earlier = j[:, None] >= j[None, :]
    log_W = G[..., :, None] - G[..., None, :] + mu[..., None, :]
    log_W = ops.where(earlier, log_W, LOG_ZERO)
    log_W0 = G + m0[..., None]
    M = ops.maximum(ops.max(log_W, axis=-1), log_W0)
    W = ops.exp(log_W - M[..., None])
    W0 = ops.exp(log_W0 - M)
    C_end = W0[..., None, None] * C0[:, :, None] + ops.einsum(
        "bhjl,bhlde->bhjde", W, K
    )
    n_end = W0[..., None] * n0[:, :, None] + ops.einsum(
        "bhjl,bhld->bhjd", W, K_n
    )
    C_before = ops.concatenate([C0[:, :, None], C_end[:, :, :-1]], axis=2)
    n_before = ops.concatenate([n0[:, :, None], n_end[:, :, :-1]], axis=2)
    m_before = ops.concatenate([m0[..., None], M[..., :-1]], axis=-1)

    # Inside each chunk: the parallel form from the state before it, the
    # chunks folded into the heads' axis.
    def folded(x):  # (batch, heads, N, ...) -> (batch, heads * N, ...)
        return ops.reshape(x, (-1, heads * chunks, *x.shape[3:]))

    h, _ = _from_state(
        *map(folded, (q, k, v, i_pre, a, C_before, n_before, m_before))
    )
    h = ops.reshape(h, (-1, heads, chunks * size, d))[:, :, :steps]
    return h, (C_end[:, :, -1], n_end[:, :, -1], M[..., -1])


def mlstm_sequence(q, k, v, i_pre, f_pre, state, heads, chunk_size=None,
                   mask=None):
    r"""The mLSTM over a sequence from operands `(batch, T, heads * d)`
    (heads side by side) and the gates' pre-activations `(batch, T,
    heads)`, from `state` `(C, n, m)` as the forms take it: by the parallel
    form, or the chunkwise one with `chunk_size`. A step where `mask`
    `(batch, T)` is False keeps the state ($\tilde i = -\infty$,
    $\log f = 0$). Returns $\tilde h$ `(batch, T, heads * d)` and the last
    `(C, n, m)`."""

    def by_head(x):  # (batch, T, heads * d) -> (batch, heads, T, d)
        shape = ops.shape(x)
        x = ops.reshape(x, (shape[0], shape[1], heads, x.shape[-1] // heads))
        return ops.transpose(x, (0, 2, 1, 3))

    i_pre = ops.transpose(i_pre, (0, 2, 1))
    log_f = ops.transpose(log_sigmoid(f_pre), (0, 2, 1))
    if mask is not None:
        step_on = ops.expand_dims(ops.cast(mask, "bool"), 1)
        i_pre = ops.where(step_on, i_pre, LOG_ZERO)
        log_f = ops.where(step_on, log_f, 0.0)
    if chunk_size is None:
        h, state = mlstm_parallel(
            by_head(q), by_head(k), by_head(v), i_pre, log_f, *state
        )
    else:
        h, state = mlstm_chunkwise(
            by_head(q), by_head(k), by_head(v), i_pre, log_f, *state,
            chunk_size=chunk_size,
        )
    return ops.reshape(ops.transpose(h, (0, 2, 1, 3)), ops.shape(v)), state


def _from_state(q, k, v, i_pre, F, C0, n0, m0):
    """The parallel form's outputs from the state `(C0, n0, m0)`, with `k`
    scaled and `F` the cumulative log forget gate `(batch, heads, T)`:
    $\tilde h$ and the scaled decays $(D, D_0)$ with their stabiliser $m$
    (`mlstm_parallel`'s equations; `mlstm_chunkwise` runs them inside each
    chunk, the chunks folded into the heads' axis)."""
    steps = ops.shape(q)[2]
    t = ops.arange(steps)
    causal = t[:, None] >= t[None, :]
    log_D = F[..., :, None] - F[..., None, :] + i_pre[..., None, :]
    log_D = ops.where(causal, log_D, LOG_ZERO)
    log_D0 = F + m0[..., None]
    m = ops.maximum(ops.max(log_D, axis=-1), log_D0)
    D = ops.exp(log_D - m[..., None])
    D0 = ops.exp(log_D0 - m)
    scores = ops.einsum("bhtd,bhsd->bhts", q, k) * D
    h_numerator = ops.matmul(scores, v) + D0[..., None] * ops.einsum(
        "bhtd,bhde->bhte", q, C0
    )
    qn = ops.sum(scores, axis=-1) + D0 * ops.einsum("bhtd,bhd->bht", q, n0)
    h_denominator = ops.maximum(ops.abs(qn), ops.exp(-m)) + EPSILON
    return h_numerator / h_denominator[..., None], (D, D0, m)
