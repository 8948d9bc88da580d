"""Data-parallel training of every layer, against single-device training.

Run in a fresh process (the device count must be set before the framework
starts):

    python tests/scale_out.py jax          # keras.distribution.DataParallel
    python tests/scale_out.py tensorflow   # tf.distribute.MirroredStrategy

One model holds each layer, alone or inside Bidirectional (pairwise: JAX
the other way round), side by side behind a Masking layer (one compile);
it is trained a few SGD steps on the same global batches twice, on one
device and split over two simulated CPU devices, and on one device again
with each global batch's gradient summed as halves and as quarters
(gradient accumulation: the same update, its sums reordered). Prints one
JSON object: the replica count, how many devices hold each variable, and
per layer the largest weight difference between the data-parallel and the
single-device run, the largest one the reordering alone makes, and how far
its weights moved from their start.
"""

import json
import os
import sys

ENGINE = sys.argv[1]
os.environ["KERAS_BACKEND"] = ENGINE
if ENGINE == "jax":
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = (
        f"{flags} --xla_force_host_platform_device_count=2"
    )

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_lstm_variants as klv  # noqa: E402

LAYERS = {
    "LSTM": klv.LSTM,
    "PeepholeLSTM": klv.PeepholeLSTM,
    "CoupledLSTM": lambda units, **kw: klv.CoupledLSTM(
        units, use_peepholes=True, **kw
    ),
    "LayerNormLSTM": klv.LayerNormLSTM,
}
# Pairwise: each engine trains every layer, half of them alone and the
# other half inside Bidirectional, the other engine the other way round.
KEYS = [
    f"Bidirectional_{name}" if (k + (ENGINE == "jax")) % 2 else name
    for k, name in enumerate(LAYERS)
]
GLOBAL_BATCH, STEPS = 8, 3


def build():
    inputs = keras.Input((8, 3))
    masked = keras.layers.Masking(mask_value=0.0)(inputs)
    branches = []
    for key, (name, make) in zip(KEYS, LAYERS.items(), strict=True):
        if key == name:
            branches.append(make(6, name=name)(masked))
        else:
            branches.append(
                keras.layers.Bidirectional(make(6), name=key)(masked)
            )
    hidden = keras.layers.Concatenate()(branches)
    return keras.Model(inputs, keras.layers.Dense(1)(hidden))


def branch_weights(model, weights):
    """name -> the branch's weights, in `weights` (model.get_weights())."""
    position = {id(v): k for k, v in enumerate(model.weights)}
    return {
        layer.name: [weights[position[id(v)]] for v in layer.weights]
        for layer in model.layers
        if layer.name in KEYS
    }


def train(model, weights, x, y, splits=1):
    """SGD on the global batches; with `splits`, each global batch's
    gradient is the mean of `splits` sub-batches' gradients (Keras's
    gradient accumulation): the same update, its sums in another order."""
    model.set_weights(weights)
    accumulate = {"gradient_accumulation_steps": splits} if splits > 1 else {}
    model.compile(keras.optimizers.SGD(0.1, **accumulate), "mse")
    model.fit(
        x, y, batch_size=GLOBAL_BATCH // splits, epochs=1, shuffle=False,
        verbose=0,
    )
    return model.get_weights()


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(GLOBAL_BATCH * STEPS, 8, 3)).astype("float32")
    x[::3, 5:] = 0.0  # right padding
    x[1::3, :2] = 0.0  # left padding
    return x, x[:, :3, 0].sum(axis=1, keepdims=True)


def distributed():
    """(a factory of contexts that build and train data-parallel, replicas)."""
    if ENGINE == "jax":
        import jax

        distribution = keras.distribution.DataParallel(devices=jax.devices())
        return distribution.scope, len(jax.devices())
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    return strategy.scope, strategy.num_replicas_in_sync


def devices_holding(variable):
    """How many devices hold a copy of the variable."""
    if ENGINE == "jax":
        return len(variable.value.sharding.device_set)
    return len(variable.value.values)  # a tf.distribute MirroredVariable


def main():
    if ENGINE == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    x, y = data()
    scope, replicas = distributed()
    results = {"replicas": replicas, "models": {}}
    keras.utils.set_random_seed(1)
    single = build()
    start = single.get_weights()
    expected = train(single, start, x, y)
    # The same training, each global batch's sums in two other orders: the
    # halves of the data-parallel run, and quarters.
    reorders = [train(single, start, x, y, splits=n) for n in (2, 4)]
    with scope():
        model = build()
        actual = train(model, start, x, y)
    results["devices_per_variable"] = min(
        devices_holding(v) for v in model.weights
    )
    start, expected, actual = (
        branch_weights(single, start),
        branch_weights(single, expected),
        branch_weights(model, actual),
    )
    reorders = [branch_weights(single, weights) for weights in reorders]

    def largest_difference(a, b):
        return max(
            float(np.abs(u - v).max()) for u, v in zip(a, b, strict=True)
        )

    for key in KEYS:
        results["models"][key] = {
            "max_difference": largest_difference(actual[key], expected[key]),
            "reordered_difference": max(
                largest_difference(weights[key], expected[key])
                for weights in reorders
            ),
            "moved": largest_difference(expected[key], start[key]),
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
