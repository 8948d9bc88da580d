"""Attention over bidirectional LSTM outputs: dates in many formats to ISO.

A sequence-to-sequence task where alignment matters, generated offline: a
date between 1950 and 2049 written in one of 14 formats ("3 April 1987",
"Fri, 03 Apr 1987", "04/03/1987", "3.4.1987", "3rd of april 1987",
"19870403", ...) is to be rewritten as "1987-04-03", character by
character.

The encoder embeds the characters (`mask_zero=True`: padding is masked) and
reads them with `Bidirectional(<variant>(units, return_sequences=True,
return_state=True))`; the decoder is a `<variant>(2 * units)` whose initial
state is the encoder's final states (forward and backward joined; MLSTM's
matrix memories per head on the block diagonal), and whose
output at each step attends over the encoder outputs with
`keras.layers.Attention` (Luong's dot-product score, padding masked) before
a softmax over the 11 output characters. It is trained with teacher forcing
(the decoder reads the true previous character) and decoded greedily, one
character at a time, by a loop over a step model built from the same layers
(the decoder layer with `initial_state` and `return_state`). The same model
without the attention layer, trained on the same data for the same budget,
is the baseline. Scored by exact match: the whole date right.

    python examples/attention.py --backend jax --output attention
    python examples/attention.py --quick        # seconds: a smoke test

Writes `<output>/results.json`, `results.md` (the table), `attention.png`
(the attention weights of a few test inputs) and `model.keras` (the first
seed's attention model, which the script reloads, checking that it predicts
the same).
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import sys
import time

import _common
import numpy as np

MONTHS = ("January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
        "Sunday")


def _ordinal(n):
    if n in (11, 12, 13):
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


# Each format writes a `datetime.date` d; no two formats give one string two
# meanings (day before month only with dots, month first only with slashes).
FORMATS = {
    "d Month yyyy": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "dd Mon yyyy": lambda d: f"{d.day:02d} {MONTHS[d.month - 1][:3]} {d.year}",
    "Month d, yyyy": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    "Mon d yyyy": lambda d: f"{MONTHS[d.month - 1][:3]} {d.day} {d.year}",
    "Weekday, d Month yyyy": lambda d: (
        f"{DAYS[d.weekday()]}, {d.day} {MONTHS[d.month - 1]} {d.year}"),
    "Wkd, dd Mon yyyy": lambda d: (
        f"{DAYS[d.weekday()][:3]}, {d.day:02d} {MONTHS[d.month - 1][:3]} "
        f"{d.year}"),
    "mm/dd/yyyy": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",
    "m/d/yyyy": lambda d: f"{d.month}/{d.day}/{d.year}",
    "d.m.yyyy": lambda d: f"{d.day}.{d.month}.{d.year}",
    "yyyy/mm/dd": lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    "yyyymmdd": lambda d: f"{d.year}{d.month:02d}{d.day:02d}",
    "dth of month yyyy": lambda d: (
        f"{_ordinal(d.day)} of {MONTHS[d.month - 1].lower()} {d.year}"),
    "MONTH d, yyyy": lambda d: (
        f"{MONTHS[d.month - 1].upper()} {d.day}, {d.year}"),
    "d mon yyyy": lambda d: (
        f"{d.day} {MONTHS[d.month - 1][:3].lower()} {d.year}"),
}
SOURCE_CHARS = sorted(set("".join(
    f(datetime.date(2000, 1, 1) + datetime.timedelta(days=k))
    for f in FORMATS.values() for k in range(366 + 7))) | set("0123456789"))
TARGET_CHARS = "0123456789-"
SOURCE_LENGTH = max(len(f(datetime.date(2000, 9, 27)))  # the longest
                    for f in FORMATS.values())
TARGET_LENGTH = 10  # yyyy-mm-dd
FIRST_DAY = datetime.date(1950, 1, 1)
DAYS_SPANNED = (datetime.date(2050, 1, 1) - FIRST_DAY).days


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _common.add_variant_option(p, argv)
    p.add_argument("--units", type=int, default=32,
                   help="units of each direction of the encoder; the "
                   "decoder has twice as many")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--train-size", type=int, default=10000,
                   help="training pairs (the test set is 1,000 other dates)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=3e-3)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    _common.add_backend_option(p)
    p.add_argument("--output", type=pathlib.Path,
                   default=pathlib.Path("attention_output"))
    p.add_argument("--quick", action="store_true",
                   help="a smoke test: 1 epoch on 256 pairs, 64 test "
                   "pairs, the first seed")
    p.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2),
                   help="Keras fit verbosity")
    args = p.parse_args(argv)
    for name in ("units", "epochs", "train_size", "batch_size"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    args.test_size = 1000
    if args.quick:
        args.epochs, args.seeds = 1, args.seeds[:1]
        args.train_size, args.test_size = 256, 64
    return args


def make_pairs(size, seed):
    """`(sources, targets)`: `size` random dates, each written in a random
    format, and in ISO 8601. Test and training sets use different seeds and
    share no date."""
    rng = np.random.default_rng(seed)
    names = list(FORMATS)
    days = rng.integers(0, DAYS_SPANNED, size)
    chosen = rng.integers(0, len(names), size)
    dates = [FIRST_DAY + datetime.timedelta(days=int(k)) for k in days]
    sources = [FORMATS[names[k]](d) for k, d in zip(chosen, dates, strict=True)]
    return sources, [d.isoformat() for d in dates]


def split_pairs(train_size, test_size):
    """Training and test pairs; training dates that occur in the test set
    are left out."""
    test = make_pairs(test_size, seed=1)
    seen = set(test[1])
    sources, targets = make_pairs(int(train_size * 1.2) + 100, seed=0)
    kept = [(s, t) for s, t in zip(sources, targets, strict=True)
            if t not in seen][:train_size]
    return tuple(map(list, zip(*kept, strict=True))), test


def encode(sources, targets):
    """Token arrays: the sources (1 + index in SOURCE_CHARS, 0 = padding),
    the decoder inputs (0 = start, then 1 + each target character but the
    last) and the decoder targets (index in TARGET_CHARS)."""
    x = np.zeros((len(sources), SOURCE_LENGTH), "int32")
    for i, s in enumerate(sources):
        x[i, : len(s)] = [SOURCE_CHARS.index(c) + 1 for c in s]
    y = np.array([[TARGET_CHARS.index(c) for c in t] for t in targets],
                 "int32")
    decoder_inputs = np.concatenate([np.zeros_like(y[:, :1]), y[:, :-1] + 1],
                                    axis=1)
    return x, decoder_inputs, y


def decode_text(tokens):
    return ["".join(TARGET_CHARS[k] for k in row) for row in tokens]


def joined(forward, backward, units):
    """The decoder's initial state from the encoder's final states: each
    forward state beside the backward one, block by block (a state of k *
    units holds k blocks, e.g. the gates of FullGateRecurrenceLSTM)."""
    import keras

    blocks = forward.shape[-1] // units
    f = keras.ops.split(forward, blocks, axis=-1)
    b = keras.ops.split(backward, blocks, axis=-1)
    return keras.ops.concatenate(
        [part for pair in zip(f, b, strict=True) for part in pair], axis=-1)


def joined_matrix_memory(forward, backward, heads):
    """MLSTM's decoder state from the encoder's final states `(C, n, m)`:
    per head, the forward memory and the backward one side by side on the
    block diagonal of a memory of twice the head size (so the decoder's
    keys and queries of each half read the matching direction), the
    normalisers side by side, both rescaled to the larger stabiliser m
    (the memory is `C * exp(m)`: the rescaling changes nothing it holds)."""
    import keras

    ops = keras.ops
    (c_f, n_f, m_f), (c_b, n_b, m_b) = forward, backward
    d = n_f.shape[-1] // heads
    m = ops.maximum(m_f, m_b)
    scale_f = ops.expand_dims(ops.exp(ops.subtract(m_f, m)), -1)
    scale_b = ops.expand_dims(ops.exp(ops.subtract(m_b, m)), -1)
    n = ops.concatenate(
        [ops.multiply(ops.reshape(n_f, (-1, heads, d)), scale_f),
         ops.multiply(ops.reshape(n_b, (-1, heads, d)), scale_b)], axis=-1)
    c_f = ops.multiply(ops.reshape(c_f, (-1, heads, d, d)),
                       ops.expand_dims(scale_f, -1))
    c_b = ops.multiply(ops.reshape(c_b, (-1, heads, d, d)),
                       ops.expand_dims(scale_b, -1))
    zeros = ops.zeros_like(c_f)
    c = ops.concatenate([ops.concatenate([c_f, zeros], axis=-1),
                         ops.concatenate([zeros, c_b], axis=-1)], axis=-2)
    return [ops.reshape(c, (-1, heads * 4 * d * d)),
            ops.reshape(n, (-1, heads * 2 * d)), m]


def decoder_state(final, encoder_cell, units):
    """The decoder's initial state from the encoder's final states (the
    forward ones, then the backward ones): MLSTM's matrix memories by
    `joined_matrix_memory`, every other state by `joined`."""
    import keras_lstm_variants as klv

    half = len(final) // 2
    forward, backward = final[:half], final[half:]
    if isinstance(encoder_cell, klv.MLSTMCell):
        return joined_matrix_memory(forward, backward,
                                    encoder_cell.num_heads)
    return [joined(f, b, units)
            for f, b in zip(forward, backward, strict=True)]


def build(variant, units, attention):
    """`(model, encoder, step)`: the teacher-forced model, and the encoder
    and one-step decoder models of greedy decoding, sharing its layers."""
    import keras

    layer = _common.layer_class(variant)
    embed_source = keras.layers.Embedding(
        len(SOURCE_CHARS) + 1, 16, mask_zero=True, name="source_embedding")
    encoder_layer = keras.layers.Bidirectional(
        layer(units, return_sequences=True, return_state=True),
        name="encoder")
    embed_target = keras.layers.Embedding(
        len(TARGET_CHARS) + 1, 16, name="target_embedding")
    decoder_layer = layer(2 * units, return_sequences=True, return_state=True,
                          name="decoder")
    attend = keras.layers.Attention(name="attention") if attention else None
    concat = keras.layers.Concatenate(name="output_and_context")
    classify = keras.layers.Dense(len(TARGET_CHARS), activation="softmax",
                                  name="next_character")

    def decode(tokens, states, encoded, source):
        outputs, *states = decoder_layer(embed_target(tokens),
                                         initial_state=states)
        scores = None
        if attend is not None:
            mask = keras.ops.not_equal(source, 0)
            context, scores = attend([outputs, encoded], mask=[None, mask],
                                     return_attention_scores=True)
            outputs = concat([outputs, context])
        return classify(outputs), scores, states

    source = keras.Input((SOURCE_LENGTH,), dtype="int32", name="source")
    encoded, *final = encoder_layer(embed_source(source))
    states = decoder_state(final, encoder_layer.forward_layer.cell, units)
    expected = decoder_layer.cell.state_size
    if not isinstance(expected, (list, tuple)):
        expected = [expected]
    expected = list(expected)
    if [s.shape[-1] for s in states] != expected:
        raise ValueError(
            f"attention.py cannot start the decoder {variant}({2 * units}) "
            f"from the encoder's final states: it joins them into states of "
            f"sizes {[s.shape[-1] for s in states]}, the decoder takes "
            f"{expected} (`decoder_state` needs a rule for {variant}).")
    decoder_inputs = keras.Input((TARGET_LENGTH,), dtype="int32",
                                 name="decoder_inputs")
    probabilities, _, _ = decode(decoder_inputs, states, encoded, source)
    name = f"dates_{variant}_{'attention' if attention else 'plain'}"
    model = keras.Model([source, decoder_inputs], probabilities, name=name)
    encoder = keras.Model(source, [encoded, *states])

    token = keras.Input((1,), dtype="int32", name="previous")
    encoded_in = keras.Input(encoded.shape[1:], name="encoded")
    states_in = [keras.Input(s.shape[1:]) for s in states]
    probabilities, scores, new_states = decode(token, states_in, encoded_in,
                                               source)
    outputs = [probabilities, *new_states]
    if scores is not None:
        outputs.append(scores)
    step = keras.Model([token, source, encoded_in, *states_in], outputs)
    return model, encoder, step


def greedy_decode(encoder, step, x, attention):
    """Decodes one character at a time, each step reading the previous
    output and the states the step before returned. Returns the character
    indices `(N, 10)` and the attention weights `(N, 10, source length)`
    (None without attention)."""
    encoded, *states = encoder.predict_on_batch(x)
    token = np.zeros((len(x), 1), "int32")
    tokens, weights = [], []
    for _ in range(TARGET_LENGTH):
        outputs = step.predict_on_batch([token, x, encoded, *states])
        probabilities, states = outputs[0], outputs[1:]
        if attention:
            weights.append(states.pop()[:, 0])
        choice = np.argmax(probabilities[:, 0], axis=-1)
        tokens.append(choice)
        token = (choice + 1)[:, None].astype("int32")
    return (np.stack(tokens, axis=1),
            np.stack(weights, axis=1) if attention else None)


def run_one(args, seed, attention, data):
    import keras

    (x, decoder_inputs, y), (x_test, _, y_test) = data
    keras.utils.set_random_seed(seed)
    model, encoder, step = build(args.variant, args.units, attention)
    model.compile(keras.optimizers.Adam(args.learning_rate, clipnorm=1.0),
                  "sparse_categorical_crossentropy")
    start = time.perf_counter()
    model.fit([x, decoder_inputs], y, batch_size=args.batch_size,
              epochs=args.epochs, shuffle=True, verbose=args.verbose)
    seconds = time.perf_counter() - start
    tokens, weights = greedy_decode(encoder, step, x_test, attention)
    run = {"seed": seed, "attention": attention,
           "exact_match": float(np.mean(np.all(tokens == y_test, axis=1))),
           "character_accuracy": float(np.mean(tokens == y_test)),
           "parameters": model.count_params(), "train_seconds": seconds}
    return run, model, (encoder, step), tokens, weights


def table(runs, args):
    lines = ["| model | exact match (mean ± sd) | per seed | characters right"
             " | parameters | train s |", "|---|---:|---:|---:|---:|---:|"]
    for attention in (True, False):
        rows = [r for r in runs if r["attention"] == attention]
        exact = [100 * r["exact_match"] for r in rows]
        characters = 100 * statistics.mean(
            r["character_accuracy"] for r in rows)
        sd = statistics.stdev(exact) if len(exact) > 1 else 0.0
        name = (f"Bidirectional({args.variant}) -> {args.variant} "
                + ("+ Attention" if attention else "(no attention)"))
        lines.append(
            f"| {name} | {statistics.mean(exact):.1f}% ± {sd:.1f} | "
            + ", ".join(f"{e:.1f}" for e in exact) + " | "
            f"{characters:.1f}% | {rows[0]['parameters']} | "
            f"{statistics.mean(r['train_seconds'] for r in rows):.0f} |")
    return "\n".join(lines)


def plot(sources, tokens, weights, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(sources), 1, dpi=110,
                                figsize=(8, 2.3 * len(sources)))
    for ax, source, row, w in zip(np.atleast_1d(axes), sources, tokens,
                                  weights, strict=True):
        ax.imshow(w[:, : len(source)], cmap="viridis", vmin=0.0, vmax=1.0,
                  aspect="auto")
        ax.set_xticks(range(len(source)), [c if c != " " else "\u2423"
                                           for c in source])
        ax.set_yticks(range(TARGET_LENGTH), list(decode_text([row])[0]))
        ax.set_xlabel("input character")
        ax.set_ylabel("output")
        ax.set_title(f"{source!r} -> {decode_text([row])[0]}",
                     fontsize="medium")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv=None):
    args = parse_args(argv)
    _common.require("attention.py", args.backend, "matplotlib")
    os.environ["KERAS_BACKEND"] = args.backend  # before Keras is imported
    import keras

    import keras_lstm_variants as klv

    (train_sources, train_targets), (test_sources, test_targets) = (
        split_pairs(args.train_size, args.test_size))
    data = (encode(train_sources, train_targets),
            encode(test_sources, test_targets))
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}; "
          f"{len(train_sources)} training and {len(test_sources)} test "
          f"dates, e.g. {train_sources[0]!r} -> {train_targets[0]}",
          flush=True)
    runs, kept = [], None
    for seed in args.seeds:
        for attention in (True, False):
            run, model, decoders, tokens, weights = run_one(
                args, seed, attention, data)
            runs.append(run)
            print(f"seed {seed} {'attention' if attention else 'plain':9s}: "
                  f"exact match {run['exact_match']:.3f} "
                  f"({run['train_seconds']:.0f} s)", flush=True)
            if kept is None:
                kept = (model, decoders, tokens, weights)

    args.output.mkdir(parents=True, exist_ok=True)
    model, (encoder, step), tokens, weights = kept
    x_test = data[1][0]
    # The teacher-forced model, fed the greedy outputs as its previous
    # characters, must pick them too: the loop carried the states right.
    previous = np.concatenate(
        [np.zeros_like(tokens[:, :1]), tokens[:, :-1] + 1], axis=1
    ).astype("int32")
    probabilities = model.predict([x_test, previous], verbose=0)
    if not np.array_equal(np.argmax(probabilities, axis=-1), tokens):
        print("error: greedy decoding disagrees with the teacher-forced model",
              file=sys.stderr)
        return 1
    path = args.output / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    difference = float(np.max(np.abs(
        reloaded.predict([x_test, previous], verbose=0) - probabilities)))
    if difference > 1e-5:
        print(f"error: the reloaded model predicts differently (max abs "
              f"difference {difference:.2e})", file=sys.stderr)
        return 1

    text = table(runs, args)
    command = " ".join(["python examples/attention.py", *sys.argv[1:]]
                       if argv is None else ["attention.main", *argv])
    meta = {
        "command": command,
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "versions": {"keras": keras.__version__,
                     "keras_lstm_variants": klv.__version__,
                     "backend": args.backend,
                     "python": platform.python_version()},
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "examples": [{"source": s, "target": t, "decoded": d}
                     for s, t, d in zip(test_sources[:10], test_targets[:10],
                                        decode_text(tokens[:10]),
                                        strict=True)],
    }
    (args.output / "results.md").write_text(
        f"Command: `{command}`; Keras {keras.__version__}, backend "
        f"{args.backend}; {meta['machine']}.\n\n{text}\n")
    shown = []  # a few inputs in different formats
    for i, s in enumerate(test_sources):
        if len(shown) < 4 and not any(len(s) == len(test_sources[j])
                                      for j in shown):
            shown.append(i)
    meta["attention_weights"] = [  # of the inputs shown: output x input
        {"source": test_sources[i], "weights": weights[i].round(4).tolist()}
        for i in shown]
    (args.output / "results.json").write_text(
        json.dumps({**meta, "runs": runs}, indent=1) + "\n")
    plot([test_sources[i] for i in shown], tokens[shown], weights[shown],
         args.output / "attention.png")
    print(f"\n{text}\n\nFirst test dates: " + "; ".join(
        f"{e['source']!r} -> {e['decoded']}" for e in meta["examples"][:4])
        + "\nGreedy decoding agrees with the teacher-forced model. "
        f"Saved {path}, reloaded: same predictions (max abs difference "
        f"{difference:.1e}). Wrote results.json, results.md and "
        f"attention.png to {args.output}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
