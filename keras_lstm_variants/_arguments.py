"""The plumbing every cell and layer of the package shares: registration
for serialisation, the error classes, validators of arguments (each named
for what it checks and returns), the argument mixins that give a cell or a
layer its signature, read-only properties and flat config, and the checks of
a call's inputs. It knows no variant and no feature; the cell base
(`_cell.py`) and the layer base (`_layer.py`) stand on it.
"""

import inspect
import math
import numbers
import random
import re

import keras
import numpy as np
from keras import activations
from keras import constraints
from keras import initializers
from keras import regularizers

PACKAGE = "keras_lstm_variants"


def serializable(cls):
    """Registers a public class under the package's name for `.keras` files."""
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)


class ArgumentError(ValueError, TypeError):
    """A constructor argument of the wrong type: a `ValueError`, as every
    bad argument here, and a `TypeError`, as 0.1.0 raised for these."""


class VariantDefinitionError(TypeError, ValueError):
    """A variant class that lacks what the base needs (its `gates`, its
    `carry` or `hidden`, ...): raised when it is instantiated, as Python's
    abstract classes do."""


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentError(
            f"Argument `{name}` must be a positive integer. "
            f"Received: {name}={value!r} of type {type(value).__name__}."
        )
    if value <= 0:
        raise ValueError(
            f"Argument `{name}` must be a positive integer. "
            f"Received: {name}={value!r}."
        )
    return int(value)


def check_input_shape(layer, shape, axes=("batch", "features")):
    """A `ValueError` naming `layer` unless `shape` has one entry per name of
    `axes` and a known last one (the features): what `build` checks."""
    if len(shape) != len(axes) or shape[-1] is None:
        raise ValueError(
            f"{type(layer).__name__} expects `inputs` of shape "
            f"({', '.join(axes)}) with a known number of features. "
            f"Received: inputs.shape={tuple(shape)}."
        )


def check_bool(name, value):
    """A flag: `True` or `False` (NumPy's booleans too), never a string or
    a number that `bool()` would quietly turn into one."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"Argument `{name}` must be True or False. "
            f"Received: {name}={value!r} of type {type(value).__name__}."
        )
    return bool(value)


def check_rate(name, value):
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 <= value <= 1.0
    ):
        raise ValueError(
            f"Argument `{name}` must be a float in [0, 1]. "
            f"Received: {name}={value!r}."
        )
    return float(value)


def check_clip(name, value):
    """A clipping bound: None (off) or a positive number."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or math.isnan(value)
        or value <= 0
    ):
        raise ValueError(
            f"Argument `{name}` must be None (no clipping) or a positive "
            f"float. Received: {name}={value!r}."
        )
    return float(value)


def checked_initializer(name, identifier, also=()):
    """`keras.initializers.get(identifier)`, or a ValueError naming `name`
    (and the names in `also` that the caller takes besides Keras's)."""
    try:
        return initializers.get(identifier)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"Argument `{name}` must be a Keras initializer or its name"
            + "".join(f", or {other!r}" for other in also)
            + f". Received: {name}={identifier!r} ({error})."
        ) from None


def check_sequences(layer, sequences, mask):
    """What a layer's `call` checks of its inputs, at trace time: at least
    one step, the features its weights were built for, a mask of shape
    (batch, timesteps)."""
    name = type(layer).__name__
    shape = tuple(sequences.shape)
    if shape[1] == 0:
        raise ValueError(
            f"{name} expects at least one time step. "
            f"Received: inputs.shape={shape}."
        )
    kernel = getattr(layer.cell, "kernel", None)
    if kernel is not None and shape[-1] not in (None, kernel.shape[0]):
        raise ValueError(
            f"{name} was built for inputs of {kernel.shape[0]} features "
            f"(batch, timesteps, {kernel.shape[0]}). "
            f"Received: inputs.shape={shape}."
        )
    masks = mask if isinstance(mask, (list, tuple)) else [mask]
    expected = shape[:2]
    for m in masks:
        if m is None:
            continue
        got = tuple(m.shape)
        if len(got) != 2 or any(
            None not in (want, have) and want != have
            for want, have in zip(expected, got, strict=False)
        ):
            raise ValueError(
                f"{name} expects `mask` of shape (batch, timesteps) = "
                f"{expected}, one boolean per input step. "
                f"Received: mask.shape={got}."
            )


def check_step(cell, inputs, states, sizes, names):
    """What a cell's `call` checks at trace time: `inputs` of shape
    (batch, features) as built, and one state per name, `(batch, size)`."""
    cls = type(cell).__name__
    shape = tuple(inputs.shape)
    kernel = getattr(cell, "kernel", None)
    if len(shape) != 2 or (
        kernel is not None and shape[-1] not in (None, kernel.shape[0])
    ):
        features = "features" if kernel is None else kernel.shape[0]
        raise ValueError(
            f"{cls} expects `inputs` of shape (batch, {features}), one time "
            f"step. Received: inputs.shape={shape}."
        )
    if not isinstance(states, (list, tuple)) or len(states) != len(sizes):
        count = len(states) if isinstance(states, (list, tuple)) else 1
        raise ValueError(
            f"{cls} expects `states` to be a list of {len(sizes)} tensors "
            f"[{', '.join(names)}]. Received: {count} state(s)."
        )
    for name, state, size in zip(names, states, sizes, strict=True):
        got = tuple(state.shape)
        if len(got) != 2 or got[-1] not in (None, size):
            raise ValueError(
                f"{cls} expects `states` [{', '.join(names)}] of shapes "
                + ", ".join(f"(batch, {n})" for n in sizes)
                + f". Received: {name}.shape={got}."
            )
    return list(states)


# What `keras.Layer.get_config` adds to the constructor arguments.
_LAYER_CONFIG_KEYS = ("name", "trainable", "dtype")


def checked_config(cls, config, argument_names):
    """Names what a config to `from_config` lacks, or has that we do not take.

    A key missing from an otherwise valid config takes its default (configs
    saved before an argument existed still load); only `units` is required.
    """
    if not isinstance(config, dict):
        raise TypeError(
            f"{cls.__name__}.from_config expects a dict. "
            f"Received: config of type {type(config).__name__}."
        )
    if "units" not in config:
        raise ValueError(
            f"{cls.__name__}.from_config: the config has no `units`, the one "
            f"required argument. Received: config keys={sorted(config)}."
        )
    unknown = sorted(
        set(config) - set(argument_names) - set(_LAYER_CONFIG_KEYS)
    )
    if unknown:
        raise ValueError(
            f"{cls.__name__}.from_config: unknown config key(s) {unknown}; "
            "was the config written by a newer release, or edited? Received: "
            + ", ".join(f"{key}={config[key]!r}" for key in unknown)
            + "."
        )
    return config


def constructor_arguments(cls, base, hidden=()):
    """Every constructor argument of `cls`, from each of its classes that
    subclasses `base` and defines `__init__` (the first's, then each
    subclass's own), less the `hidden` ones (set by a subclass itself)."""
    names = list(hidden)
    for klass in reversed(cls.__mro__):
        if not issubclass(klass, base) or "__init__" not in vars(klass):
            continue
        for parameter in inspect.signature(klass.__init__).parameters:
            if parameter not in ("self", "kwargs", *names):
                names.append(parameter)
    return names[len(hidden):]


def check_refused(cls, refused, args, kwargs):
    """A ValueError naming the first argument of a call `cls(*args,
    **kwargs)` that `refused` (name: reason) lists: one that `cls` does not
    take, whatever its value, or one that it takes (from a base) only at its
    default."""
    if not refused:
        return
    signature = inspect.signature(cls)
    try:
        bound = signature.bind_partial(*args, **kwargs).arguments
    except TypeError:
        return  # the constructor itself names what is wrong
    values = {**bound, **bound.get("kwargs", {})}
    for name, reason in refused.items():
        parameter = signature.parameters.get(name)
        if name not in values or (
            parameter is not None
            and parameter.kind is not parameter.VAR_KEYWORD
            and _equal(values[name], parameter.default)
        ):
            continue
        takes = "does not take" if parameter is None else (
            f"takes only the default {parameter.default!r} of"
        )
        raise ValueError(
            f"{cls.__name__} {takes} `{name}`: {reason}. "
            f"Received: {name}={values[name]!r}."
        )


def _equal(value, default):
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


def config_value(value):
    """An argument as a config holds it: Keras's serialisation of an
    initializer, regularizer, constraint or activation; else the value."""
    for kind, module in (
        (initializers.Initializer, initializers),
        (regularizers.Regularizer, regularizers),
        (constraints.Constraint, constraints),
    ):
        if isinstance(value, kind):
            return module.serialize(value)
    if callable(value):
        return activations.serialize(value)
    return value


class CellArguments:
    """Mixed into the cell base (first, before `keras.Layer`): the cell's
    `argument_names()`, its signature with every argument (not `**kwargs`),
    a `from_config` that names what a config lacks or has too many, and the
    check of `refused_arguments` (name: why the cell has no use for it),
    made before any constructor runs."""

    refused_arguments = {}

    def __new__(cls, *args, **kwargs):
        check_refused(cls, cls.refused_arguments, args, kwargs)
        return super().__new__(cls, *args, **kwargs)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__signature__ = forwarded_signature(
            [k for k in cls.__mro__ if issubclass(k, CellArguments)]
        )

    @classmethod
    def argument_names(cls):
        """Every constructor argument of the cell, from all its classes."""
        return constructor_arguments(cls, CellArguments)

    @classmethod
    def from_config(cls, config):
        checked_config(cls, config, cls.argument_names())
        return super().from_config(config)


def checked_flags(**flags):
    """keras.layers.RNN's flags (`return_sequences`, ...), each checked to be
    True or False: Keras takes any truthy value."""
    return {name: check_bool(name, value) for name, value in flags.items()}


def snake_case(name):
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def static_dim(shape, axis):
    return None if shape is None or len(shape) == 0 else shape[axis]


def _cell_property(name):
    return property(
        lambda self: getattr(self.cell, name),
        doc=f"The cell's `{name}` (read-only).",
    )


class LayerArguments:
    """Mixed into the layer base over a cell (`cell_class`): the layer's
    `argument_names()` and `from_config`, as `CellArguments`'s, its cell
    built from its arguments, the cell's arguments as read-only properties,
    a signature with every argument, the cell's included, and the check of
    the cell's `refused_arguments`, in the layer's name."""

    # Arguments of a base that a subclass sets itself (from one of its own).
    hidden_arguments = ()

    def __new__(cls, *args, **kwargs):
        if cls.cell_class is not None:
            check_refused(cls, cls.cell_class.refused_arguments, args, kwargs)
        return super().__new__(cls, *args, **kwargs)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.cell_class is None:
            return
        for name in cls.cell_class.argument_names():
            if not hasattr(cls, name):
                setattr(cls, name, _cell_property(name))
        cls.__signature__ = forwarded_signature(
            [k for k in cls.__mro__ + cls.cell_class.__mro__
             if issubclass(k, (LayerArguments, CellArguments))],
            hidden=cls.hidden_arguments,
        )

    def make_cell(self, units, kwargs):
        """`cell_class` built from the arguments in `kwargs` that are the
        cell's (taken out of `kwargs`)."""
        cell_arguments = {
            name: kwargs.pop(name)
            for name in self.cell_class.argument_names()
            if name in kwargs
        }
        return self.cell_class(
            units,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name=snake_case(self.cell_class.__name__),
            **cell_arguments,
        )

    @classmethod
    def argument_names(cls):
        """Every constructor argument of the layer, its cell's included:
        the layer base's own, then its cell's."""
        own = constructor_arguments(
            cls, LayerArguments, cls.hidden_arguments
        )
        return own + [
            name for name in cls.cell_class.argument_names() if name not in own
        ]

    @classmethod
    def from_config(cls, config):
        return cls(**checked_config(cls, config, cls.argument_names()))


def flat_layer_config(layer, config, **own):
    """A layer's config without its nested cell: `config` (the RNN's)
    less `cell`, the cell's arguments, the layer's `own` arguments and its
    activity regularizer, flat, as `keras.layers.LSTM`'s."""
    config = {key: value for key, value in config.items() if key != "cell"}
    cell_config = layer.cell.get_config()
    return {
        **config,
        **{
            key: value
            for key, value in cell_config.items()
            if key not in _LAYER_CONFIG_KEYS
        },
        **own,
        "activity_regularizer": regularizers.serialize(
            layer.activity_regularizer
        ),
    }


def initializer_if(used, identifier):
    """`keras.initializers.get(identifier)` for the initializer of an
    optional weight, which draws nothing from the global seed stream where
    the weight is off (`used` false).

    A Keras initializer created without a seed takes one from Python's
    `random` at once; `keras.layers.LSTMCell` makes no initializer for an
    option it does not have, so an option that is off here must not draw
    either, or every weight created after it (in this layer and the next)
    would differ from `keras.layers.LSTM`'s under the same seed. The
    initializer is still resolved (and so validated and serialised) when
    off.
    """
    if used:
        return initializers.get(identifier)
    state = random.getstate()
    try:
        return initializers.get(identifier)
    finally:
        random.setstate(state)


def forwarded_signature(classes, hidden=()):
    """The call signature of the first of `classes`, with every argument that
    its `**kwargs` forwards to the next one's `__init__`, and so on.

    The constructors here take their bases' arguments through `**kwargs`,
    which `help()`, `inspect.signature` and editors show as just that; set
    as the class's `__signature__`, this lists them all: the first
    `__init__`'s own as it has them, those it forwards as keyword-only, with
    their defaults, then `**kwargs` (`name`, `dtype`, ... of `keras.Layer`).
    """
    parameters, seen = [], {"self", *hidden}
    own = True
    for klass in classes:
        if "__init__" not in vars(klass):
            continue
        forwards = False
        for parameter in inspect.signature(klass.__init__).parameters.values():
            if parameter.kind is parameter.VAR_KEYWORD:
                forwards = True
            elif parameter.name not in seen and (
                parameter.kind is not parameter.VAR_POSITIONAL
            ):
                seen.add(parameter.name)
                parameters.append(
                    parameter if own
                    else parameter.replace(kind=parameter.KEYWORD_ONLY)
                )
        own = False
        if not forwards:
            return inspect.Signature(parameters)
    kwargs = inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)
    return inspect.Signature(parameters + [kwargs])
