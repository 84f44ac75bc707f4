"""Winograd's minimal filtering F(m×m, r×r): an r×r stride-1 correlation with (m + r − 1)²
multiplications per m×m block of outputs instead of r²m².  Written below for r = 3, the two
3×3 schemes' case; a 5×5 kernel has tiles of m + 4 that overlap by four.

Cut the padded input into (m + 2)×(m + 2) tiles D that overlap by two pixels (tile (i, j) starts
at row m·i, column m·j).  The m×m outputs that tile yields, for a 3×3 kernel K, are

    Y = Aᵀ [ (G K Gᵀ) ⊙ (Bᵀ D B) ] A

with constant matrices Bᵀ, G, Aᵀ (Lavin & Gray, "Fast Algorithms for Convolutional Neural
Networks", 2016).  Summed over input channels c, the element-wise product becomes, for each of the
(m + 2)² tile positions ξ = (a, b), one matrix product over channels:

    M[ξ, o, t] = Σ_c U[ξ, o, c] · V[ξ, c, t],   U = G K Gᵀ (per o, c),  V = Bᵀ D B (per c, tile t)

so a layer is three cheap transforms around (m + 2)² GEMMs.  Every transform is linear, so the
backward pass is made of their adjoints:

* ∂L/∂M[ξ, o, t] = (A ∂L/∂Y_t Aᵀ)[ξ]                     (:func:`gradient_tiles`)
* ∂L/∂U[ξ] = ∂L/∂M[ξ] · V[ξ]ᵀ,  ∂L/∂K = Gᵀ ∂L/∂U G        (:func:`weight_from_tiles`)
* ∂L/∂V[ξ] = U[ξ]ᵀ · ∂L/∂M[ξ],  ∂L/∂X = B ∂L/∂V_t Bᵀ per tile, added into the tile's window
  (:func:`input_tiles_adjoint`); the weight gradient's ∂L/∂M serves both, in one pass over the
  chunks (``conv_winograd.gradients``).  ∂L/∂X is also a 3×3 stride-1 correlation (with the
  kernel rotated), and where the chunks cut images' rows (or on F(2×2, 3×3)) it runs through the
  forward transforms again.

Three schemes are here, each a module with its matrices and compiled transforms: F(2×2, 3×3)
(``winograd_f2.py``: 16 products per 4 outputs, 2.25× fewer multiply-adds than im2col),
F(4×4, 3×3) (``winograd_f4.py``: 36 per 16, 4× fewer, with larger transforms and about twenty
times the float32 rounding error) and F(2×2, 5×5) (``winograd_5x5.py``: 36 per 4 against 100,
2.8× fewer, on F(4×4)'s input transform; its weight transform is the kron(G, G) product, and
both gradients go separately).  The convolution plan (``conv_plan.py``) picks one per layer;
the drivers that run them over chunks of the work are in ``conv_winograd.py``.

Each transform has a readable NumPy reference written with the matrices (``*_reference``) and a
compiled twin (Numba); the tests check that they agree.  The tiles are numbered t = (i, n, j):
tile row, then image, then tile column.  The order is internal (V and M only meet each other), and
this one puts the tiles that one tile row of every image yields side by side, so the compiled
twins transform them in single unit-stride loops of N·wt instead of wt, and write V and M in long
runs rather than short interleaved streams (about twice as fast; docs/convolution-plan.md).  Each
compiled kernel is specialised to its plane geometry (compiled once per geometry,
:func:`_kernel_for`), so the short loops that split and interleave columns unroll.  Without Numba
the convolutions keep to im2col (the NumPy transforms, which walk strided views, are slower).
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import numpy as np

from . import jit, settings, winograd_5x5, winograd_f2, winograd_f4, winograd_weight
from .jit import compiled
from .parallel import map_chunks, pieces_for, split

F2: ModuleType = winograd_f2  # F(2×2, 3×3)
F4: ModuleType = winograd_f4  # F(4×4, 3×3)
F2_5X5: ModuleType = winograd_5x5  # F(2×2, 5×5)
# the least transformed weight a thread gets: ResNet-18's 512-channel layer (17 MB in F(2×2, 3×3))
# transformed in 3.3 ms on one core; a hand-off costs about 0.1 ms
WEIGHT_PARALLEL_MIN_BYTES = 1 << 20


def available() -> bool:
    """True when the compiled transforms can run (Numba installed) and ``striate.backends.conv``
    allows Winograd (``winograd = False`` keeps every convolution on im2col, to compare)."""
    return jit.available() and settings.conv.winograd


def tile_size(scheme: ModuleType) -> int:
    """m + r − 1: the side of an input tile (m outputs per side, an r×r kernel)."""
    return scheme.OUT + scheme.KERNEL - 1


def positions(scheme: ModuleType) -> int:
    """(m + r − 1)², the number of tile positions ξ (and of GEMMs)."""
    return tile_size(scheme) ** 2


@functools.cache
def _g_kron(scheme: ModuleType) -> Any:
    """kron(G, G): [(a, b), (p, q)] = G[a, p]·G[b, q], so G K Gᵀ for every (o, c) is one GEMM."""
    return np.kron(scheme.G, scheme.G)


def transform_weight(weight: Any, scheme: ModuleType = F2) -> Any:
    """U[ξ=(a, b), o, c] = (G K[o, c] Gᵀ)[a, b], shape ((m + r − 1)², O, C); compiled where it
    can be (``winograd_weight.py``, 3×3), else :func:`transform_weight_reference`."""
    if not jit.serves(weight) or scheme.KERNEL != 3:  # the compiled transform is 3×3's
        return transform_weight_reference(weight, scheme)
    o, c = weight.shape[:2]
    u = np.empty((positions(scheme), o, c), dtype=weight.dtype)
    w, g = np.ascontiguousarray(weight).reshape(o * c, 9), _g(scheme, weight.dtype)
    _by_pairs(lambda first, stop: winograd_weight.transform(w, g, u.reshape(-1, o * c), first,
                                                            stop), o * c, u.nbytes)
    return u


def weight_from_tiles(grad_u: Any, scheme: ModuleType = F2) -> Any:
    """∂L/∂K[o, c] = Gᵀ ∂L/∂U[:, o, c] G, shape (O, C, r, r), from ∂L/∂U ((m + r − 1)², O, C);
    compiled where it can be, else :func:`weight_from_tiles_reference`."""
    if not jit.serves(grad_u) or scheme.KERNEL != 3:
        return weight_from_tiles_reference(grad_u, scheme)
    p, o, c = grad_u.shape
    grad_w = np.empty((o, c, 3, 3), dtype=grad_u.dtype)
    grad_u, g = np.ascontiguousarray(grad_u).reshape(p, o * c), _g(scheme, grad_u.dtype)
    _by_pairs(lambda first, stop: winograd_weight.adjoint(grad_u, g, grad_w.reshape(o * c, 9),
                                                          first, stop), o * c, grad_u.nbytes)
    return grad_w


def _by_pairs(run: Any, pairs: int, nbytes: int) -> None:
    """``run(first, stop)`` over the channel pairs [0, pairs), shared out over the worker threads
    where each gets at least ``WEIGHT_PARALLEL_MIN_BYTES`` of transformed weight."""
    pieces = pieces_for(pairs, nbytes, WEIGHT_PARALLEL_MIN_BYTES)
    map_chunks(lambda part: run(part.start, part.stop), split(pairs, pieces), tiny=True)


@functools.cache
def _g(scheme: ModuleType, dtype: Any) -> Any:
    return scheme.G.astype(dtype)


# --- readable references ----------------------------------------------------------------------


def transform_weight_reference(weight: Any, scheme: ModuleType = F2) -> Any:
    """U = G K Gᵀ for every (o, c) as one product with kron(G, G), shape ((m + r − 1)², O, C)."""
    o, c = weight.shape[:2]
    r = scheme.KERNEL
    return (_g_kron(scheme).astype(weight.dtype) @ weight.reshape(o * c, r * r).T).reshape(-1, o,
                                                                                          c)


def weight_from_tiles_reference(grad_u: Any, scheme: ModuleType = F2) -> Any:
    """∂L/∂K = Gᵀ ∂L/∂U G for every (o, c) as one product with kron(G, G)."""
    p, o, c = grad_u.shape
    r = scheme.KERNEL
    return (grad_u.reshape(p, o * c).T @ _g_kron(scheme).astype(grad_u.dtype)).reshape(o, c, r, r)


def _tile_view(buf: Any, size: int, step: int, count: tuple[int, int]) -> Any:
    """The (C, N, ht, wt, size, size) view of a (C, N, H, W) array's size×size tiles, ``step``
    apart."""
    s_c, s_n, s_h, s_w = buf.strides
    return np.lib.stride_tricks.as_strided(
        buf, buf.shape[:2] + count + (size, size), (s_c, s_n, s_h * step, s_w * step, s_h, s_w),
        writeable=False)


def input_tiles_reference(buf: Any, scheme: ModuleType = F2) -> Any:
    """V[ξ, c, t] = (Bᵀ D_t B)[ξ] for the (m + 2)² tiles D_t of a padded (C, N, m·ht + 2,
    m·wt + 2) buffer, t running over (i, n, j) (tile row, image, tile column); shape
    ((m + r − 1)², C, ht·N·wt)."""
    c, n, hb, wb = buf.shape
    m, overlap = scheme.OUT, scheme.KERNEL - 1
    d = _tile_view(buf, m + overlap, m, ((hb - overlap) // m, (wb - overlap) // m))
    b_t = scheme.B_T.astype(buf.dtype)
    return np.einsum("ai,cnhwij,bj->abchnw", b_t, d, b_t, optimize=True).reshape(
        positions(scheme), c, -1)


def input_tiles_adjoint_reference(v: Any, shape: tuple[int, int, int, int], top: int, left: int,
                                  tiles_hw: tuple[int, int], scheme: ModuleType = F2) -> Any:
    """The adjoint in x of :func:`input_tiles` (x of ``shape`` (N, C, H, W), ``tiles_hw`` = (ht,
    wt)): for ∂L/∂V ((m + r − 1)², C, ht·N·wt), each tile's B ∂L/∂V_t Bᵀ added into its (m + 2)²
    window of the padded buffer (neighbouring windows overlap), whose part where x sits (from row
    ``top``, column ``left``) is ∂L/∂X; what falls on the padding is dropped."""
    n, c, h, w = shape
    (ht, wt), m, size = tiles_hw, scheme.OUT, tile_size(scheme)
    b_t = scheme.B_T.astype(v.dtype)
    d = np.einsum("ai,abchnw,bj->cnhwij", b_t, v.reshape(size, size, c, ht, n, wt), b_t)
    buf = np.zeros((c, n, m * (ht - 1) + size, m * (wt - 1) + size), dtype=v.dtype)
    for i in range(size):
        for j in range(size):
            buf[:, :, i:i + m * ht:m, j:j + m * wt:m] += d[..., i, j]
    gx = np.zeros((c, n, h, w), dtype=v.dtype)
    r0, r1 = max(0, -top), min(h, buf.shape[2] - top)  # x's rows and columns inside the buffer
    c0, c1 = max(0, -left), min(w, buf.shape[3] - left)
    if r1 > r0 and c1 > c0:
        gx[:, :, r0:r1, c0:c1] = buf[:, :, top + r0:top + r1, left + c0:left + c1]
    return gx.transpose(1, 0, 2, 3)


def output_tiles_reference(m: Any, n: int, out_hw: tuple[int, int],
                           scheme: ModuleType = F2) -> Any:
    """Y_t = Aᵀ M_t A for each tile, laid out as (O, N, Ho, Wo) (the tiles' overhang cut off)."""
    size, ht, wt = tile_size(scheme), scheme.tiles(out_hw[0]), scheme.tiles(out_hw[1])
    a_t = scheme.A_T.astype(m.dtype)
    m = m.reshape(size, size, -1, ht, n, wt)
    y = np.einsum("ia,abohnw,jb->onhiwj", a_t, m, a_t, optimize=True)
    return y.reshape(-1, n, scheme.OUT * ht, scheme.OUT * wt)[:, :, :out_hw[0], :out_hw[1]]


def gradient_tiles_reference(g: Any, scheme: ModuleType = F2) -> Any:
    """∂L/∂M[ξ, o, t] = (A G_t Aᵀ)[ξ], the adjoint of :func:`output_tiles_reference`, for an
    (O, N, Ho, Wo) output gradient; shape ((m + r − 1)², O, ht·N·wt)."""
    o, n, h, w = g.shape
    m, ht, wt = scheme.OUT, scheme.tiles(h), scheme.tiles(w)
    padded = np.zeros((o, n, m * ht, m * wt), dtype=g.dtype)
    padded[:, :, :h, :w] = g
    gt = _tile_view(padded, m, m, (ht, wt))
    a_t = scheme.A_T.astype(g.dtype)
    return np.einsum("ia,onhwij,jb->abohnw", a_t, gt, a_t, optimize=True).reshape(
        positions(scheme), o, -1)


# --- the compiled transforms, one per scheme and plane geometry ---------------------------------

_kernels: dict[Any, Any] = {}


def _kernel_for(scheme: ModuleType, kind: str, key: Any) -> Any:
    """``scheme``'s compiled ``make_<kind>(key)``, compiled once per key (its compile-time
    constants: a new plane geometry costs one compile per kernel and dtype, a second or so,
    cached on disk).  Why: with the geometry a runtime argument the short copies and interleaves
    no longer unroll, and ResNet-20's training step ran 12–15% slower."""
    name = (scheme.__name__, kind, key)
    if name not in _kernels:
        _kernels[name] = compiled(getattr(scheme, f"make_{kind}")(key))
    return _kernels[name]


def input_tiles(x: Any, top: int, left: int, tiles_hw: tuple[int, int],
                scheme: ModuleType = F2) -> Any:
    """V ((m + r − 1)², C, ht·N·wt) for ``tiles_hw`` = (ht, wt) tiles of NCHW ``x`` padded by
    ``top`` rows and ``left`` columns of zeros (negative: cropped) and with zeros past its end,
    compiled.  The same as :func:`input_tiles_reference` of that padded (C, N, m·ht + r − 1,
    m·wt + r − 1) buffer."""
    n, c = x.shape[:2]
    (ht, wt), w = tiles_hw, x.shape[3]
    v = np.empty((positions(scheme), c, ht * n * wt), dtype=x.dtype)
    _kernel_for(scheme, "input", (wt, left, w))(x, top, ht, v)
    return v


def input_tiles_adjoint(v: Any, x: Any, top: int, left: int, tiles_hw: tuple[int, int],
                        scheme: ModuleType = F4) -> None:
    """Add the adjoint of :func:`input_tiles` applied to ∂L/∂V into the (N, C, H, W) array ``x``
    (any strides), compiled (F(4×4, 3×3) only); the same as :func:`input_tiles_adjoint_reference`
    added in."""
    (ht, wt), w = tiles_hw, x.shape[3]
    _kernel_for(scheme, "input_adjoint", (wt, left, w))(v, top, ht, x)


def output_tiles(m: Any, y: Any, scheme: ModuleType = F2) -> None:
    """Write Aᵀ M_t A into the (O, N, Ho, Wo) array ``y`` (any strides), compiled."""
    _kernel_for(scheme, "output", y.shape[3])(m, y)


def gradient_tiles(g: Any, scheme: ModuleType = F2) -> Any:
    """∂L/∂M ((m + r − 1)², O, ht·N·wt) for an (O, N, Ho, Wo) output gradient, compiled."""
    o, n, h, w = g.shape
    m = np.empty((positions(scheme), o, scheme.tiles(h) * n * scheme.tiles(w)), dtype=g.dtype)
    _kernel_for(scheme, "gradient", w)(g, m)
    return m
