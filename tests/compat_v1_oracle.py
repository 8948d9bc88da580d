"""Runs `tf.compat.v1.nn.rnn_cell.LSTMCell` and saves what it computes.

An independent truth for the tests (`test_options.py`): the cell as
TensorFlow 1 shipped it, through the `tf-keras` package. It needs
`TF_USE_LEGACY_KERAS=1` before TensorFlow is imported, so the tests run this
file in a subprocess: `python compat_v1_oracle.py CASES.json OUT.npz`.

Each case (a dict of the cell's keyword arguments plus `dim`, `batch`,
`steps`, `seed`) is stepped over a random sequence from a random state; the
file holds, per case `k`, the inputs `k/x`, `k/c0`, `k/h0`, every variable
`k/var/<name>` and the outputs `k/outputs`, `k/c`, `k/h`.
"""

import json
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def run(case):
    case = dict(case)
    dim, batch, steps = case.pop("dim"), case.pop("batch"), case.pop("steps")
    rng = np.random.default_rng(case.pop("seed"))
    cell = tf.compat.v1.nn.rnn_cell.LSTMCell(
        initializer=tf.compat.v1.random_normal_initializer(stddev=0.7),
        **case,
    )
    units = case["num_units"]
    outputs_size = case.get("num_proj") or units
    x = rng.normal(size=(batch, steps, dim)).astype("float32")
    c = rng.normal(size=(batch, units)).astype("float32")
    h = rng.normal(size=(batch, outputs_size)).astype("float32")
    result = {"x": x, "c0": c, "h0": h}
    state = tf.compat.v1.nn.rnn_cell.LSTMStateTuple(c, h)
    cell(x[:, 0], state)  # creates the variables
    for variable in cell.variables:
        name = variable.name.split("/", 1)[1].split(":")[0]
        if "kernel" not in name:  # biases and peepholes start at zero
            variable.assign(rng.normal(0.0, 0.7, variable.shape))
        result[f"var/{name}"] = variable.numpy()
    outputs = []
    for t in range(steps):
        output, state = cell(x[:, t], state)
        outputs.append(output.numpy())
    result.update(
        outputs=np.stack(outputs, 1), c=state.c.numpy(), h=state.h.numpy()
    )
    return result


def main(cases_path, out_path):
    with open(cases_path) as f:
        cases = json.load(f)
    arrays = {}
    for key, case in cases.items():
        for name, value in run(case).items():
            arrays[f"{key}/{name}"] = value
    np.savez(out_path, **arrays)


if __name__ == "__main__":
    main(*sys.argv[1:])
