"""Where LayerNormLSTM's train step spends its time, by ablation.

A per-op timeline of a recurrent train step is dominated by a few hundred
tiny ops per time step, which timeline tools attribute poorly. This script
measures instead what removing each piece saves, side by side in one
process (interleaved rounds, medians): the full layer, the layer with one of
its three normalisations replaced by the identity (LN of x W, of h U, of the
carry), with all three removed (then it computes an LSTM through the
LayerNorm code path), with autodiff of the normalisations instead of the
backend's hand-written gradient (JAX, TensorFlow), with the kernels
centred once per sequence and with the projections x W and h U centred at
every step instead (one of the two is the layer's own choice,
`_tuning.CENTRE_KERNELS`), our LSTM and
keras.layers.LSTM. The differences are each piece's cost, forward and
backward.

    python benchmarks/profile_layer_norm.py --backend jax
    python benchmarks/profile_layer_norm.py --backend tensorflow \\
        --shape 256:100:256:512

Prints a Markdown table: milliseconds per train step (median) and the
ratios to the full layer and to keras.layers.LSTM (medians of the ratios
within each round, which the machine's drift between rounds does not move).
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
    parser.add_argument(
        "--jit", action="store_true", help="compile with jit_compile=True"
    )
    return parser.parse_args(argv)


def variants():
    import keras

    import keras_lstm_variants as klv

    class Ablated(klv.LayerNormLSTMCell):
        """LayerNormLSTMCell with some normalisations replaced by identity."""

        skip = ()

        def _layer_norm(self, a, norm, centred=False):
            if norm in self.skip:
                return a
            return super()._layer_norm(a, norm, centred)

        def sequence_kernels(self, dropout_mask, recurrent_dropout_mask):
            # An identity in place of LN of x W (h U) needs the raw kernel.
            kernel, recurrent_kernel = super().sequence_kernels(
                dropout_mask, recurrent_dropout_mask
            )
            if "kernel_norm" in self.skip:
                kernel = None
            if "recurrent_norm" in self.skip:
                recurrent_kernel = None
            return kernel, recurrent_kernel

    def ablated(skip):
        cell_class = type("Cell", (Ablated,), {"skip": skip})
        return type("Layer", (klv.LayerNormLSTM,), {"cell_class": cell_class})

    def centring(centre_kernels):
        attributes = {"_centre_kernels": centre_kernels}
        cell_class = type("Cell", (klv.LayerNormLSTMCell,), attributes)
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
        "  kernels centred once per sequence": centring(True),
        "  x W and h U centred at every step": centring(False),
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
        model.compile(
            keras.optimizers.SGD(1e-3), "mse",
            jit_compile=True if args.jit else "auto",
        )
        jobs[name] = lambda m=model: float(m.train_on_batch(x, y))
    for job in jobs.values():
        job()
        job()
    # Per-round ratios, the order reversed every other round: the machine's
    # speed drifts, and a ratio within one round cancels most of the drift.
    times = {name: [] for name in jobs}
    order = list(jobs)
    for round_ in range(args.rounds):
        for name in order if round_ % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            for _ in range(args.calls):
                jobs[name]()
            times[name].append((time.perf_counter() - start) / args.calls)

    def ratio(name, to):
        return statistics.median(
            a / b for a, b in zip(times[name], times[to], strict=True)
        )

    print(
        f"backend {args.backend}, B:T:D:U = {args.shape}, "
        f"jit_compile {'True' if args.jit else 'auto'}, "
        f"{args.rounds} rounds x {args.calls} train steps; median time, "
        "median of the per-round ratios\n"
    )
    print(
        "| model | ms / train step | vs LayerNormLSTM | vs keras.layers.LSTM |"
    )
    print("|---|---:|---:|---:|")
    for name in jobs:
        print(
            f"| {name} | {1e3 * statistics.median(times[name]):.1f} | "
            f"{ratio(name, 'LayerNormLSTM'):.2f} | "
            f"{ratio(name, 'keras.layers.LSTM'):.2f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
