"""Classic LSTM variants as Keras 3 cells and drop-in layers.

Every class here is registered for serialisation under the package name
`keras_lstm_variants`: import the package before `keras.saving.load_model`.
"""

from keras_lstm_variants.coupled_lstm import CoupledLSTM
from keras_lstm_variants.coupled_lstm import CoupledLSTMCell
from keras_lstm_variants.layer_norm_lstm import LayerNormLSTM
from keras_lstm_variants.layer_norm_lstm import LayerNormLSTMCell
from keras_lstm_variants.lstm import LSTM
from keras_lstm_variants.lstm import LSTMCell
from keras_lstm_variants.peephole_lstm import PeepholeLSTM
from keras_lstm_variants.peephole_lstm import PeepholeLSTMCell

__version__ = "0.1.0"

__all__ = [
    "LSTM",
    "LSTMCell",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "CoupledLSTM",
    "CoupledLSTMCell",
    "LayerNormLSTM",
    "LayerNormLSTMCell",
]
