"""Where LayerNormLSTM's train step spends its time, by ablation.

A per-op timeline of a recurrent train step is dominated by a few hundred
tiny ops per time step, which timeline tools attribute poorly. This script
measures instead what removing each piece saves, side by side in one
process (interleaved rounds, medians): the full layer, the layer with one of
its three normalisations replaced by the identity (LN of x W, of h U, of the
carry), with all three removed (then it computes an LSTM through the
LayerNorm code path), with autodiff of the normalisations instead of the
backend's hand-written gradient (JAX, TensorFlow), our LSTM and
keras.layers.LSTM. The differences are each piece's cost, forward and
backward.

    python benchmarks/profile_layer_norm.py --backend jax
    python benchmarks/profile_layer_norm.py --backend tensorflow --shape 256:100:256:512

Prints a Markdown table (milliseconds per train step and the share of the
full layer's time).
"""

import argparse
import os
import statistics
import sys
import time

NORMS = ("kernel_norm", "recurrent_norm", "state_norm")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend", default=os.environ.get("KERAS_BACKEND", "jax"),
        choices=("tensorflow", "jax", "torch"),
    )
    parser.add_argument("--shape", default="64:100:64:128", help="B:T:D:U")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=3)
    return parser.parse_args(argv)


def variants():
    import keras

    import keras_lstm_variants as klv

    class Ablated(klv.LayerNormLSTMCell):
        """LayerNormLSTMCell with some normalisations replaced by identity."""

        skip = ()

        def _layer_norm(self, a, norm):
            return a if norm in self.skip else super()._layer_norm(a, norm)

    def ablated(skip):
        cell_class = type("Cell", (Ablated,), {"skip": skip})
        return type("Layer", (klv.LayerNormLSTM,), {"cell_class": cell_class})

    autodiff_cell = type(
        "Cell", (klv.LayerNormLSTMCell,), {"_fast_normalization": False}
    )
    autodiff = type(
        "Layer", (klv.LayerNormLSTM,), {"cell_class": autodiff_cell}
    )
    return {
        "keras.layers.LSTM": keras.layers.LSTM,
        "LSTM (ours)": klv.LSTM,
        "LayerNormLSTM": klv.LayerNormLSTM,
        "  with autodiff of the normalisations": autodiff,
        "  without LN of x W": ablated(("kernel_norm",)),
        "  without LN of h U": ablated(("recurrent_norm",)),
        "  without LN of c": ablated(("state_norm",)),
        "  without any LN": ablated(NORMS),
    }


def main(argv=None):
    args = parse_args(argv)
    os.environ["KERAS_BACKEND"] = args.backend
    import keras
    import numpy as np

    batch, steps, features, units = (int(n) for n in args.shape.split(":"))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, steps, features)).astype("float32")
    y = rng.standard_normal((batch, units)).astype("float32")
    jobs = {}
    for name, layer_class in variants().items():
        inputs = keras.Input((steps, features), batch_size=batch)
        model = keras.Model(inputs, layer_class(units)(inputs))
        model.compile(keras.optimizers.SGD(1e-3), "mse")
        jobs[name] = lambda m=model: float(m.train_on_batch(x, y))
    for job in jobs.values():
        job()
        job()
    times = {name: [] for name in jobs}
    for _ in range(args.rounds):
        for name, job in jobs.items():
            start = time.perf_counter()
            for _ in range(args.calls):
                job()
            times[name].append((time.perf_counter() - start) / args.calls)
    median = {name: 1e3 * statistics.median(t) for name, t in times.items()}
    full = median["LayerNormLSTM"]
    print(
        f"backend {args.backend}, B:T:D:U = {args.shape}, jit_compile auto, "
        f"{args.rounds} rounds x {args.calls} train steps, median\n"
    )
    print("| model | ms / train step | vs LayerNormLSTM | vs keras.layers.LSTM |")
    print("|---|---:|---:|---:|")
    for name, ms in median.items():
        print(
            f"| {name} | {ms:.1f} | {ms / full:.2f} | "
            f"{ms / median['keras.layers.LSTM']:.2f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
