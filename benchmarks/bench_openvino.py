"""Predict time on Keras's OpenVINO backend: our layers against
`keras.layers.LSTM` and `GRU`, and whether each took OpenVINO's LSTM or GRU
sequence op.

    KERAS_BACKEND=openvino python benchmarks/bench_openvino.py [--rounds 5]

Prints, per layer, the median of `--rounds` timed `predict` calls (after one
warm-up call) and how many times the layer's fused route ran the op.
OpenVINO's CPU plugin computes in bfloat16 where the processor has it.
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "openvino")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_lstm_variants as klv  # noqa: E402
from keras_lstm_variants.backends import _common  # noqa: E402

LAYERS = {
    "keras.layers.LSTM": keras.layers.LSTM,
    "LSTM": klv.LSTM,
    "CoupledLSTM": klv.CoupledLSTM,
    "PeepholeLSTM": klv.PeepholeLSTM,
    "keras.layers.GRU": keras.layers.GRU,
    "GRU": klv.GRU,
    "MGU": klv.MGU,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--shape", type=int, nargs=4, default=(32, 100, 16, 64),
                        metavar=("BATCH", "STEPS", "FEATURES", "UNITS"))
    args = parser.parse_args()
    batch, steps, features, units = args.shape
    calls = []

    def counted(op):
        def run(*arguments, **kwargs):
            outputs = op(*arguments, **kwargs)  # raises where it declines
            calls.append(1)
            return outputs
        return run

    _common.backend_lstm = counted(_common.backend_lstm)
    _common.backend_gru = counted(_common.backend_gru)
    x = np.random.default_rng(0).normal(size=(batch, steps, features))
    x = x.astype("float32")
    print(f"backend {keras.backend.backend()}, B={batch} T={steps} "
          f"D={features} U={units}, median of {args.rounds} predict calls")
    for name, layer in LAYERS.items():
        calls.clear()
        model = keras.Sequential([keras.Input((steps, features)), layer(units)])
        model.predict(x, verbose=0)
        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            model.predict(x, verbose=0)
            times.append(time.perf_counter() - start)
        took = "yes" if calls else "no"
        if name.startswith("keras."):
            took = "(Keras's own route, not counted)"
        print(f"{name:20s} {1000 * np.median(times):7.1f} ms   "
              f"sequence op: {took}")


if __name__ == "__main__":
    main()
