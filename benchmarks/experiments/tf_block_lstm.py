"""TensorFlow's fused CPU kernel for a whole LSTM sequence, BlockLSTMV2.

Standalone experiment (not the package): TensorFlow ships a monolithic
LSTM op, `tf.raw_ops.BlockLSTMV2` (gates i, f, c, o as in Keras; optional
peepholes exactly as `PeepholeLSTMCell`'s), with a fused backward op,
`BlockLSTMGradV2`. One op per sequence instead of a dozen per step: does it
beat `keras.layers.LSTM` in TensorFlow's graph executor?

Two findings:

- The gradient TensorFlow registers for BlockLSTMV2 is wrong (TF 2.21,
  `tensorflow/python/ops/rnn_grad.py` registers the V1 op's gradient, which
  assumes the i, c, f, o gate layout): `check_gradients` below finds its
  kernel gradient off by up to 0.9 from finite differences at a tiny shape
  (BlockLSTMGradV2: 2e-7). Calling
  `BlockLSTMGradV2` through `tf.custom_gradient`, as `block_lstm` does,
  gives the right gradients (checked against finite differences, peepholes
  included, and against Keras's at each benchmark shape).
- Its CPU kernel is slow. Measured 2026-11-21 (2-core CPU), medians of 7
  interleaved rounds, BlockLSTMV2 / `keras.layers.LSTM`: train step 2.0-2.3
  / 1.5 / 1.5-1.7 (small / large / long, two runs), inference 1.4-1.5 /
  0.9 / 0.8-0.9. Training, the target, is far slower: not used.

    python benchmarks/experiments/tf_block_lstm.py small,large,long
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


@tf.custom_gradient
def block_lstm(x_tm, c0, h0, kernel, bias):
    """All steps of an LSTM without peepholes; returns (c_t, h_t) for all t."""
    steps = tf.shape(x_tm, out_type=tf.int64)[0]
    no_peephole = tf.zeros_like(c0[0])
    args = dict(
        seq_len_max=steps,
        x=x_tm,
        cs_prev=c0,
        h_prev=h0,
        w=kernel,
        wci=no_peephole,
        wcf=no_peephole,
        wco=no_peephole,
        b=bias,
    )
    i, cs, f, o, ci, co, h = tf.raw_ops.BlockLSTMV2(
        **args, cell_clip=-1.0, use_peephole=False
    )

    def grad(d_cs, d_h):
        dx, dc0, dh0, dw, _, _, _, db = tf.raw_ops.BlockLSTMGradV2(
            **args,
            i=i,
            cs=cs,
            f=f,
            o=o,
            ci=ci,
            co=co,
            h=h,
            cs_grad=d_cs,
            h_grad=d_h,
            use_peephole=False,
        )
        return dx, dc0, dh0, dw, db

    return (cs, h), grad


def check_gradients(B=3, T=5, D=4, U=6, eps=1e-5):
    """Kernel gradients at a tiny shape, peepholes on: the registered
    gradient and `BlockLSTMGradV2`'s against central differences of a
    float64 NumPy forward pass."""
    rng = np.random.default_rng(0)
    x, c0, h0 = (rng.normal(size=s) for s in ((T, B, D), (B, U), (B, U)))
    w = rng.normal(size=(D + U, 4 * U)) * 0.5
    b, *p = (rng.normal(size=s) for s in ((4 * U,), (U,), (U,), (U,)))

    def loss_np(w):
        sigmoid = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
        h, c, loss = h0, c0, 0.0
        for t in range(T):
            z = np.concatenate([x[t], h], 1) @ w + b
            z_i, z_f, z_c, z_o = np.split(z, 4, axis=1)
            i, f = sigmoid(z_i + p[0] * c), sigmoid(z_f + p[1] * c)
            c = f * c + i * np.tanh(z_c)
            h = sigmoid(z_o + p[2] * c) * np.tanh(c)
            loss += np.sum(h**2)
        return loss

    numeric = np.zeros_like(w)
    for index in np.ndindex(*w.shape):
        e = np.zeros_like(w)
        e[index] = eps
        numeric[index] = (loss_np(w + e) - loss_np(w - e)) / (2 * eps)
    args = [tf.constant(a, tf.float32) for a in (x, c0, h0, w, *p, b)]
    kernel = args[3]
    args = dict(
        zip(
            ("x", "cs_prev", "h_prev", "w", "wci", "wcf", "wco", "b"),
            args,
            strict=True,
        )
    )
    steps = tf.constant(T, tf.int64)
    with tf.GradientTape() as tape:
        tape.watch(kernel)
        out = tf.raw_ops.BlockLSTMV2(
            seq_len_max=steps, **args, cell_clip=-1.0, use_peephole=True
        )
        loss = tf.reduce_sum(out[-1] ** 2)
    registered = tape.gradient(loss, kernel).numpy()
    fused = tf.raw_ops.BlockLSTMGradV2(
        seq_len_max=steps,
        **args,
        **dict(zip("i cs f o ci co h".split(), out, strict=True)),
        cs_grad=tf.zeros_like(out[1]),
        h_grad=2 * out[-1],
        use_peephole=True,
    )[3].numpy()
    for name, grad in (("registered", registered), ("GradV2", fused)):
        print(
            f"kernel gradient, {name}: max |error| "
            f"{np.abs(grad - numeric).max():.1e}"
        )


def median_ratio(fns, rounds=7):
    """Median over rounds of time(fns[1]) / time(fns[0]), order alternated."""
    times = [[], []]
    for r in range(rounds):
        for k in (0, 1) if r % 2 == 0 else (1, 0):
            start = time.perf_counter()
            tf.nest.map_structure(lambda t: t.numpy(), fns[k]())
            times[k].append(time.perf_counter() - start)
    return np.median(np.array(times[1]) / np.array(times[0]))


def main(shape):
    B, T, D, U = SHAPES[shape]
    x = tf.random.normal((B, T, D), seed=1)
    target = tf.random.normal((B, U), seed=2)
    layer = keras.layers.LSTM(U, use_cudnn=False)
    layer.build((B, T, D))
    cell = layer.cell

    def ours():
        kernel = tf.concat([cell.kernel.value, cell.recurrent_kernel.value], 0)
        zeros = tf.zeros((B, U))
        _, h = block_lstm(
            tf.transpose(x, (1, 0, 2)), zeros, zeros, kernel, cell.bias.value
        )
        return h[-1]

    def train(forward):
        @tf.function
        def step():
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((forward() - target) ** 2)
            return tape.gradient(loss, layer.trainable_weights)

        return step

    keras_train, ours_train = train(lambda: layer(x)), train(ours)
    diff = max(
        float(tf.reduce_max(tf.abs(a - b)))
        for a, b in zip(keras_train(), ours_train(), strict=True)
    )
    keras_infer, ours_infer = tf.function(lambda: layer(x)), tf.function(ours)
    keras_infer(), ours_infer()
    print(
        f"{shape}: gradients max diff {diff:.1e}; BlockLSTMV2 / keras.LSTM: "
        f"train {median_ratio((keras_train, ours_train)):.2f}, "
        f"inference {median_ratio((keras_infer, ours_infer)):.2f}"
    )


if __name__ == "__main__":
    check_gradients()
    for name in (sys.argv[1] if len(sys.argv) > 1 else "small").split(","):
        main(name)
