"""Cases for the normalisation family: batch norm (training and eval, with and without affine),
local response normalisation, local contrast normalisation and brightness normalisation."""

import numpy as np

from ...ops.batch_norm import batch_norm
from ...ops.local_norm import brightness_norm, local_contrast_norm, local_response_norm
from ..gradcheck import Case


def _normal(*shapes):
    return lambda rng: tuple(rng.standard_normal(s) for s in shapes)


def _bn_train(affine: bool, tracked: bool = True):
    """Training batch norm; fresh running buffers each call so the updates cannot leak."""

    def fn(x, *params):
        c = x.shape[1]
        stats = (np.zeros(c), np.ones(c)) if tracked else (None, None)
        return batch_norm(x, *stats, *params, training=True, momentum=0.1)

    return fn


def _bn_fused(training: bool, relu: bool):
    """max(batch_norm(x) + r, 0) as one op (``relu`` False: without the rectifier)."""

    def fn(x, w, b, r):
        c = x.shape[1]
        return batch_norm(x, np.linspace(-0.5, 0.5, c), np.linspace(0.5, 2.0, c), w, b,
                          training=training, residual=r, relu=relu)

    return fn


def _bn_relu(x, w, b):
    c = x.shape[1]
    return batch_norm(x, np.zeros(c), np.ones(c), w, b, training=True, relu=True)


def _bn_eval(x, w, b):
    c = x.shape[1]
    mean, var = np.linspace(-0.5, 0.5, c), np.linspace(0.5, 2.0, c)
    return batch_norm(x, mean, var, w, b, training=False)


def _lrn(size, alpha=1.0, beta=0.75, k=1.0):
    return lambda x: local_response_norm(x, size, alpha, beta, k)


def _lcn(kernel_size, sigma=None):
    return lambda x: local_contrast_norm(x, kernel_size, sigma)


def _brightness(size, kappa=1.0, lam=0.5, mu=0.75):
    return lambda x: brightness_norm(x, kappa, lam, mu, size)


CASES = [
    Case("batch_norm", "train (5,3) affine", _bn_train(True), _normal((5, 3), (3,), (3,))),
    Case("batch_norm", "train (4,2,3) affine", _bn_train(True), _normal((4, 2, 3), (2,), (2,))),
    Case("batch_norm", "train (2,3,3,2) affine", _bn_train(True),
         _normal((2, 3, 3, 2), (3,), (3,))),
    Case("batch_norm", "train (1,2,3,3) batch 1", _bn_train(True),
         _normal((1, 2, 3, 3), (2,), (2,))),
    Case("batch_norm", "train (3,4) no affine, untracked", _bn_train(False, tracked=False),
         _normal((3, 4))),
    Case("batch_norm", "train (2,3,2,3) no affine", _bn_train(False), _normal((2, 3, 2, 3))),
    Case("batch_norm", "eval (2,3,2,2)", _bn_eval, _normal((2, 3, 2, 2), (3,), (3,))),
    Case("batch_norm", "eval (4,3)", _bn_eval, _normal((4, 3), (3,), (3,))),
    Case("batch_norm", "train + residual, relu (2,3,3,2)", _bn_fused(True, True),
         _normal((2, 3, 3, 2), (3,), (3,), (2, 3, 3, 2))),
    Case("batch_norm", "train + residual (1,2,3,3)", _bn_fused(True, False),
         _normal((1, 2, 3, 3), (2,), (2,), (1, 2, 3, 3))),
    Case("batch_norm", "train, relu (3,2,2,3)", _bn_relu, _normal((3, 2, 2, 3), (2,), (2,))),
    Case("batch_norm", "eval + residual, relu (2,3,2,2)", _bn_fused(False, True),
         _normal((2, 3, 2, 2), (3,), (3,), (2, 3, 2, 2))),
    Case("local_response_norm", "size 3 (2,5,3,2)", _lrn(3), _normal((2, 5, 3, 2))),
    Case("local_response_norm", "size 2 (even)", _lrn(2), _normal((2, 5, 3, 2))),
    Case("local_response_norm", "size 4 (even), 3-D", _lrn(4, beta=0.5, k=2.0),
         _normal((2, 6, 4))),
    Case("local_response_norm", "size 5 > channels", _lrn(5, alpha=2.0), _normal((1, 3, 2, 3))),
    Case("local_contrast_norm", "3x3 (2,3,4,5)", _lcn(3), _normal((2, 3, 4, 5))),
    Case("local_contrast_norm", "5x5 (1,2,6,5) batch 1", _lcn(5), _normal((1, 2, 6, 5))),
    Case("local_contrast_norm", "3x5 sigma 1.5 (2,2,5,7)", _lcn((3, 5), 1.5),
         _normal((2, 2, 5, 7))),
    Case("local_contrast_norm", "9x9 default, image 4x3", _lcn(9), _normal((2, 4, 4, 3))),
    Case("local_contrast_norm", "1 channel 5x5 (2,1,6,7)", _lcn(5), _normal((2, 1, 6, 7))),
    Case("brightness_norm", "size 5 (2,6,2,3)", _brightness(5), _normal((2, 6, 2, 3))),
    Case("brightness_norm", "all maps (2,4,3,2)", _brightness(None), _normal((2, 4, 3, 2))),
    Case("brightness_norm", "size 2, 3-D", _brightness(2, kappa=2.0, mu=1.5),
         _normal((3, 5, 4))),
]
