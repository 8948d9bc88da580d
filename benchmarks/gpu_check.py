"""Checks that the layers whose form cuDNN computes take the fused kernel on
this machine's GPU, with the numbers of the portable loop.

For each layer (`LSTM`, `CoupledLSTM`; on PyTorch also `LSTM` with a
projection, which its native op computes) it builds the layer and a twin
with `use_cudnn=False` (the portable loop) on the same random weights,
counts the calls of the fused route (Keras's backend `lstm` on JAX and
TensorFlow, `_torch.native_lstm` on PyTorch), and compares outputs and
weight gradients. Writes one JSON line per layer to `--output`. On a
machine without a GPU (`--dry-run`) the route may decline: the comparison
still runs, and only a GPU run requires the fused kernel.
"""

import argparse
import json
import os
import pathlib
import sys
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", required=True, choices=("jax", "torch"))
    parser.add_argument("--output", type=pathlib.Path, required=True)
    parser.add_argument(
        "--dry-run", action="store_true",
        help="a CPU machine: do not require the fused kernel to run",
    )
    parser.add_argument("--shape", default="64:100:64:256", help="B:T:D:U")
    return parser.parse_args(argv)


def gradients(layer, x):
    """Outputs and d sum(output**2) / d weights, by the backend's autodiff."""
    import keras
    import numpy as np

    if keras.backend.backend() == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        fixed = [v.value for v in layer.non_trainable_variables]

        def loss(values):
            y, _ = layer.stateless_call(values, fixed, x)
            return keras.ops.sum(keras.ops.square(y)), y

        (_, y), grads = jax.value_and_grad(loss, has_aux=True)(trainable)
        return np.asarray(y), [np.asarray(g) for g in grads]
    y = layer(keras.ops.convert_to_tensor(x))
    keras.ops.sum(keras.ops.square(y)).backward()
    grads = [
        v.value.grad.detach().cpu().numpy() for v in layer.trainable_variables
    ]
    return keras.ops.convert_to_numpy(y), grads


def check(name, make, x, args):
    import importlib

    import keras
    import numpy as np

    calls = []
    # The fused route (keras_lstm_variants/_fused.py) asks the backend's
    # module for its kernel: Keras's backend `lstm` (cuDNN) on JAX,
    # PyTorch's native op on torch.
    module = importlib.import_module(
        f"keras_lstm_variants.backends.{args.backend}"
    )
    route = "fused_lstm"
    original = getattr(module, route)

    def counted(*a, **k):
        outputs = original(*a, **k)  # raises where it declines
        calls.append(1)
        return outputs

    fused, loop = make("auto"), make(False)
    for layer in (fused, loop):
        layer.build(x.shape)
    rng = np.random.default_rng(0)
    weights = [
        rng.normal(0, 0.3, w.shape).astype("float32") for w in fused.weights
    ]
    fused.set_weights(weights)
    loop.set_weights(weights)
    setattr(module, route, counted)
    try:
        start = time.perf_counter()
        y_fused, g_fused = gradients(fused, x)
        seconds = time.perf_counter() - start
    finally:
        setattr(module, route, original)
    y_loop, g_loop = gradients(loop, x)
    return {
        "layer": name,
        "backend": keras.backend.backend(),
        "fused_kernel_ran": bool(calls),
        "max_abs_output_difference": float(np.max(np.abs(y_fused - y_loop))),
        "max_abs_gradient_difference": float(max(
            np.max(np.abs(a - b)) for a, b in zip(g_fused, g_loop, strict=True)
        )),
        "fused_seconds_first_call": seconds,
    }


def main(argv=None):
    args = parse_args(argv)
    os.environ["KERAS_BACKEND"] = args.backend
    import numpy as np

    import keras_lstm_variants as klv

    batch, steps, features, units = (int(n) for n in args.shape.split(":"))
    x = np.random.default_rng(1).normal(
        size=(batch, steps, features)
    ).astype("float32")
    layers = {
        "LSTM": lambda c: klv.LSTM(units, return_sequences=True, use_cudnn=c),
        "CoupledLSTM": lambda c: klv.CoupledLSTM(
            units, return_sequences=True, use_cudnn=c
        ),
    }
    if args.backend == "torch":
        layers["LSTM projection_units=U/2"] = lambda c: klv.LSTM(
            units, projection_units=units // 2, return_sequences=True,
            use_cudnn="auto" if c == "auto" else False,
        )
    rows = [check(name, make, x, args) for name, make in layers.items()]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with args.output.open("a") as file:
        for row in rows:
            file.write(json.dumps(row) + "\n")
            print(json.dumps(row))
    # cuDNN may run float32 matmuls in TF32 on Ampere and later GPUs.
    tolerance = 1e-4 if args.dry_run else 2e-2
    failed = [
        r for r in rows
        if r["max_abs_output_difference"] > tolerance
        or not args.dry_run and not r["fused_kernel_ran"]
    ]
    if failed:
        sys.exit(f"gpu_check failed: {failed}")


if __name__ == "__main__":
    main()
