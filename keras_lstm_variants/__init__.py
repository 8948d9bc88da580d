"""The LSTM family as Keras 3 cells and drop-in layers: the classic
variants, Greff et al.'s search space, the minimal RNNs and xLSTM.

Every class here is registered for serialisation under the package name
`keras_lstm_variants`: import the package before `keras.saving.load_model`.
`MLSTM` is xLSTM's matrix-memory mLSTM, parallel over time.
`LSTMCellBase` and `LSTMLayerBase` are the public bases of a new LSTM
variant, `RNNCellBase` and `RNNLayerBase` those of a new family;
`search_space` builds Greff et al.'s variants by name, `gru_variants`
Dey & Salem's GRU gate variants; the GRU family (`GRU`, `LayerNormGRU`,
`MGU`, `GRU1`-`GRU3`) stands on the same bases; `litert` converts
a model to LiteRT's fused LSTM op (float or int8) for devices and runs
it there; `migrate` brings models from TensorFlow Addons, `tf.compat.v1`
and PyTorch. `SLSTM` is xLSTM's sLSTM, equal to the official `xlstm`
package's recurrence.
"""

# First: a Keras backend that is not installed is named, with what to do.
from keras_lstm_variants import _backend_check  # noqa: F401
from keras_lstm_variants import gru_variants
from keras_lstm_variants import litert
from keras_lstm_variants import migrate
from keras_lstm_variants import search_space
from keras_lstm_variants._arguments import VariantDefinitionError
from keras_lstm_variants._cell import RNNCellBase
from keras_lstm_variants._gru import GRUCellBase
from keras_lstm_variants._gru_layer import GRULayerBase
from keras_lstm_variants._layer import RNNLayerBase
from keras_lstm_variants._lstm import LSTMCellBase
from keras_lstm_variants._lstm_layer import LSTMLayerBase
from keras_lstm_variants._standard_form import StandardLSTMForm
from keras_lstm_variants.coupled_lstm import CoupledLSTM
from keras_lstm_variants.coupled_lstm import CoupledLSTMCell
from keras_lstm_variants.gru import GRU
from keras_lstm_variants.gru import GRUCell
from keras_lstm_variants.gru_variants import GRU1
from keras_lstm_variants.gru_variants import GRU2
from keras_lstm_variants.gru_variants import GRU3
from keras_lstm_variants.gru_variants import GRU1Cell
from keras_lstm_variants.gru_variants import GRU2Cell
from keras_lstm_variants.gru_variants import GRU3Cell
from keras_lstm_variants.layer_norm_gru import LayerNormGRU
from keras_lstm_variants.layer_norm_gru import LayerNormGRUCell
from keras_lstm_variants.layer_norm_lstm import LayerNormLSTM
from keras_lstm_variants.layer_norm_lstm import LayerNormLSTMCell
from keras_lstm_variants.lstm import LSTM
from keras_lstm_variants.lstm import LSTMCell
from keras_lstm_variants.mgu import MGU
from keras_lstm_variants.mgu import MGUCell
from keras_lstm_variants.min_gru import MinGRU
from keras_lstm_variants.min_gru import MinGRUCell
from keras_lstm_variants.min_lstm import MinLSTM
from keras_lstm_variants.min_lstm import MinLSTMCell
from keras_lstm_variants.mlstm import MLSTM
from keras_lstm_variants.mlstm import MLSTMCell
from keras_lstm_variants.mlstm_block import MLSTMBlock
from keras_lstm_variants.peephole_lstm import PeepholeLSTM
from keras_lstm_variants.peephole_lstm import PeepholeLSTMCell
from keras_lstm_variants.search_space import FullGateRecurrenceLSTM
from keras_lstm_variants.search_space import FullGateRecurrenceLSTMCell
from keras_lstm_variants.search_space import NoForgetGateLSTM
from keras_lstm_variants.search_space import NoForgetGateLSTMCell
from keras_lstm_variants.search_space import NoInputActivationLSTM
from keras_lstm_variants.search_space import NoInputActivationLSTMCell
from keras_lstm_variants.search_space import NoInputGateLSTM
from keras_lstm_variants.search_space import NoInputGateLSTMCell
from keras_lstm_variants.search_space import NoOutputActivationLSTM
from keras_lstm_variants.search_space import NoOutputActivationLSTMCell
from keras_lstm_variants.search_space import NoOutputGateLSTM
from keras_lstm_variants.search_space import NoOutputGateLSTMCell
from keras_lstm_variants.slstm import SLSTM
from keras_lstm_variants.slstm import SLSTMCell
from keras_lstm_variants.slstm_block import SLSTMBlock
from keras_lstm_variants.xlstm_stack import XLSTMBlockStack

__version__ = "0.2.0"

__all__ = [
    "LSTM",
    "LSTMCell",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "CoupledLSTM",
    "CoupledLSTMCell",
    "LayerNormLSTM",
    "LayerNormLSTMCell",
    "NoInputGateLSTM",
    "NoInputGateLSTMCell",
    "NoForgetGateLSTM",
    "NoForgetGateLSTMCell",
    "NoOutputGateLSTM",
    "NoOutputGateLSTMCell",
    "NoInputActivationLSTM",
    "NoInputActivationLSTMCell",
    "NoOutputActivationLSTM",
    "NoOutputActivationLSTMCell",
    "FullGateRecurrenceLSTM",
    "FullGateRecurrenceLSTMCell",
    "MinLSTM",
    "MinLSTMCell",
    "MinGRU",
    "MinGRUCell",
    "SLSTM",
    "SLSTMCell",
    "MLSTM",
    "MLSTMCell",
    "MLSTMBlock",
    "SLSTMBlock",
    "XLSTMBlockStack",
    "GRU",
    "GRUCell",
    "LayerNormGRU",
    "LayerNormGRUCell",
    "MGU",
    "MGUCell",
    "GRU1",
    "GRU1Cell",
    "GRU2",
    "GRU2Cell",
    "GRU3",
    "GRU3Cell",
    "search_space",
    "gru_variants",
    "litert",
    "migrate",
    "LSTMCellBase",
    "LSTMLayerBase",
    "RNNCellBase",
    "RNNLayerBase",
    "GRUCellBase",
    "GRULayerBase",
    "VariantDefinitionError",
    "StandardLSTMForm",
]
