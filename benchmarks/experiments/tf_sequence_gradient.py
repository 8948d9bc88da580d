"""A whole-sequence LSTM with a hand-written backward pass, on TensorFlow.

Standalone experiment (not the package): does a cuDNN-style backward pass
(the forward saves the gates; the backward loop does one matmul per step,
dz U^T; the weight gradients X^T dZ, H^T dZ and the bias sum become three
large matmuls after the loop) beat autodiff of Keras's loop in TensorFlow's
graph executor? A train step (tf.function, no XLA, loss on the last output)
against keras.layers.LSTM's, same weights (the gradients are checked equal
first), medians of 7 interleaved rounds.

    python benchmarks/experiments/tf_sequence_gradient.py small|large|long

Measured 2026-11-21 (2-core CPU): 0.98 / 1.00 / 0.93. Not kept: at these
shapes the large weight-gradient matmuls run at about the same rate
(~140 GFLOP/s) as the per-step ones they replace, so batching them saves
little (benchmarks/RESULTS.md).
"""

import os
import sys
import time

os.environ["KERAS_BACKEND"] = "tensorflow"
import keras
import numpy as np
import tensorflow as tf

SHAPES = {
    "small": (64, 100, 64, 128),
    "large": (256, 100, 256, 512),
    "long": (32, 1000, 32, 128),
}


def lstm_seq_forward_saving(x_tm, h0, c0, W, U, b):
    T = tf.shape(x_tm)[0]
    ta_gates = tf.TensorArray(x_tm.dtype, size=T)
    ta_c = tf.TensorArray(x_tm.dtype, size=T)
    ta_h = tf.TensorArray(x_tm.dtype, size=T)

    def body(t, h, c, ta_gates, ta_c, ta_h):
        z = tf.matmul(x_tm[t], W) + tf.matmul(h, U) + b
        zi, zf, zg, zo = tf.split(z, 4, axis=1)
        i = tf.sigmoid(zi)
        f = tf.sigmoid(zf)
        g = tf.tanh(zg)
        o = tf.sigmoid(zo)
        c = f * c + i * g
        h = o * tf.tanh(c)
        return (
            t + 1,
            h,
            c,
            ta_gates.write(t, tf.concat([i, f, g, o], 1)),
            ta_c.write(t, c),
            ta_h.write(t, h),
        )

    _, h, c, ta_gates, ta_c, ta_h = tf.while_loop(
        lambda t, *a: t < T, body, (0, h0, c0, ta_gates, ta_c, ta_h)
    )
    return ta_h.stack(), c, ta_gates.stack(), ta_c.stack()


@tf.custom_gradient
def lstm_seq(x_tm, h0, c0, W, U, b):
    hs, c_last, gates, cs = lstm_seq_forward_saving(x_tm, h0, c0, W, U, b)

    def grad(dhs, dc_last):
        T = tf.shape(x_tm)[0]
        Ut = tf.transpose(U)
        i, f, g, o = tf.split(gates, 4, axis=2)
        c_prev = tf.concat([c0[None], cs[:-1]], 0)
        tc = tf.tanh(cs)
        A = o * (1 - tc * tc)
        P = tf.concat(
            [
                g * i * (1 - i),
                c_prev * f * (1 - f),
                i * (1 - g * g),
                tc * o * (1 - o),
            ],
            2,
        )
        ta_dz = tf.TensorArray(x_tm.dtype, size=T)

        def body(t, dh, dc, ta_dz):
            s = T - 1 - t
            dh = dh + dhs[s]
            dc = dc + dh * A[s]
            dz = tf.concat([dc, dc, dc, dh], 1) * P[s]
            return t + 1, tf.matmul(dz, Ut), dc * f[s], ta_dz.write(s, dz)

        _, dh0, dc0, ta_dz = tf.while_loop(
            lambda t, *a: t < T, body, (0, tf.zeros_like(h0), dc_last, ta_dz)
        )
        dZ = ta_dz.stack()  # T,B,4U
        dZ2 = tf.reshape(dZ, [-1, tf.shape(dZ)[2]])
        dX = tf.reshape(tf.matmul(dZ2, W, transpose_b=True), tf.shape(x_tm))
        dW = tf.matmul(
            tf.reshape(x_tm, [-1, tf.shape(x_tm)[2]]), dZ2, transpose_a=True
        )
        h_prev = tf.concat([h0[None], hs[:-1]], 0)
        dU = tf.matmul(
            tf.reshape(h_prev, [-1, tf.shape(h0)[1]]), dZ2, transpose_a=True
        )
        db = tf.reduce_sum(dZ2, 0)
        return dX, dh0, dc0, dW, dU, db

    return (hs, c_last), grad


def main():
    shape = sys.argv[1] if len(sys.argv) > 1 else "small"
    B, T, D, U_ = SHAPES[shape]
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(B, T, D)).astype("float32"))
    y = tf.constant(rng.normal(size=(B, U_)).astype("float32"))
    klstm = keras.layers.LSTM(U_)
    klstm.build((B, T, D))
    W = tf.Variable(klstm.cell.kernel.numpy())
    Uv = tf.Variable(klstm.cell.recurrent_kernel.numpy())
    bv = tf.Variable(klstm.cell.bias.numpy())

    @tf.function
    def keras_step():
        with tf.GradientTape() as tape:
            out = klstm(x)
            loss = tf.reduce_mean((out - y) ** 2)
        vs = klstm.trainable_variables
        gs = tape.gradient(loss, vs)
        for v, g in zip(vs, gs):
            v.assign_sub(0.0 * g)
        return loss

    @tf.function
    def ours_step():
        with tf.GradientTape() as tape:
            x_tm = tf.transpose(x, [1, 0, 2])
            h0 = tf.zeros((B, U_))
            c0 = tf.zeros((B, U_))
            hs, c = lstm_seq(x_tm, h0, c0, W, Uv, bv)
            loss = tf.reduce_mean((hs[-1] - y) ** 2)
        vs = [W, Uv, bv]
        gs = tape.gradient(loss, vs)
        for v, g in zip(vs, gs):
            v.assign_sub(0.0 * g)
        return loss

    # correctness of grads
    with tf.GradientTape() as tape:
        out = klstm(x)
        l1 = tf.reduce_mean((out - y) ** 2)
    g1 = tape.gradient(l1, klstm.trainable_variables)
    with tf.GradientTape() as tape:
        x_tm = tf.transpose(x, [1, 0, 2])
        h0 = tf.zeros((B, U_))
        hs, c = lstm_seq(x_tm, h0, h0, W, Uv, bv)
        l2 = tf.reduce_mean((hs[-1] - y) ** 2)
    g2 = tape.gradient(l2, [W, Uv, bv])
    print(
        "loss diff",
        float(l1 - l2),
        [float(tf.reduce_max(tf.abs(a - b_))) for a, b_ in zip(g1, g2)],
    )
    fns = {"keras": keras_step, "ours": ours_step}
    for f in fns.values():
        f()
        f()
    times = {k: [] for k in fns}
    for _ in range(7):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f().numpy()
            times[k].append(time.perf_counter() - t0)
    med = {k: np.median(v) * 1e3 for k, v in times.items()}
    print(
        shape,
        {k: round(v, 1) for k, v in med.items()},
        "ratio",
        round(med["ours"] / med["keras"], 3),
    )


main()
