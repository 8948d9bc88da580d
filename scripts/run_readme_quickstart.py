"""Runs the README's Quickstart block against the installed package.

`make dist-check` runs it in a new virtual environment that holds only the
built wheel and its dependencies, from a folder outside the repository, so
that a file missing from the distribution fails. The model it saves is
loaded back and must predict what the original predicts.
"""

import os
import pathlib
import re
import sys
import tempfile


def quickstart(readme):
    text = pathlib.Path(readme).read_text()
    section = text.split("## Quickstart", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def main(readme):
    import keras
    import numpy as np

    import keras_lstm_variants

    source = pathlib.Path(keras_lstm_variants.__file__).resolve()
    if "site-packages" not in source.parts:
        sys.exit(f"keras_lstm_variants was imported from {source}, not from "
                 "an installed wheel.")
    code = quickstart(readme)
    start = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            namespace = {"__name__": "__quickstart__"}
            exec(compile(code, "README.md#Quickstart", "exec"), namespace)
            tokens = np.array([[5, 17, 3, 0, 0], [8, 0, 0, 0, 0]])
            restored = keras.saving.load_model("model.keras")
            np.testing.assert_allclose(
                restored.predict(tokens, verbose=0),
                namespace["model"].predict(tokens, verbose=0),
                atol=1e-6,
            )
        finally:
            os.chdir(start)
    print(f"README quickstart: ran and reloaded, with keras_lstm_variants "
          f"{keras_lstm_variants.__version__} from {source.parent}, "
          f"KERAS_BACKEND={keras.backend.backend()}")


if __name__ == "__main__":
    main(sys.argv[1])
