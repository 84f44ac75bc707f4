"""Cases for the local family: the locally connected layer (odd sizes, strides that do not
divide, non-square kernels, padding, batch 1, with and without bias) and subtractive
normalisation on its own."""

from ...ops.local import locally_connected2d
from ...ops.local_norm import subtractive_norm
from ..gradcheck import Case


def _lc(n, c, hw, o, k, stride=1, padding=0, bias=True):
    """Inputs for a locally connected layer: x (n, c, *hw), its weight and (optional) bias."""
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    ho, wo = (hw[0] + 2 * ph - kh) // sh + 1, (hw[1] + 2 * pw - kw) // sw + 1
    shapes = [(n, c, *hw), (ho, wo, o, c, kh, kw)] + ([(o, ho, wo)] if bias else [])

    def make(rng):
        return tuple(rng.standard_normal(s) for s in shapes)

    def fn(x, w, b=None):
        return locally_connected2d(x, w, b, stride, padding)

    return fn, make


def _sub(kernel_size, sigma=None):
    return lambda x: subtractive_norm(x, kernel_size, sigma)


def _normal(shape):
    return lambda rng: (rng.standard_normal(shape),)


CASES = [
    Case("locally_connected2d", "3x3 on (2,3,5,5)", *_lc(2, 3, (5, 5), 4, 3)),
    Case("locally_connected2d", "odd 5x7 input, 2x3 kernel", *_lc(2, 2, (5, 7), 3, (2, 3))),
    Case("locally_connected2d", "stride 2 not dividing (7x6, k3)",
         *_lc(2, 2, (7, 6), 3, 3, stride=2)),
    Case("locally_connected2d", "stride (2,3), padding (1,2), k (3,2), batch 1",
         *_lc(1, 3, (6, 5), 2, (3, 2), stride=(2, 3), padding=(1, 2))),
    Case("locally_connected2d", "no bias, 1x1 kernel", *_lc(3, 4, (3, 4), 2, 1, bias=False)),
    Case("locally_connected2d", "kernel = input (one position)", *_lc(2, 2, (3, 4), 5, (3, 4))),
    Case("subtractive_norm", "3x3 (2,3,4,5)", _sub(3), _normal((2, 3, 4, 5))),
    Case("subtractive_norm", "3x5 sigma 1.5 (1,2,5,7) batch 1", _sub((3, 5), 1.5),
         _normal((1, 2, 5, 7))),
    Case("subtractive_norm", "9x9 on a 4x3 image", _sub(9), _normal((2, 4, 4, 3))),
]
