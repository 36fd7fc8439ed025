from tessera.nn.layers.activations import (  # noqa: F401
    CELU, ELU, GELU, GLU, SELU, HardShrink, Hardswish, HardTanh, LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU,
    ReLU, ReLU6, Sigmoid, SiLU, Softmax, Softmin, Softplus, SoftShrink, Softsign, Step, Tanh, celu, elu, gelu,
    gelu_approx, gelu_fast_approx, glu, hard_shrink, hard_tanh, hardswish, leaky_relu, log_sigmoid, log_softmax,
    mish, prelu, relu, relu6, selu, sigmoid, silu, soft_shrink, softmax, softmin, softplus, softsign, step, tanh,
)
from tessera.nn.layers.base import Module  # noqa: F401
from tessera.nn.layers.containers import Sequential  # noqa: F401
from tessera.nn.layers.convolution import (  # noqa: F401
    Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d,
)
from tessera.nn.layers.dropout import Dropout, Dropout2d, Dropout3d  # noqa: F401
from tessera.nn.layers.embedding import Embedding  # noqa: F401
from tessera.nn.layers.linear import Bilinear, Identity, Linear  # noqa: F401
from tessera.nn.layers.normalization import BatchNorm, GroupNorm, InstanceNorm, LayerNorm, RMSNorm  # noqa: F401
from tessera.nn.layers.pooling import AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d, MaxPool3d  # noqa: F401
from tessera.nn.layers.positional_encoding import ALiBi, RoPE, SinusoidalPositionalEncoding  # noqa: F401
from tessera.nn.layers.quantized import QuantizedEmbedding, QuantizedLinear, quantize  # noqa: F401
from tessera.nn.layers.recurrent import GRU, LSTM, RNN  # noqa: F401
from tessera.nn.layers.transformer import (  # noqa: F401
    MultiHeadAttention, Transformer, TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
    TransformerEncoderLayer,
)
from tessera.nn.layers.upsample import Upsample, upsample_cubic, upsample_linear, upsample_nearest  # noqa: F401
