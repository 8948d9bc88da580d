"""A character-level language model on Python's own documentation: xLSTM
stacks against an LSTM stack and a small Transformer, one time budget each.

The text ships with Python itself (the standard library's `pydoc_data`
package: the topics `help()` shows, about 465,000 characters), so this runs
offline. It is split by position: the first 90% to train on, the next 5%
to validate, the last 5% to test. Characters seen fewer than 20 times in
the training part share one "unknown" id.

Four models of about the same number of parameters, each trained for the
same wall-clock budget (`--seconds`) with Adam on random windows:

- xLSTM[7:1]: `XLSTMBlockStack(num_blocks=8, slstm_at=[1])`, the paper's
  language-model layout (mLSTM blocks, one sLSTM block second);
- xLSTM[1:0]: mLSTM blocks only;
- LSTM: two `LSTM` layers;
- Transformer: pre-LayerNorm blocks of causal
  `keras.layers.MultiHeadAttention` and a GELU MLP, learned positions.

Reported: bits per character on the held-out test text (windows of
`--steps` characters, each from zero states), training characters per
second, generation characters per second (the recurrent models carry
their states, one character at a time; the Transformer, without a cache in
Keras's attention layer, reads its last `--steps` characters again for
each one) and a sampled continuation of a test prompt. The script checks
that each recurrent model, run over the prompt but its last character and
then one step on that character from the states it returned, gives the
logits the whole-sequence model gives.

    python examples/char_lm.py --backend jax --output char_lm
    python examples/char_lm.py --quick        # seconds: a smoke test

Writes `<output>/results.json`, `results.md` (the table and the samples)
and `char_lm.png` (validation bits per character against training time).
"""

import argparse
import collections
import json
import math
import os
import pathlib
import platform
import sys
import time

import _common
import numpy as np

MODELS = ("xLSTM[7:1]", "xLSTM[1:0]", "LSTM", "Transformer")
UNKNOWN = 0


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--models", nargs="+", default=list(MODELS),
                   choices=MODELS, help="models to train")
    p.add_argument("--embedding", type=int, default=64,
                   help="embedding width E of the xLSTM and Transformer")
    p.add_argument("--seconds", type=float, default=240,
                   help="training budget of each model, wall clock")
    p.add_argument("--steps", type=int, default=128,
                   help="characters per training and evaluation window")
    p.add_argument("--batch-size", type=int, default=32,
                   help="windows per training batch")
    p.add_argument("--learning-rate", type=float, default=2e-3,
                   help="Adam's learning rate")
    p.add_argument("--generate", type=int, default=300,
                   help="characters to generate after the prompt")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the weights, the batches and the sampling")
    p.add_argument("--output", type=pathlib.Path,
                   default=pathlib.Path("char_lm"),
                   help="folder for the results and the plot")
    p.add_argument("--quick", action="store_true",
                   help="tiny models, a few seconds each: a smoke test")
    _common.add_backend_option(p)
    args = p.parse_args(argv)
    if args.quick:
        args.embedding, args.seconds, args.steps = 16, 4, 32
        args.batch_size, args.generate = 4, 12
    return args


def load_text():
    """The documentation topics of `pydoc_data`, in the order of their
    names, one after another."""
    from pydoc_data import topics

    return "\n\n".join(topics.topics[name] for name in sorted(topics.topics))


def encode(text, minimum_count=20):
    """`(ids, alphabet)`: the text as integer ids, characters seen fewer
    than `minimum_count` times in the training part as `UNKNOWN`."""
    counts = collections.Counter(text[:int(0.9 * len(text))])
    alphabet = ["\N{REPLACEMENT CHARACTER}"] + sorted(
        c for c, n in counts.items() if n >= minimum_count
    )
    index = {c: k for k, c in enumerate(alphabet)}
    ids = np.array([index.get(c, UNKNOWN) for c in text], dtype="int32")
    return ids, alphabet


def split(ids):
    """Train, validation and test: 90%, 5% and 5% of the text, in order."""
    a, b = int(0.9 * len(ids)), int(0.95 * len(ids))
    return ids[:a], ids[a:b], ids[b:]


def windows(ids, steps):
    """Consecutive, non-overlapping windows: inputs and next characters."""
    count = (len(ids) - 1) // steps
    x = ids[:count * steps].reshape(count, steps)
    y = ids[1:count * steps + 1].reshape(count, steps)
    return x, y


def build(name, vocabulary, args):
    """`(model, generator)`: the training model, token ids `(batch, T)` to
    logits, and a generator of characters (see `Recurrent` and
    `Windowed`)."""
    import keras

    import keras_lstm_variants as klv

    E = args.embedding
    tokens = keras.Input((None,), dtype="int32")
    embedding = keras.layers.Embedding(vocabulary, E)
    head = keras.layers.Dense(vocabulary)
    if name.startswith("xLSTM"):
        heads = 4 if E >= 32 else 2
        sizes = {"xLSTM[7:1]": (8, [1]), "xLSTM[1:0]": (8, [])}
        blocks, slstm_at = sizes[name]
        if args.quick:
            blocks, slstm_at = 2, slstm_at and [1]
        body = [klv.XLSTMBlockStack(
            num_blocks=blocks, slstm_at=slstm_at,
            mlstm_block={"num_heads": heads}, slstm_block={"num_heads": heads},
            return_state=True, seed=args.seed,
        )]
    elif name == "LSTM":
        units = 2 * E if not args.quick else E
        body = [klv.LSTM(units, return_sequences=True, return_state=True,
                         seed=args.seed + k) for k in range(2)]
    else:
        return _transformer(tokens, embedding, head, vocabulary, args)
    x = embedding(tokens)
    for layer in body:
        x, *_ = layer(x)
    model = keras.Model(tokens, head(x), name=name)
    return model, Recurrent(embedding, body, head)


class Recurrent:
    """Generation by carrying states: a model of the prompt that returns
    every layer's states, then a model of one step from them (each
    compiled once by `predict_on_batch`)."""

    def __init__(self, embedding, body, head):
        import keras

        tokens = keras.Input((None,), dtype="int32", batch_size=1)
        one = keras.Input((1,), dtype="int32", batch_size=1)
        x, states, counts = embedding(tokens), [], []
        for layer in body:
            x, *s = layer(x)
            states += s
            counts.append(len(s))
        self.prompt = keras.Model(tokens, [head(x[:, -1]), *states])
        inputs = [keras.Input(s.shape[1:], batch_size=1) for s in states]
        x, new, start = embedding(one), [], 0
        for layer, count in zip(body, counts, strict=True):
            x, *s = layer(x, initial_state=inputs[start:start + count])
            new += s
            start += count
        self.step = keras.Model([one, *inputs], [head(x[:, -1]), *new])

    def start(self, prompt):
        logits, *self.states = self.prompt.predict_on_batch(prompt[None])
        return logits[0]

    def next(self, token):
        logits, *self.states = self.step.predict_on_batch(
            [np.array([[token]], "int32"), *self.states]
        )
        return logits[0]


def _transformer(tokens, embedding, head, vocabulary, args):
    import keras

    class AddPositions(keras.layers.Layer):
        """Learned positions: one vector per place in the window."""

        def build(self, shape):
            self.table = self.add_weight(
                shape=shape[1:], initializer=keras.initializers.RandomNormal(
                    stddev=0.02, seed=args.seed),
            )

        def call(self, x):
            return x + self.table

    E, steps = args.embedding, args.steps
    layers = 5 if not args.quick else 1
    tokens = keras.Input((steps,), dtype="int32")
    x = AddPositions()(embedding(tokens))
    for _ in range(layers):
        h = keras.layers.LayerNormalization()(x)
        h = keras.layers.MultiHeadAttention(4, E // 4)(
            h, h, use_causal_mask=True
        )
        x = x + h
        h = keras.layers.LayerNormalization()(x)
        h = keras.layers.Dense(4 * E, activation="gelu")(h)
        x = x + keras.layers.Dense(E)(h)
    x = keras.layers.LayerNormalization()(x)
    model = keras.Model(tokens, head(x), name="Transformer")
    return model, Windowed(model, steps)


class Windowed:
    """Generation without states: the model reads the last `steps`
    characters for each new one (the prompt is `steps` long)."""

    def __init__(self, model, steps):
        self.model, self.steps = model, steps

    def start(self, prompt):
        self.context = np.array(prompt[-self.steps:], "int32")
        return self.model.predict_on_batch(self.context[None])[0, -1]

    def next(self, token):
        self.context = np.append(self.context[1:], token).astype("int32")
        return self.model.predict_on_batch(self.context[None])[0, -1]


def bits_per_character(model, x, y, batch_size):
    import keras

    total = 0.0
    for start in range(0, len(x), batch_size):
        logits = model.predict_on_batch(x[start:start + batch_size])
        loss = keras.losses.sparse_categorical_crossentropy(
            y[start:start + batch_size], logits, from_logits=True
        )
        total += float(np.sum(keras.ops.convert_to_numpy(loss)))
    return total / y.size / math.log(2)


def train(model, train_ids, validation, args):
    """Adam on random windows until `args.seconds` of training (evaluation
    not counted); returns the history of validation bits per character."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(args.learning_rate, clipnorm=1.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(args.seed)
    starts = len(train_ids) - args.steps - 1
    spent, seen, history, batches = 0.0, 0, [], 0
    checkpoint = args.seconds / 6
    while spent < args.seconds:
        first = rng.integers(0, starts, args.batch_size)
        rows = first[:, None] + np.arange(args.steps + 1)
        batch = train_ids[rows]
        began = time.perf_counter()
        model.train_on_batch(batch[:, :-1], batch[:, 1:])
        if batches > 0:  # the first step compiles
            spent += time.perf_counter() - began
            seen += batch[:, :-1].size
        batches += 1
        if spent >= checkpoint * (len(history) + 1) or spent >= args.seconds:
            history.append((spent, bits_per_character(
                model, *validation, args.batch_size)))
    return history, seen / max(spent, 1e-9), batches


def generate(generator, prompt, count, alphabet, seed, temperature=0.8):
    """`count` sampled characters after `prompt`, and characters/second
    (the first step's compile not counted)."""
    rng = np.random.default_rng(seed)
    logits = generator.start(prompt)
    out, began = [], None
    for k in range(count):
        p = np.exp((logits - logits.max()) / temperature)
        token = int(rng.choice(len(p), p=p / p.sum()))
        out.append(token)
        logits = generator.next(token)
        if k == 0:
            began = time.perf_counter()
    speed = (count - 1) / max(time.perf_counter() - began, 1e-9)
    return "".join(alphabet[t] for t in out), speed


def main(argv=None):
    args = parse_args(argv)
    _common.require("char_lm.py", args.backend)
    os.environ["KERAS_BACKEND"] = args.backend  # before Keras is imported
    import keras

    keras.utils.set_random_seed(args.seed)
    text = load_text()
    ids, alphabet = encode(text)
    train_ids, validation_ids, test_ids = split(ids)
    validation = windows(validation_ids, args.steps)
    test = windows(test_ids, args.steps)
    if args.quick:
        validation = tuple(a[:4] for a in validation)
        test = tuple(a[:4] for a in test)
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}; "
          f"{len(text)} characters, {len(alphabet)} symbols", flush=True)
    prompt = test_ids[:args.steps]
    runs = []
    for name in args.models:
        model, generator = build(name, len(alphabet), args)
        history, speed, batches = train(model, train_ids, validation, args)
        # From the states of the prompt but its last character, one step on
        # that character: the logits the whole-sequence model gives there.
        if isinstance(generator, Recurrent):
            generator.start(prompt[:-1])
            first = generator.next(int(prompt[-1]))
            whole = model.predict_on_batch(prompt[None])[0, -1]
            scale = max(float(np.abs(whole).max()), 1.0)
            if not np.allclose(first, whole, rtol=0, atol=1e-3 * scale):
                print(f"error: {name}'s step from the prompt's states "
                      "disagrees with the whole-sequence model",
                      file=sys.stderr)
                return 1
        sample, generation_speed = generate(
            generator, prompt, args.generate, alphabet, args.seed
        )
        runs.append({
            "model": name,
            "parameters": int(model.count_params()),
            "test_bpc": bits_per_character(model, *test, args.batch_size),
            "train_chars_per_second": speed,
            "generation_chars_per_second": generation_speed,
            "train_batches": batches,
            "validation_bpc": history,
            "sample": sample,
        })
        print(f"{name:12s} {runs[-1]['parameters']:8d} parameters, test "
              f"{runs[-1]['test_bpc']:.3f} bpc, {speed:,.0f} train chars/s, "
              f"{generation_speed:.0f} generated chars/s", flush=True)
    write(args, runs, alphabet, "".join(alphabet[t] for t in prompt))
    return 0


def write(args, runs, alphabet, prompt):
    import keras

    args.output.mkdir(parents=True, exist_ok=True)
    setup = {
        "backend": keras.backend.backend(), "keras": keras.__version__,
        "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
        **{k: (str(v) if isinstance(v, pathlib.Path) else v)
           for k, v in vars(args).items()},
        "symbols": len(alphabet),
    }
    (args.output / "results.json").write_text(json.dumps(
        {"setup": setup, "prompt": prompt, "runs": runs}, indent=2
    ) + "\n")
    lines = [
        f"Backend {setup['backend']}, Keras {setup['keras']}, "
        f"{setup['cpus']} CPUs, {setup['date']}; {args.seconds:.0f} s of "
        f"training each, windows of {args.steps}, batch {args.batch_size}.",
        "",
        "| model | parameters | test bits/char | train chars/s | "
        "generated chars/s |",
        "|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['model']} | {run['parameters']:,} | "
            f"{run['test_bpc']:.3f} | {run['train_chars_per_second']:,.0f} "
            f"| {run['generation_chars_per_second']:.0f} |"
        )
    lines += ["", "Prompt (the test text's first characters):", "",
              "```text", prompt, "```"]
    for run in runs:
        lines += ["", f"{run['model']} continues:", "", "```text",
                  run["sample"], "```"]
    (args.output / "results.md").write_text("\n".join(lines) + "\n")
    if not _common.can_plot(args.output / "char_lm.png"):
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    for run in runs:
        seconds, bpc = zip(*run["validation_bpc"], strict=True)
        ax.plot(seconds, bpc, marker="o", label=run["model"])
    ax.set_xlabel("training seconds")
    ax.set_ylabel("validation bits / character")
    ax.grid(True, alpha=0.3)
    ax.legend()
    figure.tight_layout()
    figure.savefig(args.output / "char_lm.png")
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
