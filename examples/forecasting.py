"""Forecasting a real series a year ahead, against the classical baselines.

The series: the monthly mean CO2 concentration at Mauna Loa, in ppm, March
1958 to December 2001 (526 months), from `statsmodels.datasets.co2`, which
ships inside statsmodels (offline): its weekly values averaged by calendar
month, the 5 months without any measurement interpolated linearly. Split in
time: training to December 1989, validation 1990-1994 (early stopping),
test 1995-2001.

Every model forecasts the next --horizon months (12) from each month of the
test span whose horizon lies inside it (73 forecast origins), with the
history up to that month and parameters fixed before the test span:

- the variant: two stacked layers (`return_sequences=True` on the first)
  and a `Dense(horizon)`, a direct multi-step forecast from the last
  --window months (36). Inside the model the window is centred on its last
  value and divided by the training span's seasonal-naive MAE, so the saved
  model takes and returns ppm. Trained on the MAE, with early stopping on
  the validation MAE, once per seed.
- seasonal naive: each month forecast by the same month a year earlier.
- Holt-Winters: additive trend and season (statsmodels'
  `ExponentialSmoothing`), fitted on all months before the test span.
- SARIMA(1,1,1)(0,1,1)12, the "airline" model (statsmodels' `SARIMAX`),
  fitted on the same months (left out by --quick: it takes ~30 s).

Scores: MAE in ppm and MASE (the MAE over the in-sample MAE of the seasonal
naive forecast on the training span; Hyndman & Koehler 2006), over all
origins and horizons. The windows come from
`keras.utils.timeseries_dataset_from_array(format="grain")`: its default
format is a tf.data pipeline, which needs TensorFlow whatever the backend;
Grain's runs on every backend. They are gathered into arrays, which `fit`
batches and reshuffles every epoch (a Grain dataset passed to `fit` keeps
one order and, its length unknown to Keras, warns at each epoch's end).

    python examples/forecasting.py --backend jax --output forecasting
    python examples/forecasting.py --quick        # seconds: a smoke test

Writes `<output>/results.json` (every seed and baseline, with the command
and versions), `results.md` (the table), `forecast.png` (the test span: the
series and each model's forecasts) and `model.keras` (the first seed's
model), which it reloads, checking that it predicts the same.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

import _common
import numpy as np

PERIOD = 12  # months in a season
VALIDATION_START = "1990-01"
TEST_START = "1995-01"


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _common.add_variant_option(p, argv)
    p.add_argument("--units", type=int, default=32,
                   help="units of each of the two stacked layers")
    p.add_argument("--epochs", type=int, default=300,
                   help="at most; early stopping on the validation MAE")
    p.add_argument("--patience", type=int, default=30,
                   help="epochs without a better validation MAE before "
                   "stopping (the best weights are kept)")
    p.add_argument("--window", type=int, default=36, help="months read")
    p.add_argument("--horizon", type=int, default=12, help="months forecast")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=3e-3)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    _common.add_backend_option(p)
    p.add_argument("--output", type=pathlib.Path,
                   default=pathlib.Path("forecasting_output"))
    p.add_argument("--quick", action="store_true",
                   help="a smoke test: 1 epoch on the last 64 training "
                   "windows, the first seed, no SARIMA")
    p.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2),
                   help="Keras fit verbosity")
    args = p.parse_args(argv)
    for name in ("units", "epochs", "patience", "window", "horizon",
                 "batch_size"):
        if getattr(args, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if args.horizon > 48 or args.window > 120:
        p.error("--horizon must be at most 48 and --window at most 120 "
                "months (the validation span is 60 months)")
    if args.quick:
        args.epochs, args.seeds = 1, args.seeds[:1]
    return args


def load_co2():
    """`(months, ppm)`: the monthly means, a pandas `DatetimeIndex` and a
    float64 array of 526 values."""
    from statsmodels.datasets import co2

    weekly = co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate("linear")
    return monthly.index, monthly.to_numpy("float64")


def splits(months):
    """Indices of the first validation and the first test month."""
    return (int(months.searchsorted(VALIDATION_START)),
            int(months.searchsorted(TEST_START)))


def windows(series, window, horizon, origins):
    """`(inputs, targets)`, the windows of the forecast origins `origins`
    (a range of indices of the last month read), made by
    `keras.utils.timeseries_dataset_from_array`: row k holds
    `series[t - window + 1 : t + 1]` and `series[t + 1 : t + 1 + horizon]`
    for the k-th origin t. Arrays, so that `fit` batches and reshuffles them
    every epoch on any backend."""
    import keras

    future = np.lib.stride_tricks.sliding_window_view(series[window:], horizon)
    dataset = keras.utils.timeseries_dataset_from_array(
        series.astype("float32"), future.astype("float32"),
        sequence_length=window, batch_size=None,
        start_index=origins[0] - window + 1, end_index=origins[-1] + 1,
        format="grain",
    )
    inputs, targets = zip(*dataset, strict=True)
    return np.stack(inputs), np.stack(targets)


def seasonal_naive_scale(series, end):
    """The in-sample MAE of the seasonal naive forecast on series[:end]."""
    return float(np.mean(np.abs(series[PERIOD:end] - series[: end - PERIOD])))


def build_model(variant, window, horizon, units, scale):
    import keras

    layer = _common.layer_class(variant)
    inputs = keras.Input((window,), name="ppm")
    last = inputs[:, -1:]
    x = keras.ops.expand_dims((inputs - last) / scale, -1)
    x = layer(units, return_sequences=True)(x)
    x = layer(units)(x)
    outputs = last + scale * keras.layers.Dense(horizon)(x)
    return keras.Model(inputs, outputs, name=f"forecast_{variant}")


def seasonal_naive(series, origins, horizon):
    steps = np.arange(1, horizon + 1)
    back = PERIOD * np.ceil(steps / PERIOD).astype(int)
    return series[origins[:, None] + steps - back]


def holt_winters(series, fit_end, origins, horizon):
    """Additive Holt-Winters fitted on series[:fit_end], then run with those
    parameters on the history up to each origin."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    shape = dict(trend="add", seasonal="add", seasonal_periods=PERIOD)
    p = ExponentialSmoothing(series[:fit_end], **shape).fit().params

    def forecast(t):
        model = ExponentialSmoothing(
            series[: t + 1], **shape, initialization_method="known",
            initial_level=p["initial_level"], initial_trend=p["initial_trend"],
            initial_seasonal=p["initial_seasons"],
        )
        return model.fit(
            smoothing_level=p["smoothing_level"],
            smoothing_trend=p["smoothing_trend"],
            smoothing_seasonal=p["smoothing_seasonal"], optimized=False,
        ).forecast(horizon)

    return np.stack([forecast(t) for t in origins])


def sarima(series, fit_end, origins, horizon):
    """SARIMA(1,1,1)(0,1,1)12 fitted on series[:fit_end], then filtered with
    those parameters over the history up to each origin."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    fitted = SARIMAX(series[:fit_end], order=(1, 1, 1),
                     seasonal_order=(0, 1, 1, PERIOD)).fit(disp=False)
    return np.stack([fitted.apply(series[: t + 1]).forecast(horizon)
                     for t in origins])


def scores(forecasts, targets, scale):
    errors = np.abs(forecasts - targets)
    return {"mae": float(errors.mean()), "mase": float(errors.mean() / scale),
            "mae_by_horizon": [float(e) for e in errors.mean(axis=0)]}


def train(args, seed, data, scale):
    import keras

    (x_train, y_train), validation, (x_test, y_test) = data
    keras.utils.set_random_seed(seed)
    model = build_model(args.variant, args.window, args.horizon, args.units,
                        scale)
    model.compile(keras.optimizers.Adam(args.learning_rate, clipnorm=1.0),
                  loss="mae")
    stop = keras.callbacks.EarlyStopping(
        patience=args.patience, restore_best_weights=True)
    start = time.perf_counter()
    history = model.fit(
        x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
        validation_data=validation, shuffle=True, callbacks=[stop],
        verbose=args.verbose,
    )
    seconds = time.perf_counter() - start
    val = history.history["val_loss"]
    forecasts = model.predict(x_test, verbose=0)
    run = {"seed": seed, "epochs_run": len(val),
           "best_epoch": int(np.argmin(val)) + 1,
           "validation_mae": float(min(val)), "train_seconds": seconds,
           "parameters": model.count_params(),
           **scores(forecasts, y_test, scale)}
    return run, model, forecasts


def table(runs, baselines, args):
    maes = [r["mae"] for r in runs]
    mases = [r["mase"] for r in runs]
    sd = statistics.stdev(maes) if len(maes) > 1 else 0.0
    sd_mase = statistics.stdev(mases) if len(mases) > 1 else 0.0
    lines = [
        f"| model | MAE, ppm | MASE | {args.horizon}-month-ahead MAE |",
        "|---|---:|---:|---:|",
        f"| {args.variant} x2, {args.units} units "
        f"({len(runs)} seed{'s' * (len(runs) > 1)}: mean ± sd) | "
        f"{statistics.mean(maes):.3f} ± {sd:.3f} | "
        f"{statistics.mean(mases):.3f} ± {sd_mase:.3f} | "
        f"{statistics.mean(r['mae_by_horizon'][-1] for r in runs):.3f} |",
    ]
    for name, b in baselines.items():
        lines.append(f"| {name} | {b['mae']:.3f} | {b['mase']:.3f} | "
                     f"{b['mae_by_horizon'][-1]:.3f} |")
    best = min(baselines, key=lambda name: baselines[name]["mae"])
    verdict = ("beats" if statistics.mean(maes) < baselines[best]["mae"]
               else "loses to")
    per_seed = ", ".join(f"{r['mae']:.3f}" for r in runs)
    lines += ["", f"{args.variant} {verdict} the best baseline ({best}). "
              f"MAE per seed: {per_seed}; epochs run (best): "
              + ", ".join(f"{r['epochs_run']} ({r['best_epoch']})"
                          for r in runs)
              + f"; {statistics.mean(r['train_seconds'] for r in runs):.0f}"
              " s of training per seed."]
    return "\n".join(lines)


def plot(months, series, origins, horizon, forecasts, by_horizon, path):
    """The test span with the forecasts made every 12 months, and the MAE by
    months ahead."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 7.5), dpi=110, height_ratios=(3, 2))
    first = origins[0] - 2 * PERIOD
    top.plot(months[first:], series[first:], color="black", linewidth=1.2,
             label="observed")
    top.axvline(months[origins[0]], color="grey", linestyle=":")
    colours = dict(zip(forecasts, ("tab:red", "tab:green", "tab:blue",
                                   "tab:orange"), strict=False))
    shown = range(0, len(origins), PERIOD)
    for name, values in forecasts.items():
        for k, i in enumerate(shown):
            t = origins[i]
            top.plot(months[t + 1: t + 1 + horizon], values[i],
                     color=colours[name], linewidth=1.0, alpha=0.9,
                     label=name if k == 0 else None)
    top.set_ylabel("CO2, ppm (Mauna Loa)")
    top.set_title(f"Test span: {horizon}-month forecasts made every "
                  f"{PERIOD} months")
    top.legend(fontsize="small", loc="upper left")
    top.grid(True, alpha=0.3)
    steps = np.arange(1, horizon + 1)
    for name, values in by_horizon.items():
        values, label = np.asarray(values), name
        if values.ndim == 2:  # seeds: the mean, and the range
            bottom.fill_between(steps, values.min(0), values.max(0),
                                color=colours[name], alpha=0.2)
            label = (f"{name.split(' (')[0]} (mean and range of "
                     f"{len(values)} seed{'s' * (len(values) > 1)})")
            values = values.mean(0)
        bottom.plot(steps, values, marker="o", markersize=3,
                    color=colours[name], label=label)
    bottom.set_xlabel("months ahead")
    bottom.set_ylabel("test MAE, ppm")
    bottom.grid(True, alpha=0.3)
    bottom.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv=None):
    args = parse_args(argv)
    _common.require("forecasting.py", args.backend,
                    "statsmodels", "matplotlib", "grain")
    os.environ["KERAS_BACKEND"] = args.backend  # before Keras is imported
    import inspect

    import keras

    import keras_lstm_variants as klv

    if "format" not in inspect.signature(
            keras.utils.timeseries_dataset_from_array).parameters:
        print(f"forecasting.py needs Keras 3.14 or later (Grain windows), "
              f"not {keras.__version__}: `pip install -U \"keras>=3.14\"`.",
              file=sys.stderr)
        return 2
    months, series = load_co2()
    validation, test = splits(months)
    if test - validation < args.horizon + 1 or validation < (
            args.window + args.horizon + args.batch_size):
        raise SystemExit("--window or --horizon too long for the split")
    train_origins = range(args.window - 1, validation - args.horizon)
    if args.quick:
        train_origins = train_origins[-64:]
    val_origins = range(validation - 1, test - args.horizon)
    test_origins = np.arange(test - 1, len(series) - args.horizon)
    x_test, y_test = windows(series, args.window, args.horizon, test_origins)
    scale = seasonal_naive_scale(series, validation)
    data = (windows(series, args.window, args.horizon, train_origins),
            windows(series, args.window, args.horizon, val_origins),
            (x_test, y_test))
    print(f"Keras {keras.__version__}, backend {keras.backend.backend()}; "
          f"CO2 {months[0]:%Y-%m} to {months[-1]:%Y-%m}: "
          f"{len(train_origins)} training, {len(val_origins)} validation "
          f"windows, {len(test_origins)} test origins", flush=True)

    runs, saved = [], None
    for seed in args.seeds:
        run, model, forecasts = train(args, seed, data, scale)
        runs.append(run)
        print(f"seed {seed}: test MAE {run['mae']:.3f} ppm, MASE "
              f"{run['mase']:.3f} ({run['epochs_run']} epochs, "
              f"{run['train_seconds']:.0f} s)", flush=True)
        if saved is None:
            saved = (model, forecasts)

    baselines, forecasts = {}, {}
    makers = {"seasonal naive": lambda: seasonal_naive(
                  series, test_origins, args.horizon),
              "Holt-Winters": lambda: holt_winters(
                  series, test, test_origins, args.horizon)}
    if not args.quick:
        makers["SARIMA(1,1,1)(0,1,1)12"] = lambda: sarima(
            series, test, test_origins, args.horizon)
    for name, make in makers.items():
        forecasts[name] = make()
        baselines[name] = scores(forecasts[name], series[
            test_origins[:, None] + np.arange(1, args.horizon + 1)], scale)

    args.output.mkdir(parents=True, exist_ok=True)
    model, model_forecasts = saved
    path = args.output / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    difference = float(np.max(np.abs(
        reloaded.predict(x_test, verbose=0) - model_forecasts)))
    if difference > 1e-4:
        print(f"error: the reloaded model predicts differently (max abs "
              f"difference {difference:.2e} ppm)", file=sys.stderr)
        return 1

    text = table(runs, baselines, args)
    command = " ".join(["python examples/forecasting.py", *sys.argv[1:]]
                       if argv is None else ["forecasting.main", *argv])
    meta = {
        "command": command,
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "versions": {"keras": keras.__version__,
                     "keras_lstm_variants": klv.__version__,
                     "backend": args.backend,
                     "python": platform.python_version()},
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "data": {"first": f"{months[0]:%Y-%m}", "last": f"{months[-1]:%Y-%m}",
                 "validation_start": VALIDATION_START,
                 "test_start": TEST_START,
                 "test_origins": len(test_origins),
                 "mase_scale_ppm": scale},
    }
    first_forecasts = {  # of the saved model: origin month -> 12 months
        f"{months[t]:%Y-%m}": [round(float(v), 4) for v in row]
        for t, row in zip(test_origins, model_forecasts, strict=True)}
    (args.output / "results.json").write_text(json.dumps(
        {**meta, "runs": runs, "baselines": baselines,
         "forecasts_of_the_saved_model": first_forecasts}, indent=1) + "\n")
    (args.output / "results.md").write_text(
        f"Command: `{command}`; Keras {keras.__version__}, backend "
        f"{args.backend}; {meta['machine']}.\n\n{text}\n")
    name = f"{args.variant} (seed {args.seeds[0]})"
    plot(months, series, test_origins, args.horizon,
         {name: model_forecasts, **forecasts},
         {name: [r["mae_by_horizon"] for r in runs],
          **{k: b["mae_by_horizon"] for k, b in baselines.items()}},
         args.output / "forecast.png")
    print(f"\n{text}\n\nSaved {path}, reloaded: same forecasts (max abs "
          f"difference {difference:.1e} ppm). Wrote results.json, "
          f"results.md and forecast.png to {args.output}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
