"""Property-based tests: random shapes, masks and flags against the reference.

Hypothesis draws the batch, the length (1 included), the feature and unit
sizes, the mask (none, right- or left-padded, random, with rows that are all
masked) and the layer's flags; every cell and layer must match the NumPy
reference of its equations and stay finite. In CI each backend draws five
fixed examples of its own (seeded, so reproducible; the three backends
together run fifteen); `HYPOTHESIS_PROFILE=explore` draws many more, at
random.
"""

import os

import hypothesis
import keras
import numpy as np
import pytest
import reference
from conftest import BACKENDS
from conftest import CORE_VARIANTS
from conftest import assert_close
from conftest import to_numpy
from hypothesis import given
from hypothesis import strategies as st

# The equations without the shared options (conftest.CORE_VARIANTS).
TESTED_VARIANTS = CORE_VARIANTS

hypothesis.settings.register_profile(
    "ci", max_examples=5, deadline=None, database=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
hypothesis.settings.register_profile(
    "explore", max_examples=300, deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
hypothesis.settings.load_profile(PROFILE)


def examples_of_this_backend(test):
    """In CI, each backend's session draws its own fixed examples (seeded by
    the backend): a pairwise design, where the three sessions together run
    three times the examples one of them runs, each reproducible."""
    if PROFILE != "ci":
        return test
    return hypothesis.seed(BACKENDS.index(keras.backend.backend()))(test)


@st.composite
def masks(draw, batch, time):
    kind = draw(st.sampled_from(["none", "right", "left", "random"]))
    if kind == "none":
        return None
    if kind == "random":
        mask = np.array(
            draw(
                st.lists(
                    st.booleans(), min_size=batch * time, max_size=batch * time
                )
            )
        ).reshape(batch, time)
    else:
        # Lengths from 0: a row of length 0 is all masked.
        lengths = np.array(
            draw(st.lists(st.integers(0, time), min_size=batch, max_size=batch))
        )
        steps = np.arange(time)[None, :]
        if kind == "right":
            mask = steps < lengths[:, None]
        else:
            mask = steps >= time - lengths[:, None]
    if draw(st.booleans()):
        mask[draw(st.integers(0, batch - 1))] = False  # an all-masked row
    return mask


@st.composite
def layer_cases(draw):
    batch, time = draw(st.integers(1, 4)), draw(st.integers(1, 8))
    return {
        "batch": batch,
        "time": time,
        "dim": draw(st.integers(1, 5)),
        "units": draw(st.integers(1, 6)),
        "mask": draw(masks(batch, time)),
        "go_backwards": draw(st.booleans()),
        "return_state": draw(st.booleans()),
        "return_sequences": draw(st.booleans()),
        "zero_output_for_mask": draw(st.booleans()),
        "use_bias": draw(st.booleans()),
        "unroll": draw(st.booleans()),
        "initial_state": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


@examples_of_this_backend
@given(case=layer_cases())
def test_layer_matches_reference(variant, case):
    rng = np.random.default_rng(case["seed"])
    batch, time, dim, units = (
        case[k] for k in ("batch", "time", "dim", "units")
    )
    layer, weights = variant.built_layer(
        rng, dim, units,
        use_bias=case["use_bias"],
        unroll=case["unroll"],
        go_backwards=case["go_backwards"],
        return_state=case["return_state"],
        return_sequences=case["return_sequences"],
        zero_output_for_mask=case["zero_output_for_mask"],
    )
    x = rng.normal(size=(batch, time, dim))
    h0 = c0 = None
    kwargs = {"mask": case["mask"]}
    if case["initial_state"]:
        h0, c0 = rng.normal(size=(2, batch, units))
        kwargs["initial_state"] = [h0.astype("float32"), c0.astype("float32")]

    result = layer(x.astype("float32"), **kwargs)

    ref_out, ref_h, ref_c = reference.run(
        variant.step, weights, x, h0, c0, mask=case["mask"],
        go_backwards=case["go_backwards"],
        zero_output_for_mask=case["zero_output_for_mask"],
    )
    expected = [ref_out if case["return_sequences"] else ref_out[:, -1]]
    if case["return_state"]:
        expected += [ref_h, ref_c]
    else:
        result = [result]
    assert len(result) == len(expected)
    for actual, wanted in zip(result, expected, strict=True):
        assert np.all(np.isfinite(to_numpy(actual)))
        assert_close(actual, wanted)


@examples_of_this_backend
@given(
    batch=st.integers(1, 5),
    dim=st.integers(1, 6),
    units=st.integers(1, 7),
    scale=st.sampled_from([0.1, 1.0, 10.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_cell_step_matches_reference(variant, batch, dim, units, scale, seed):
    rng = np.random.default_rng(seed)
    cell = variant.cell(units, **variant.kwargs)
    cell.build((None, dim))
    weights = variant.random_weights(rng, dim, units)
    variant.set_weights(cell, weights)
    x = scale * rng.normal(size=(batch, dim))
    h, c = rng.normal(size=(2, batch, units))

    out, (h1, c1) = cell(
        x.astype("float32"), [h.astype("float32"), c.astype("float32")]
    )

    h_ref, c_ref = variant.step(x, h, c, weights)
    for actual, wanted in ((out, h_ref), (h1, h_ref), (c1, c_ref)):
        assert np.all(np.isfinite(to_numpy(actual)))
        # x of scale 10 gives pre-activations of ~10: float32 carries ~1e-6
        # of them.
        assert_close(actual, wanted, tol=1e-5 * max(1.0, scale))


@pytest.mark.parametrize("return_sequences", [True, False])
def test_steps_masked_before_the_first_output_zeros_on_every_backend(
    variant, rng, return_sequences
):
    """Cases a few random draws may miss: an initial state, then masked steps.

    keras.layers.RNN's loops disagree here (JAX's outputs the initial h);
    ours output zeros everywhere, as the reference does.
    """
    layer, weights = variant.built_layer(
        rng, 2, 3, return_sequences=return_sequences, return_state=True
    )
    x = rng.normal(size=(3, 4, 2))
    h0, c0 = rng.normal(size=(2, 3, 3))
    # All steps, left padding, holes.
    mask = np.array([[0, 0, 0, 0], [0, 0, 1, 1], [0, 1, 0, 1]], bool)

    outputs, h, c = layer(
        x.astype("float32"), mask=mask,
        initial_state=[h0.astype("float32"), c0.astype("float32")],
    )

    ref_out, ref_h, ref_c = reference.run(
        variant.step, weights, x, h0, c0, mask=mask
    )
    assert_close(outputs, ref_out if return_sequences else ref_out[:, -1])
    assert_close(h, ref_h)
    assert_close(c, ref_c)
    assert_close(h[0], h0[0])  # nothing processed: the state is the initial one
