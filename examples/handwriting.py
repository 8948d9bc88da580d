"""Handwritten characters read as sequences by an LSTM variant.

Loads `mnist` (or `emnist/...` with --dataset) with tensorflow_datasets and
feeds each 28x28 image to the recurrent layer as a sequence: by default 28
steps of one row (28 pixels) each; with --pixels, 784 steps of one pixel (the
classic long-range memory benchmark), with --permute in a fixed random order
(permuted pixel MNIST). Writes the model (`model.keras`), the history
(`history.json`) and an accuracy/loss plot (`training.png`) to --output and
prints the test accuracy.

Expectations with the defaults: row-by-row MNIST reaches >= 98% test
accuracy in 5 epochs with any of the variants; pixel MNIST needs far more
epochs (tens) and is where the variants differ.

Example: python examples/handwriting.py --variant PeepholeLSTM --epochs 5
"""

import sys

import _common


def main(argv=None):
    p = _common.parser(__doc__.split("\n\n")[0], "handwriting_output", units=128, batch_size=128)
    p.add_argument("--dataset", default="mnist", help="mnist, or an emnist config such as emnist/balanced")
    p.add_argument("--pixels", action="store_true", help="784 steps of one pixel instead of 28 rows")
    p.add_argument("--permute", action="store_true", help="with --pixels, a fixed random pixel order")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    args = p.parse_args(argv)
    if args.permute and not args.pixels:
        p.error("--permute needs --pixels")
    _common.use_backend(args)

    import keras
    import numpy as np
    import tensorflow as tf

    (train, test), info = _common.load(
        args.dataset, args.data_dir, split=["train", "test"], as_supervised=True
    )
    classes = info.features["label"].num_classes
    steps, features = (784, 1) if args.pixels else (28, 28)
    order = np.random.default_rng(0).permutation(784) if args.permute else np.arange(784)

    def to_sequence(image, label):
        pixels = tf.reshape(tf.cast(image, tf.float32) / 255.0, (784,))
        if args.dataset.startswith("emnist"):  # EMNIST images are transposed
            pixels = tf.reshape(tf.transpose(tf.reshape(pixels, (28, 28))), (784,))
        return tf.reshape(tf.gather(pixels, order), (steps, features)), label

    def prepare(dataset):
        return dataset.map(to_sequence, num_parallel_calls=tf.data.AUTOTUNE).batch(args.batch_size).prefetch(tf.data.AUTOTUNE)

    model = keras.Sequential(
        [
            keras.Input((steps, features)),
            _common.layer_class(args.variant)(args.units),
            keras.layers.Dense(classes, activation="softmax"),
        ],
        name=f"handwriting_{args.variant}",
    )
    model.compile(
        keras.optimizers.Adam(args.learning_rate, clipnorm=1.0),
        "sparse_categorical_crossentropy", metrics=["accuracy"],
    )
    accuracy = _common.fit_and_save(
        model, prepare(train.shuffle(10000, seed=0)), prepare(test), args
    )
    print(f"{args.variant} on {args.dataset} ({'pixels' if args.pixels else 'rows'}"
          f"{', permuted' if args.permute else ''}): test accuracy {accuracy:.4f}; "
          f"outputs in {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
