"""Handwritten characters read as sequences by an LSTM variant.

Loads `mnist` (or `emnist/...` with --dataset) with tensorflow_datasets and
feeds each 28x28 image to the recurrent layer as a sequence: by default 28
steps of one row (28 pixels) each; with --pixels, 784 steps of one pixel (the
classic long-range memory benchmark), with --permute in a fixed random order
(permuted pixel MNIST). `--dataset digits` needs no download: scikit-learn's
1,797 real handwritten digits of 8x8 pixels (8 steps of one row, or 64 of one
pixel), split 1,257 / 540. Writes the model (`model.keras`), the history
(`history.json`) and an accuracy/loss plot (`training.png`) to --output and
prints the test accuracy.

Expectations with the defaults: row-by-row MNIST reaches >= 98% test
accuracy in 5 epochs with any of the variants; pixel MNIST needs far more
epochs (tens) and is where the variants differ.

Example: python examples/handwriting.py --variant PeepholeLSTM --epochs 5
"""

import sys

import _common

EMNIST = ("balanced", "byclass", "bymerge", "digits", "letters", "mnist")
DATASETS = ("mnist", "digits") + tuple(f"emnist/{c}" for c in EMNIST)


def main(argv=None):
    p = _common.parser(__doc__.split("\n\n")[0], "handwriting_output", argv,
                       units=128, batch_size=128)
    p.add_argument("--dataset", default="mnist", choices=DATASETS,
                   metavar="DATASET",
                   help="mnist or emnist/<config> (tensorflow_datasets, "
                   "downloaded), or digits (scikit-learn's, offline): "
                   + ", ".join(DATASETS))
    p.add_argument(
        "--pixels",
        action="store_true",
        help="one pixel a step instead of one row",
    )
    p.add_argument(
        "--permute",
        action="store_true",
        help="with --pixels, a fixed random pixel order",
    )
    p.add_argument(
        "--learning-rate", type=float, default=1e-3, help="Adam's learning rate"
    )
    args = p.parse_args(argv)
    if args.permute and not args.pixels:
        p.error("--permute needs --pixels")
    if args.dataset == "digits":
        _common.require("--dataset digits", "sklearn")
    else:
        _common.require(
            f"--dataset {args.dataset}", "tensorflow", "tensorflow_datasets"
        )
    _common.use_backend(args)

    import keras
    import numpy as np

    if args.dataset == "digits":
        classes, side, scale = 10, 8, 1.0  # already in [0, 1]
    else:
        (train, test), info = _common.load(
            args.dataset,
            args.data_dir,
            split=["train", "test"],
            as_supervised=True,
        )
        classes, side, scale = info.features["label"].num_classes, 28, 255.0
    size = side * side
    steps, features = (size, 1) if args.pixels else (side, side)
    order = (
        np.random.default_rng(0).permutation(size)
        if args.permute
        else np.arange(size)
    )

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
    if args.dataset == "digits":  # arrays: no TensorFlow needed
        x_train, y_train, x_test, y_test = _common.load_digits()

        def to_sequences(images):
            pixels = images.reshape(len(images), size)[:, order]
            return pixels.reshape(len(images), steps, features)

        accuracy = _common.fit_and_save(
            model,
            (to_sequences(x_train), y_train),
            (to_sequences(x_test), y_test),
            args,
            batch_size=args.batch_size,
            shuffle=True,
        )
    else:
        import tensorflow as tf

        def to_sequence(image, label):
            pixels = tf.reshape(tf.cast(image, tf.float32) / scale, (size,))
            # EMNIST images are transposed.
            if args.dataset.startswith("emnist"):
                pixels = tf.reshape(
                    tf.transpose(tf.reshape(pixels, (side, side))), (size,)
                )
            sequence = tf.reshape(tf.gather(pixels, order), (steps, features))
            return sequence, label

        def prepare(dataset):
            return (
                dataset.map(to_sequence, num_parallel_calls=tf.data.AUTOTUNE)
                .batch(args.batch_size)
                .prefetch(tf.data.AUTOTUNE)
            )

        accuracy = _common.fit_and_save(
            model, prepare(train.shuffle(10000, seed=0)), prepare(test), args
        )
    print(
        f"{args.variant} on {args.dataset} "
        f"({'pixels' if args.pixels else 'rows'}"
        f"{', permuted' if args.permute else ''}): "
        f"test accuracy {accuracy:.4f}; outputs in {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
