"""``fg.nn``: layers, activations and losses on NCHW arrays (composites of lax primitives).

Layouts are PyTorch's (channel-first, the seeds' layout) with 1, 2 or 3 spatial axes:
``conv(x, w)`` takes ``x`` as ``(N, C, *spatial)`` and ``w`` as ``(C_out, C_in / groups,
*kernel)``; ``dense(x, w)`` takes ``w`` as ``(in, out)``.

>>> import funcgrad as fg, numpy as np
>>> x, w = np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3))
>>> fg.grad(lambda w: fg.nn.relu(fg.nn.conv(x, w)).sum())(w).shape
(2, 1, 3, 3)
"""

from funcgrad.nn import initializers as initializers
from funcgrad.nn.activations import celu as celu
from funcgrad.nn.activations import dot_product_attention as dot_product_attention
from funcgrad.nn.activations import elu as elu
from funcgrad.nn.activations import gelu as gelu
from funcgrad.nn.activations import glu as glu
from funcgrad.nn.activations import hard_sigmoid as hard_sigmoid
from funcgrad.nn.activations import hard_silu as hard_silu
from funcgrad.nn.activations import hard_swish as hard_swish
from funcgrad.nn.activations import hard_tanh as hard_tanh
from funcgrad.nn.activations import leaky_relu as leaky_relu
from funcgrad.nn.activations import log_sigmoid as log_sigmoid
from funcgrad.nn.activations import log_softmax as log_softmax
from funcgrad.nn.activations import logsumexp as logsumexp
from funcgrad.nn.activations import mish as mish
from funcgrad.nn.activations import one_hot as one_hot
from funcgrad.nn.activations import relu as relu
from funcgrad.nn.activations import relu6 as relu6
from funcgrad.nn.activations import selu as selu
from funcgrad.nn.activations import sigmoid as sigmoid
from funcgrad.nn.activations import silu as silu
from funcgrad.nn.activations import softmax as softmax
from funcgrad.nn.activations import softplus as softplus
from funcgrad.nn.activations import sparse_plus as sparse_plus
from funcgrad.nn.activations import standardize as standardize
from funcgrad.nn.activations import swish as swish
from funcgrad.nn.activations import tanh as tanh
from funcgrad.nn.layers import adaptive_avg_pool as adaptive_avg_pool
from funcgrad.nn.layers import avg_pool as avg_pool
from funcgrad.nn.layers import batch_norm as batch_norm
from funcgrad.nn.layers import conv as conv
from funcgrad.nn.layers import conv_transpose as conv_transpose
from funcgrad.nn.layers import dense as dense
from funcgrad.nn.layers import dropout as dropout
from funcgrad.nn.layers import flatten as flatten
from funcgrad.nn.layers import global_avg_pool as global_avg_pool
from funcgrad.nn.layers import layer_norm as layer_norm
from funcgrad.nn.layers import max_pool as max_pool
from funcgrad.nn.losses import binary_cross_entropy_with_logits as binary_cross_entropy_with_logits
from funcgrad.nn.losses import cross_entropy as cross_entropy
from funcgrad.nn.losses import huber_loss as huber_loss
from funcgrad.nn.losses import l1_loss as l1_loss
from funcgrad.nn.losses import mse as mse
