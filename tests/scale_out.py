"""Data-parallel training of every layer, against single-device training.

Run in a fresh process (the device count must be set before the framework
starts):

    python tests/scale_out.py jax          # keras.distribution.DataParallel
    python tests/scale_out.py tensorflow   # tf.distribute.MirroredStrategy

Each layer (and each inside Bidirectional) behind a Masking layer is trained
a few SGD steps on the same global batches twice, on one device and split
over two simulated CPU devices. Prints one JSON object: the replica count,
how many devices hold each variable, and per model the largest weight difference between the two runs and how
far the weights moved from their start.
"""

import json
import os
import sys

ENGINE = sys.argv[1]
os.environ["KERAS_BACKEND"] = ENGINE
if ENGINE == "jax":
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count=2"

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_lstm_variants as klv  # noqa: E402

LAYERS = {
    "LSTM": klv.LSTM,
    "PeepholeLSTM": klv.PeepholeLSTM,
    "CoupledLSTM": lambda units: klv.CoupledLSTM(units, use_peepholes=True),
    "LayerNormLSTM": klv.LayerNormLSTM,
}
GLOBAL_BATCH, STEPS = 8, 3


def build(name, bidirectional):
    layer = LAYERS[name](6)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer)
    inputs = keras.Input((8, 3))
    hidden = layer(keras.layers.Masking(mask_value=0.0)(inputs))
    return keras.Model(inputs, keras.layers.Dense(1)(hidden))


def train(model, weights, x, y):
    model.set_weights(weights)
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0)
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
    for name in LAYERS:
        for bidirectional in (False, True):
            keras.utils.set_random_seed(1)
            single = build(name, bidirectional)
            start = single.get_weights()
            expected = train(single, start, x, y)
            with scope():
                model = build(name, bidirectional)
                actual = train(model, start, x, y)
            results["devices_per_variable"] = devices_holding(model.weights[0])
            key = f"Bidirectional({name})" if bidirectional else name
            results["models"][key] = {
                "max_difference": max(
                    float(np.abs(a - e).max()) for a, e in zip(actual, expected)
                ),
                "moved": max(
                    float(np.abs(e - s).max()) for e, s in zip(expected, start)
                ),
            }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
