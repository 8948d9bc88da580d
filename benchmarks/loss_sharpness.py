"""The sharpness of each layer's training loss: the largest Hessian
eigenvalue, by power iteration on Hessian-vector products (JAX, float64).

SGD with learning rate `lr` amplifies a perturbation of the weights (a
rounding difference, say) along an eigenvector of eigenvalue `lam` by
|1 - lr * lam| per step: above lam = 2 / lr a training run's rounding is no
longer forgotten but grown. This measures, on tests/scale_out.py's task
(8 steps, 3 features, 6 units, left- and right-padded sequences, SGD 0.1),
why `LayerNormLSTM`'s trained weights differ across CPUs by far more than
the other layers' (docs: Layer-normalised LSTM, "Numerical notes").

    python benchmarks/loss_sharpness.py [--steps 3] [--epsilons 1e-3 1e-1]
"""

import argparse
import functools
import os

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_ENABLE_X64", "1")

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_lstm_variants as klv  # noqa: E402

LEARNING_RATE, BATCH = 0.1, 8


def data(steps):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(BATCH * steps, 8, 3))
    x[::3, 5:] = 0.0  # right padding
    x[1::3, :2] = 0.0  # left padding
    return x, x[:, :3, 0].sum(axis=1, keepdims=True)


def sharpness(make, steps, iterations=60):
    """The largest |Hessian eigenvalue| of the loss at each SGD step."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((8, 3))
    masked = keras.layers.Masking(0.0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(make(6)(masked)))
    fixed = [v.value for v in model.non_trainable_variables]

    def loss(weights, x, y):
        prediction, _ = model.stateless_call(weights, fixed, x)
        return jax.numpy.mean((prediction - y) ** 2)

    gradient = jax.jit(jax.grad(loss))
    hessian_times = jax.jit(
        lambda w, d, x, y: jax.jvp(lambda v: gradient(v, x, y), (w,), (d,))[1]
    )
    weights = [v.value for v in model.trainable_variables]
    x, y = data(steps)
    found = []
    for step in range(steps):
        xb, yb = x[BATCH * step:BATCH * (step + 1)], y[BATCH * step:]
        yb = yb[:BATCH]
        rng = np.random.default_rng(0)
        d = [rng.normal(size=w.shape) for w in weights]
        for _ in range(iterations):
            hd = hessian_times(weights, d, xb, yb)
            norm = float(np.sqrt(sum(float((h * h).sum()) for h in hd)))
            d = [h / norm for h in hd]
        found.append(norm)
        g = gradient(weights, xb, yb)
        weights = [
            w - LEARNING_RATE * gw for w, gw in zip(weights, g, strict=True)
        ]
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument(
        "--epsilons", type=float, nargs="*", default=[1e-3, 1e-2, 1e-1]
    )
    args = parser.parse_args()
    keras.config.set_floatx("float64")
    layers = {"LSTM": klv.LSTM, "PeepholeLSTM": klv.PeepholeLSTM}
    for epsilon in args.epsilons:
        layers[f"LayerNormLSTM, norm_epsilon={epsilon:g}"] = functools.partial(
            klv.LayerNormLSTM, norm_epsilon=epsilon
        )
    print(f"largest |Hessian eigenvalue| per SGD step (stable below "
          f"2 / lr = {2 / LEARNING_RATE:g})")
    for name, make in layers.items():
        values = ", ".join(f"{v:8.1f}" for v in sharpness(make, args.steps))
        print(f"{name:34s} {values}")


if __name__ == "__main__":
    main()
