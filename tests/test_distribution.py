"""Data-parallel training gives the weights single-device training gives.

tests/scale_out.py trains every layer (alone on one engine, inside
Bidirectional on the other) on one device and on two simulated CPU
devices, in a fresh process: the device count must be fixed before the
framework starts.
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import pytest

SCRIPT = pathlib.Path(__file__).with_name("scale_out.py")
BACKEND = keras.backend.backend()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        BACKEND == "torch",
        reason="Keras has no data-parallel engine for torch: keras.distribution "
        "runs on JAX only, tf.distribute on TensorFlow only",
    ),
]


def test_data_parallel_training_matches_single_device():
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run(
        [sys.executable, str(SCRIPT), BACKEND],
        capture_output=True, text=True, env=environment, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.strip().splitlines()[-1])

    assert results["replicas"] == 2
    assert results["devices_per_variable"] == 2  # really replicated
    assert len(results["models"]) == 4  # each layer, alone or Bidirectional
    for model, result in results["models"].items():
        assert result["moved"] > 1e-2, model  # training did change the weights
        assert result["max_difference"] < 5e-4, (model, result)  # float reassociation
