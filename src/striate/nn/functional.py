"""The functional interface, with PyTorch's names and signatures.  Each name is an op from
``striate.ops`` (or a thin wrapper over one); see its docstring for the forward and backward."""

from ..ops.activation import (  # noqa: F401
    elu,
    gain,
    leaky_relu,
    log_softmax,
    rectify,
    relu,
    sigmoid,
    smooth_abs,
    softmax,
    softplus,
    tanh,
)
from ..ops.adaptive_pool import adaptive_avg_pool2d, adaptive_max_pool2d  # noqa: F401
from ..ops.batch_norm import batch_norm  # noqa: F401
from ..ops.conv import conv2d, conv_transpose2d  # noqa: F401
from ..ops.dropout import dropout, dropout2d  # noqa: F401
from ..ops.growing_cat import GrowingCat  # noqa: F401
from ..ops.linear import linear  # noqa: F401
from ..ops.local import locally_connected2d  # noqa: F401
from ..ops.local_norm import (  # noqa: F401
    brightness_norm,
    local_contrast_norm,
    local_response_norm,
    subtractive_norm,
)
from ..ops.loss import (  # noqa: F401
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)
from ..ops.pool import avg_pool2d, gaussian_pool2d, lp_pool2d, max_pool2d  # noqa: F401
from ..ops.shape import cat, flatten, pad  # noqa: F401
