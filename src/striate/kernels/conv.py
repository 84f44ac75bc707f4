"""Cross-correlation, the one primitive behind conv2d and conv_transpose2d, and its adjoints.

For an input X (N, C, H, W), a weight K (O, C/G, kh, kw) in G groups, stride s, dilation d and
zero padding (top, bottom, left, right), the correlation is

    Y[n, o, i, j] = Σ_{c, p, q} K[o, c, p, q] · Xpad[n, g·C/G + c, i·s + p·d, j·s + q·d]

(g the group of o).  Everything else is this correlation with its arguments moved around:

* the adjoint in X (conv2d's input gradient, and conv_transpose2d's forward) is the *full*
  correlation of the output gradient, spread apart by the stride and padded by d·(k − 1) − pad,
  with the kernel rotated by 180° and its two channel axes swapped (seed 003, Eqs. 9.9 and
  Figs. 9.6–9.7, "full convolution with F^180" and the stride up-sampling; seed 004, "regular
  convolution running on shifted derivative maps using flipped filter"); where the stride or a
  widening layer would fill that computation with zeros, the fast path evaluates the same operator
  as a GEMM followed by col2im, the adjoint of im2col (see :func:`correlate_transpose`);
* the adjoint in K (the weight gradient) correlates the padded input with the output gradient
  (seed 003, Eq. 9.8 and Fig. 9.5).

Memory layout.  Internally the channel axis leads and the batch follows: a padded input is held as
(C, N, Hp, Wp) and im2col gives a (C·kh·kw, N·Ho·Wo) matrix whose rows are contiguous runs of one
image row.  One GEMM  K (O, C·kh·kw) @ cols  then yields (O, N, Ho, Wo) (done per cache-sized
piece of the work), returned to the caller as an NCHW *view* (no copy); groups are a leading batch
axis of that GEMM, so they need no loop.
Measured on the 2-core development machine (float32, batch 128; im2col copy only):
LeNet conv1 (1→6, 5×5 on 28×28): this layout 0.6 ms, NHWC (N·Ho·Wo, kh·kw·C) 2–3 ms,
NCHW-strided 4 ms; ResNet-20 stage 1 (16→16, 3×3 on 32×32): this layout 11 ms, NHWC 10–14 ms,
NCHW-strided ~75 ms.  The GEMMs are thin (16 output channels) and BLAS-bound either way.

3×3 stride-1 layers of moderate width (all three of ResNet-20's stages) instead take Winograd's
F(2×2, 3×3) (``kernels/winograd.py``): 2.25 times fewer multiply-adds, in the same pieces and
threads (see :func:`_winograd_fits` for where it measured faster).  Stride-1 layers with at most 16
channels (LeNet's) take direct compiled loops instead (``kernels/direct.py``, :func:`_direct_fits`);
:func:`_method` chooses among the three.

Each fast routine has a reference twin that loops over the kh·kw kernel offsets (one small
tensordot per offset and group) instead of building the im2col matrix; the tests check that the two
agree.
"""

from __future__ import annotations

import functools
import os
from typing import Any, NamedTuple

import numpy as np

from ..backend import array_module
from . import direct, jit, pointwise, winograd
from .parallel import map_chunks, num_workers

Pads = tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right)); may be negative
Pair = tuple[int, int]
Chunk = tuple[slice, slice]  # (images, output rows)
Pieces = tuple[Chunk, ...]


def spread(x: Any, stride: Pair, pads: Pads) -> Any:
    """Copy NCHW ``x`` into a zero (C, N, Hb, Wb) buffer, its rows and columns ``stride`` apart,
    with ``pads`` zeros around (a negative pad crops).  Stride 1 is plain zero padding; a larger
    stride is the "up-sampling" of an output gradient by s − 1 zeros between neighbours."""
    xp = array_module(x)
    n, c, h, w = x.shape
    (top, _), (left, _) = pads
    sh, sw = stride
    hb, wb = spread_size((h, w), stride, pads)
    if stride == (1, 1) and pads == ((0, 0), (0, 0)):
        return xp.ascontiguousarray(x.transpose(1, 0, 2, 3))
    buf = xp.zeros((c, n, hb, wb), dtype=x.dtype)
    rows, dst_rows = _kept(h, sh, top, hb)
    cols, dst_cols = _kept(w, sw, left, wb)
    if rows.stop > rows.start and cols.stop > cols.start:  # else everything was cropped
        buf[:, :, dst_rows, dst_cols] = x[:, :, rows, cols].transpose(1, 0, 2, 3)
    return buf


def spread_size(size: Pair, stride: Pair, pads: Pads) -> Pair:
    """(Hb, Wb) of :func:`spread`'s buffer for an input plane of ``size``."""
    return tuple(before + (n - 1) * s + 1 + after
                 for n, s, (before, after) in zip(size, stride, pads, strict=True))


def _kept(size: int, step: int, offset: int, length: int) -> tuple[slice, slice]:
    """The source indices i with 0 <= offset + i·step < length, and the slice they land in."""
    first = -(offset // step) if offset < 0 else 0  # ⌈−offset / step⌉
    count = max(min(size, (length - 1 - offset) // step + 1) - first, 0)
    start = offset + first * step
    return slice(first, first + count), slice(start, start + (count - 1) * step + 1, step)


def output_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    """⌊(size + pads − d·(k − 1) − 1) / s⌋ + 1, the number of window positions along one axis."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def im2col(buf: Any, kernel: Pair, stride: Pair, dilation: Pair, out_hw: Pair) -> Any:
    """The (C·kh·kw, N·Ho·Wo) matrix of windows of a (C, N, Hb, Wb) buffer, row (c, p, q) holding
    buf[c, n, i·s + p·d, j·s + q·d] for every (n, i, j).  One strided view, one copy."""
    xp = array_module(buf)
    c, n = buf.shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    s_c, s_n, s_h, s_w = buf.strides
    windows = xp.lib.stride_tricks.as_strided(
        buf, (c, kh, kw, n, ho, wo), (s_c, s_h * dh, s_w * dw, s_n, s_h * sh, s_w * sw))
    return windows.reshape(c * kh * kw, n * ho * wo)


class _Epilogue(NamedTuple):
    """What each piece Y[:, images, rows] of a correlation's output gets while it is still in
    cache: Y·scale + shift per channel (None for 1 and 0: a bias is a shift), plus the same
    piece of ``residual`` (an (O, N, Ho, Wo) array), then the rectifier when ``relu``.  Done over
    the whole output afterwards, each was one more pass through memory."""

    scale: Any
    shift: Any
    relu: bool
    residual: Any

    def __call__(self, piece: Any, images: slice = slice(None), rows: slice = slice(None)) -> None:
        add = None if self.residual is None else self.residual[:, images, rows]
        pointwise.affine_relu_(piece, self.scale, self.shift, self.relu, add)


def _finisher(scale: Any, shift: Any, relu: bool, residual: Any = None) -> _Epilogue | None:
    """The :class:`_Epilogue` of these, or None when there is nothing to do."""
    if scale is None and shift is None and not relu and residual is None:
        return None
    return _Epilogue(scale, shift, relu, residual)


def _correlate_fast(x: Any, weight: Any, spacing: Pair, pads: Pads, stride: Pair,
                    dilation: Pair, groups: int, out_hw: Pair, finish: Any = None,
                    keep: list | None = None) -> Any:
    """(O, N, Ho, Wo) correlation of NCHW ``x`` spread by ``spacing`` and ``pads``: per
    cache-sized piece of the work (:func:`_chunks`), im2col, then one GEMM (batched over
    groups); or Winograd or the direct loops, where :func:`_method` picks them.  ``finish``
    (see :func:`_finisher`) is applied to each piece of the output as soon as it is written.
    Where the im2col matrix (Winograd: the input tiles V) is one piece of at most
    ``CHUNK_BYTES``, it is appended to ``keep`` (if given), for the weight gradient to reuse
    (:func:`correlate_weight`); a GPU's one piece is the whole batch, too large to keep."""
    method = _method(x, weight.shape, spacing, stride, dilation, groups, out_hw[1])
    if method == "winograd":
        return _correlate_winograd(x, weight, pads, out_hw, finish, keep)
    if method == "direct":
        return _correlate_direct(x, weight, pads, out_hw, finish)
    xp = array_module(x)
    o, cg, kh, kw = weight.shape
    n, k = x.shape[0], cg * kh * kw
    w = weight.reshape(groups, o // groups, k)
    y = xp.empty((o, n, *out_hw), dtype=x.dtype)
    parts = _chunks(x, n, out_hw[0], groups * k * out_hw[1])
    columns = _chunk_columns(x, parts, spacing, pads, (kh, kw), stride, dilation, out_hw[1])

    def chunk(part: Chunk) -> None:
        images, rows = part
        cols = columns(part)
        if keep is not None and len(parts) == 1 and cols.nbytes <= CHUNK_BYTES:
            keep.append(cols)
        y[:, images, rows] = (w @ cols.reshape(groups, k, -1)).reshape(
            o, -1, rows.stop - rows.start, out_hw[1])
        if finish is not None:
            finish(y[:, images, rows], images, rows)

    map_chunks(chunk, parts, _tiny(x, n * out_hw[0] * groups * k * out_hw[1]))
    return y


def _chunk_columns(x: Any, parts: Pieces, spacing: Pair, pads: Pads, kernel: Pair,
                   stride: Pair, dilation: Pair, out_width: int):
    """A function giving the im2col matrix of one chunk of x spread by ``spacing`` and ``pads``.

    A chunk of whole images spreads its own images (so that copy runs on every core and im2col
    reads it from cache); chunks of a few output rows share one spread of the whole batch."""
    whole_images = all(rows.start == 0 for _, rows in parts)
    whole = None if whole_images else spread(x, spacing, pads)
    (kh, _), (sh, _), (dh, _) = kernel, stride, dilation

    def columns(part: Chunk) -> Any:
        images, rows = part
        buf = spread(x[images], spacing, pads) if whole is None else whole[:, images]
        buf = buf[:, :, rows.start * sh:(rows.stop - 1) * sh + dh * (kh - 1) + 1]
        return im2col(buf, kernel, stride, dilation, (rows.stop - rows.start, out_width))

    return columns


def _method(x: Any, weight_shape: tuple[int, ...], spacing: Pair, stride: Pair, dilation: Pair,
            groups: int, out_width: int) -> str:
    """Which fast path computes a correlation: "winograd", "direct" or "im2col", by where each
    measured fastest.  Where both compiled paths fit, the direct loops win for inputs of at most
    ``DIRECT_BEFORE_WINOGRAD`` channels (Winograd's GEMMs over so few channels are too thin):
    ResNet's 3→16 stem, batch 128, forward / input gradient / weight gradient 2.1 / 2.8 / 2.4 ms
    direct, 4.3 / 3.6 / 4.4 Winograd, 3.7 / 5.4 / 5.2 im2col; but 16→16 on 32×32 (batch 8)
    0.59 / 0.62 / 0.77 direct, 0.56 / 0.55 / 0.55 Winograd."""
    direct_fits = _direct_fits(x, weight_shape, spacing, stride, dilation, groups)
    if direct_fits and weight_shape[1] <= DIRECT_BEFORE_WINOGRAD:
        return "direct"
    if _winograd_fits(x, weight_shape, spacing, stride, dilation, groups, out_width):
        return "winograd"
    return "direct" if direct_fits else "im2col"


WINOGRAD_MIN_WIDTH = 4  # narrower output planes make tile rows too short to pay for the transforms
WINOGRAD_MIN_PIXELS = 256  # N·H·W; less work than this runs faster on im2col (batch 1 on 8×8)
WINOGRAD_MAX_CHANNELS = 128  # in + out; wider layers' im2col GEMMs are efficient enough already


def _winograd_fits(x: Any, weight_shape: tuple[int, ...], spacing: Pair, stride: Pair,
                   dilation: Pair, groups: int, out_width: int) -> bool:
    """True for a 3×3 correlation with unit stride, dilation and spacing in one group, on the
    CPU with the compiled transforms at hand (the case Winograd's F(2×2, 3×3) computes), where
    it measured faster than im2col.  Float32, 2 cores, forward + input gradient + weight
    gradient in ms, im2col → Winograd (the transforms reading the input unpadded, and the
    pieces shared out as in ``parallel.map_chunks``): batch 128, 64→64 on 8×8, 19.3, 19.4,
    18.7 → 15.6, 16.9, 16.3; 32→32 on 8×8, 7.8 → 6.0–7.2; 64→64 on 4×4, 7.0 → 5.5–6.1; batch 8,
    64→64 on 8×8, 1.6 → 1.5; but batch 1 on 8×8, 0.40 → 0.50 (too little work: the
    ``WINOGRAD_MIN_PIXELS`` bound), and 128→128 on 16×16 (batch 32, an earlier version),
    forward 18.6 → 23.3 ms."""
    o, c, kh, kw = weight_shape
    n, _, h, w = x.shape
    return ((kh, kw) == (3, 3) and spacing == stride == dilation == (1, 1) and groups == 1
            and out_width >= WINOGRAD_MIN_WIDTH and n * h * w >= WINOGRAD_MIN_PIXELS
            and o + c <= WINOGRAD_MAX_CHANNELS and winograd.available() and jit.serves(x))


WINOGRAD_F4_MIN_CHANNELS = 16  # in and out; narrower layers keep F(2×2, 3×3)


def _winograd_scheme(channels: int, out_channels: int) -> Any:
    """F(4×4, 3×3) where its cheaper GEMMs outweigh its larger transforms, else F(2×2, 3×3);
    ``STRIATE_WINOGRAD=2`` keeps every layer on F(2×2, 3×3).  Float32, batch 128, forward pass on
    2 cores (``benchmarks/winograd_parts.py``), F(2×2) → F(4×4): 32→32 on 16×16, 2.75–2.86 →
    2.11–2.74 ms; 64→64 on 8×8, 2.84 → 1.62–1.70 ms; 16→16 on 32×32 per image on one core,
    0.059 → 0.047 ms (its weight gradient about even).  All of ResNet-20 on F(4×4) against its
    16-channel stage on F(2×2), in one process, alternating: training 344 → 322 and 280 → 257 ms
    a step, inference 120 → 106 and 83 → 76 ms a batch (batch 1: no difference)."""
    if (min(channels, out_channels) >= WINOGRAD_F4_MIN_CHANNELS
            and os.environ.get("STRIATE_WINOGRAD", "1") != "2"):
        return winograd.F4
    return winograd.F2


def _winograd_chunks(x: Any, channels: int, out_hw: Pair, scheme: Any) -> tuple[Pieces, bool]:
    """Pieces (images, output rows in whole tiles) for the Winograd kernels, sized by their V and
    M tiles ((m + 2)² values per m×m tile per channel), and whether the work is tiny
    (map_chunks)."""
    values_per_row = winograd.positions(scheme) * channels * scheme.tiles(out_hw[1]) // scheme.OUT
    parts = _chunks(x, x.shape[0], out_hw[0], values_per_row, step=scheme.OUT)
    return parts, _tiny(x, x.shape[0] * out_hw[0] * values_per_row)


def _chunk_tiles(x: Any, pads: Pads, out_hw: Pair, scheme: Any):
    """A function giving V, the Winograd input tiles of one piece of the work (the analogue of
    :func:`_chunk_columns`), read straight from x: the compiled transform pads as it copies."""
    (top, _), (left, _) = pads
    wt = scheme.tiles(out_hw[1])

    def tiles(part: Chunk) -> Any:
        images, rows = part  # the piece's tile rows start at padded row rows.start
        ht = scheme.tiles(rows.stop - rows.start)
        return winograd.input_tiles(x[images], top - rows.start, left, (ht, wt), scheme)

    return tiles


def _correlate_winograd(x: Any, weight: Any, pads: Pads, out_hw: Pair, finish: Any = None,
                        keep: list | None = None) -> Any:
    """(O, N, Ho, Wo) correlation of NCHW ``x`` with a 3×3 kernel, stride 1: per piece of the
    work, V = input tiles, M = U V (one GEMM per tile position), Y = output tiles of M; V
    appended to ``keep`` where it is the one piece (see :func:`_correlate_fast`)."""
    xp = array_module(x)
    scheme = _winograd_scheme(x.shape[1], weight.shape[0])
    u = winograd.transform_weight(weight, scheme)
    y = xp.empty((weight.shape[0], x.shape[0], *out_hw), dtype=x.dtype)
    parts, tiny = _winograd_chunks(x, x.shape[1] + weight.shape[0], out_hw, scheme)
    tiles = _chunk_tiles(x, pads, out_hw, scheme)

    def chunk(part: Chunk) -> None:
        images, rows = part
        v = tiles(part)
        if keep is not None and len(parts) == 1 and v.nbytes <= CHUNK_BYTES:
            keep.append(v)
        winograd.output_tiles(u @ v, y[:, images, rows], scheme)
        if finish is not None:
            finish(y[:, images, rows], images, rows)

    map_chunks(chunk, parts, tiny)
    return y


def _correlate_weight_winograd(x: Any, g: Any, pads: Pads, kept: Any = None) -> Any:
    """∂L/∂K for a 3×3 stride-1 correlation: Σ over pieces of ∂L/∂M · Vᵀ (one GEMM per tile
    position, summing over tiles), taken back through the weight transform; ``kept``: the
    forward's V, where it was the one piece."""
    out_hw = g.shape[2:]
    scheme = _winograd_scheme(x.shape[1], g.shape[1])
    parts, tiny = _winograd_chunks(x, x.shape[1] + g.shape[1], out_hw, scheme)
    tiles = _chunk_tiles(x, pads, out_hw, scheme)

    def chunk(part: Chunk) -> Any:
        images, rows = part
        grad_m = winograd.gradient_tiles(g[images, :, rows].transpose(1, 0, 2, 3), scheme)
        v = kept if kept is not None and len(parts) == 1 and kept.shape[0] == len(grad_m) \
            else tiles(part)
        return grad_m @ v.transpose(0, 2, 1)

    return winograd.weight_from_tiles(sum(map_chunks(chunk, parts, tiny)), scheme)


def correlate_gradients(x: Any, g: Any, weight: Any, stride: Pair, pads: Pads, dilation: Pair,
                        groups: int, columns: Any = None) -> tuple[Any, Any] | None:
    """(∂L/∂X, ∂L/∂K) of Y = X ⋆ K together, in one pass over the pieces of the work, where the
    forward ran on Winograd's F(4×4, 3×3) in pieces of whole images; None elsewhere (the caller
    then asks :func:`correlate_transpose` and :func:`correlate_weight` for each).

    Per piece, the backward of the forward's own arithmetic: ∂L/∂M = A G Aᵀ per output tile
    (once, for both gradients), ∂L/∂U = Σ ∂L/∂M · Vᵀ over the pieces (then ∂L/∂K = Gᵀ ∂L/∂U G),
    ∂L/∂V = Uᵀ · ∂L/∂M, and ∂L/∂X = each tile's B ∂L/∂V Bᵀ added into its window of x
    (``winograd.input_tiles_adjoint``).  Separately, the input gradient was the full correlation
    of G through Winograd again: an input transform of G and an output transform more per piece,
    and a second parallel region.  Pieces that cut an image's rows would add into each other's
    border rows, so they keep the separate path.  ``columns``: as for :func:`correlate_weight`."""
    o, c, _, _ = weight.shape
    out_hw = g.shape[2:]
    if not (_winograd_fits(x, weight.shape, (1, 1), stride, dilation, groups, out_hw[1])
            and _winograd_scheme(c, o) is winograd.F4):
        return None
    scheme = winograd.F4
    parts, tiny = _winograd_chunks(x, c + o, out_hw, scheme)
    if any(rows.start != 0 or rows.stop != out_hw[0] for _, rows in parts):
        return None
    (top, _), (left, _) = pads
    tiles_hw = (scheme.tiles(out_hw[0]), scheme.tiles(out_hw[1]))
    u_t = winograd.transform_weight(weight, scheme).transpose(0, 2, 1)
    tiles = _chunk_tiles(x, pads, out_hw, scheme)
    gx = np.zeros((c, *x.shape[:1], *x.shape[2:]), dtype=x.dtype).transpose(1, 0, 2, 3)

    def chunk(part: Chunk) -> Any:
        images, _ = part
        grad_m = winograd.gradient_tiles(g[images].transpose(1, 0, 2, 3), scheme)
        winograd.input_tiles_adjoint(u_t @ grad_m, gx[images], top, left, tiles_hw, scheme)
        v = columns if columns is not None and len(parts) == 1 \
            and columns.shape == (grad_m.shape[0], c, grad_m.shape[2]) else tiles(part)
        return grad_m @ v.transpose(0, 2, 1)

    grad_u = sum(map_chunks(chunk, parts, tiny))
    return gx, winograd.weight_from_tiles(grad_u, scheme)


COL2IM_MAX_PIXELS = 128  # N·Ho·Wo of an output gradient up to which its adjoint takes col2im
DIRECT_MAX_CHANNELS = 16  # in and out; more make the im2col GEMM efficient enough
DIRECT_BEFORE_WINOGRAD = 4  # input channels up to which the direct loops beat Winograd


def _direct_fits(x: Any, weight_shape: tuple[int, ...], spacing: Pair, stride: Pair,
                 dilation: Pair, groups: int) -> bool:
    """True for a stride-1 correlation in one group with at most ``DIRECT_MAX_CHANNELS`` input
    and output channels and a kernel larger than 1×1, on the CPU with the compiled kernels at
    hand: where the direct loops (``kernels/direct.py``) measured faster than im2col.  Float32,
    batch 128, 2 cores, forward / input gradient / weight gradient in ms, im2col → direct:
    LeNet's 1→6, 5×5 on 28×28, 1.36 / - / 3.01 → 0.89 / - / 1.11; 6→16, 5×5 on 14×14,
    1.19 / 2.47 / 1.62 → 1.06 / 2.54 / 1.52 (so its input gradient, a widening layer's, stays
    on GEMM + col2im: see :func:`correlate_transpose`);
    16→16, 5×5 on 14×14, 5.3 / 5.3 / 7.4 → 3.4 / 3.4 / 5.5; but 32→16, 3×3 on 8×8,
    1.8 / 1.3 / 2.5 → 2.7 / 1.9 / 2.4."""
    o, c, kh, kw = weight_shape
    return (spacing == stride == dilation == (1, 1) and groups == 1 and kh * kw > 1
            and max(o, c) <= DIRECT_MAX_CHANNELS and direct.available() and jit.serves(x))


def _direct_chunks(x: Any, weight_shape: tuple[int, ...], pads: Pads,
                   out_height: int) -> Pieces:
    """Pieces of whole images for the direct kernels, as many as im2col would make (so about
    as much work each)."""
    _, c, kh, kw = weight_shape
    padded_width = spread_size(x.shape[2:], (1, 1), pads)[1]
    return _chunks(x, x.shape[0], out_height, c * kh * kw * padded_width, split_rows=False)


def _correlate_direct(x: Any, weight: Any, pads: Pads, out_hw: Pair,
                      finish: _Epilogue | None = None) -> Any:
    """(O, N, Ho, Wo) correlation of NCHW ``x`` padded by ``pads``, by the direct loops, each
    piece of images padding its own images.  The kernel applies the epilogue's scale, shift and
    rectifier as it writes each output row (only a residual takes a pass of its own): LeNet's
    conv1, float32, batch 128, one thread, its bias added in a second pass took 0.29 ms a piece
    of 21 images, 0.06 of it the pass."""
    xp = array_module(x)
    o = weight.shape[0]
    y = xp.empty((o, x.shape[0], *out_hw), dtype=x.dtype)
    forward = direct.forward_kernel(weight.shape[3])
    weight = xp.ascontiguousarray(weight)
    in_kernel = finish if finish is not None and finish.residual is None else None
    scale = xp.ones(o, x.dtype) if in_kernel is None or in_kernel.scale is None \
        else in_kernel.scale
    shift = xp.zeros(o, x.dtype) if in_kernel is None or in_kernel.shift is None \
        else in_kernel.shift
    relu = in_kernel is not None and in_kernel.relu

    def chunk(part: Chunk) -> None:
        images, _ = part
        buf = spread(x[images], (1, 1), pads)
        forward(buf.reshape(*buf.shape[:2], -1), weight, buf.shape[3], scale, shift, relu,
                y[:, images])
        if finish is not None and in_kernel is None:
            finish(y[:, images], images)

    # tiny=True: no BLAS inside, so no thread setting to switch
    map_chunks(chunk, _direct_chunks(x, weight.shape, pads, out_hw[0]), tiny=True)
    return y


def _correlate_weight_direct(x: Any, g: Any, kernel: Pair, pads: Pads) -> Any:
    """∂L/∂K (O, C, kh, kw) by the direct loops: each piece of images adds its share."""
    xp = array_module(x)
    shape = (g.shape[1], x.shape[1], *kernel)
    g_onhw = g.transpose(1, 0, 2, 3)
    zero = x.dtype.type(0)

    def chunk(part: Chunk) -> Any:
        images, _ = part
        buf = spread(x[images], (1, 1), pads)
        grad_w = xp.zeros(shape, dtype=x.dtype)
        direct.weight_kernel(buf.reshape(*buf.shape[:2], -1), g_onhw[:, images], buf.shape[3],
                             zero, grad_w)
        return grad_w

    return sum(map_chunks(chunk, _direct_chunks(x, shape, pads, g.shape[2]), tiny=True))


CHUNK_BYTES = 2 << 20  # im2col bytes per chunk on the CPU; see _chunks
PARALLEL_MIN_BYTES = 1 << 19  # the least im2col a piece needs to be worth a thread; see _chunks
TINY_BYTES = 1 << 17  # im2col below this is too little work to switch BLAS's threads for


def _tiny(a: Any, values: int) -> bool:
    """True for an im2col matrix of ``values`` under ``TINY_BYTES`` (see map_chunks)."""
    return values * a.itemsize < TINY_BYTES


def _chunks(a: Any, n: int, rows: int, values_per_row: int, split_rows: bool = True,
            step: int = 1) -> Pieces:
    """(images, output rows) pieces of a kernel's work whose im2col matrix stays near
    ``CHUNK_BYTES``, and at least one per worker thread where each still gets
    ``PARALLEL_MIN_BYTES`` (one piece on a GPU).  Whole images are grouped while they fit; a
    larger image, or a batch smaller than the number of workers, is cut into blocks of output
    rows, a multiple of ``step`` (unless ``split_rows`` is False, for kernels whose pieces would
    write overlapping rows).  Groups of images come in a multiple of the worker count and differ
    in size by one image at most, so no thread is left with a piece more (F(4×4, 3×3) on 64
    channels made five pieces of 26 images: three for one thread, two for the other; six of 21–22
    took its forward from 1.85–2.04 to 1.62–1.70 ms).

    Why: the im2col copy and the GEMM that reads it run faster while the matrix is still in the
    CPU's cache.  Measured on ResNet-20's 16→16 3×3 layer (0.6 MB of im2col per image), batch 128,
    one BLAS thread: forward / input gradient / weight gradient 38 / 41 / 32 ms for the whole batch
    at once, 18 / 18 / 25 ms in 2 MB chunks; chunks of 0.25–2 MB all did about as well, and
    LeNet-sized layers (36 images a chunk) did not change measurably.

    The pieces depend on sizes alone, so each answer is kept (:func:`_pieces`): a layer asks the
    same question on every call, and at batch 1 the arithmetic cost more than the piece's GEMM.
    """
    if array_module(a).__name__ != "numpy":
        return ((slice(0, n), slice(0, rows)),)
    return _pieces(n, rows, values_per_row * a.itemsize, split_rows, step, num_workers())


@functools.lru_cache(maxsize=4096)
def _pieces(n: int, rows: int, row_bytes: int, split_rows: bool, step: int,
            workers: int) -> Pieces:
    """:func:`_chunks` on the CPU, for rows of ``row_bytes`` bytes and ``workers`` threads."""
    row_bytes = max(1, row_bytes)
    pieces = max(1, min(workers, n * rows * row_bytes // PARALLEL_MIN_BYTES))
    block = rows
    if split_rows:
        if row_bytes * rows > CHUNK_BYTES:
            block = max(1, CHUNK_BYTES // row_bytes)
        if n < pieces:
            block = min(block, -(-rows * n // pieces))
        if block < rows:
            block = min(rows, max(step, block - block % step))
    if n == 0:  # an empty batch: no work
        return ()
    if block < rows:
        return tuple((slice(i, i + 1), slice(r, min(r + block, rows)))
                     for i in range(n) for r in range(0, rows, block))
    images = max(1, min(CHUNK_BYTES // (row_bytes * rows), -(-n // pieces)))
    count = -(-n // images)
    count = min(n, -(-count // pieces) * pieces)  # a multiple of the workers, where n allows
    bounds = [i * n // count for i in range(count + 1)]  # groups of ⌊n/count⌋ or ⌈n/count⌉
    return tuple((slice(bounds[i], bounds[i + 1]), slice(0, rows)) for i in range(count))


def _correlate_reference(buf: Any, weight: Any, stride: Pair, dilation: Pair, groups: int,
                         out_hw: Pair) -> Any:
    """The same sum written as a loop over groups and kernel offsets (p, q): for each, the strided
    slice of the buffer that offset (p, q) sees, contracted with K[:, :, p, q] over channels."""
    xp = array_module(buf)
    o, cg, kh, kw = weight.shape
    og = o // groups
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_hw
    y = xp.zeros((o, buf.shape[1], ho, wo), dtype=buf.dtype)
    for g in range(groups):
        chans = buf[g * cg:(g + 1) * cg]
        for p in range(kh):
            for q in range(kw):
                patch = chans[:, :, p * dh:p * dh + (ho - 1) * sh + 1:sh,
                              q * dw:q * dw + (wo - 1) * sw + 1:sw]
                y[g * og:(g + 1) * og] += xp.tensordot(weight[g * og:(g + 1) * og, :, p, q],
                                                       patch, axes=1)
    return y


def correlate(x: Any, weight: Any, stride: Pair, pads: Pads, dilation: Pair, groups: int,
              out_hw: Pair | None = None, reference: bool = False, bias: Any = None,
              scale: Any = None, relu: bool = False, residual: Any = None,
              keep: list | None = None) -> Any:
    """Y = X ⋆ K (the conv2d forward) as an NCHW view of (O, N, Ho, Wo) memory, times ``scale``
    and plus ``bias`` per output channel, plus ``residual`` (NCHW, Y's shape), then max(Y, 0)
    when ``relu`` (each applied to a piece of Y as soon as it is computed).

    ``out_hw`` may ask for fewer window positions than fit (the adjoint of a transposed
    convolution whose output padding exceeded the stride).  ``keep``: see
    :func:`_correlate_fast`."""
    kh, kw = weight.shape[2:]
    if out_hw is None:
        hb, wb = spread_size(x.shape[2:], (1, 1), pads)
        out_hw = (output_size(hb, kh, stride[0], 0, dilation[0]),
                  output_size(wb, kw, stride[1], 0, dilation[1]))
    return _correlate(x, weight, (1, 1), pads, stride, dilation, groups, tuple(out_hw),
                      reference, _finisher(scale, bias, relu, None if residual is None
                                           else residual.transpose(1, 0, 2, 3)), keep)


def _correlate(x: Any, weight: Any, spacing: Pair, pads: Pads, stride: Pair, dilation: Pair,
               groups: int, out_hw: Pair, reference: bool, finish: Any = None,
               keep: list | None = None) -> Any:
    """The correlation of x spread by ``spacing`` and ``pads``, as an NCHW view, each piece
    given ``finish`` (:func:`_finisher`)."""
    if reference:
        y = _correlate_reference(spread(x, spacing, pads), weight, stride, dilation, groups,
                                 out_hw)
        if finish is not None:
            finish(y)
    else:
        y = _correlate_fast(x, weight, spacing, pads, stride, dilation, groups, out_hw, finish,
                            keep)
    return y.transpose(1, 0, 2, 3)


def col2im(cols: Any, buf: Any, kernel: Pair, stride: Pair, dilation: Pair,
           out_hw: Pair) -> Any:
    """The adjoint of :func:`im2col`: each row (c, p, q) of a (C·kh·kw, N·Ho·Wo) matrix added back
    at the window positions it was read from, into the (C, N, Hb, Wb) ``buf`` (in place).  One
    strided slice-add per kernel offset (no scatter with repeated indices); compiled where it can
    be (``direct.col2im_kernel``)."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    c, n = buf.shape[:2]
    cols = cols.reshape(c, kh, kw, n, ho, wo)
    if direct.available() and jit.serves(cols, buf):  # the same, compiled
        direct.col2im_kernel(cols, buf, stride, dilation)
        return buf
    for p in range(kh):
        for q in range(kw):
            buf[:, :, p * dh:p * dh + (ho - 1) * sh + 1:sh,
                q * dw:q * dw + (wo - 1) * sw + 1:sw] += cols[:, p, q]
    return buf


def _transpose_by_col2im(g: Any, weight: Any, stride: Pair, pads: Pads, dilation: Pair,
                         groups: int, out_hw: Pair) -> Any:
    """The same adjoint as GEMM then col2im: cols = Kᵀ G, then every column added back where its
    window came from, and the padding cut off."""
    xp = array_module(g)
    o, cg, kh, kw = weight.shape
    n, _, ho, wo = g.shape
    (sh, sw), (dh, dw), ((top, _), (left, _)) = stride, dilation, pads
    w_t = weight.reshape(groups, o // groups, cg * kh * kw).transpose(0, 2, 1)
    buf = xp.zeros((groups * cg, n, max(top + out_hw[0], (ho - 1) * sh + dh * (kh - 1) + 1),
                    max(left + out_hw[1], (wo - 1) * sw + dw * (kw - 1) + 1)), dtype=g.dtype)

    def chunk(part: Chunk) -> None:
        images, _ = part
        cols = w_t @ g[images].transpose(1, 0, 2, 3).reshape(groups, o // groups, -1)
        col2im(cols, buf[:, images], (kh, kw), stride, dilation, (ho, wo))

    values = groups * cg * kh * kw * wo
    map_chunks(chunk, _chunks(buf, n, ho, values, split_rows=False), _tiny(g, n * ho * values))
    return buf[:, :, top:top + out_hw[0], left:left + out_hw[1]].transpose(1, 0, 2, 3)


def _transpose_direct(g: Any, weight: Any, pads: Pads, out_hw: Pair) -> Any:
    """The same adjoint for a stride-1 layer with few channels by the direct loops' adjoint
    (``direct.transpose_kernel``), each piece of images adding into its own padded planes: no
    column matrix, where col2im wrote and re-read C·kh·kw values per input pixel.  LeNet's conv2
    (6→16, 5×5), float32, batch 128, 2 cores, alternating in one process: 1.35 → 1.17 ms."""
    xp = array_module(g)
    _, c, kh, kw = weight.shape
    n, _, ho, wo = g.shape
    (top, _), (left, _) = pads
    buf = xp.zeros((c, n, max(top + out_hw[0], ho + kh - 1), max(left + out_hw[1], wo + kw - 1)),
                   dtype=g.dtype)
    transpose = direct.transpose_kernel(kw)
    weight, g_onhw = xp.ascontiguousarray(weight[:, :, :, ::-1]), g.transpose(1, 0, 2, 3)

    def chunk(part: Chunk) -> None:
        images, _ = part
        planes = buf[:, images]
        transpose(g_onhw[:, images], weight, buf.shape[3], planes.reshape(*planes.shape[:2], -1))

    # tiny=True: no BLAS inside, so no thread setting to switch
    map_chunks(chunk, _chunks(buf, n, ho, c * kh * kw * buf.shape[3], split_rows=False), tiny=True)
    return buf[:, :, top:top + out_hw[0], left:left + out_hw[1]].transpose(1, 0, 2, 3)


def correlate_transpose(g: Any, weight: Any, stride: Pair, pads: Pads, dilation: Pair,
                        groups: int, out_hw: Pair, reference: bool = False) -> Any:
    """Z = the adjoint of X ↦ X ⋆ K applied to G, an NCHW array of spatial size ``out_hw``.

    As the seeds derive it, Z is the full correlation (stride 1, dilation d) of G spread apart by
    the stride and padded by d·(k − 1) − top before and out − (Ho − 1)·s − 1 + top after
    (negative pads crop), with the kernel rotated by 180° and its channel axes swapped within each
    group: K'[g·C/G + c, o', p, q] = K[g·O/G + o', c, kh − 1 − p, kw − 1 − q].  The reference and
    the fast path compute it that way whenever the spread gradient is no bigger than the input
    (O·s_h·s_w <= C, e.g. every stride-1 layer that does not widen).  Otherwise the zeros of the
    spread gradient would dominate: (1 − 1/s²) of the work multiplies zeros, and a layer that
    widens (O > C) makes an im2col matrix O/C times larger than needed.  There the fast path
    computes the same operator as GEMM then col2im, which touches no zeros, or, for a stride-1
    layer with few channels, the direct loops' adjoint (:func:`_transpose_direct`).  Measured
    (float32, batch 128, 2 cores): 16→32 channels 3×3 stride 2 on 32×32, 234 ms full correlation
    vs 56 ms col2im; 16→16 stride 1, 125 vs 135 ms; LeNet 1→6 5×5, 61 vs 19 ms.  GEMM + col2im
    also takes gradients of at most ``COL2IM_MAX_PIXELS`` positions that the direct loops do
    not: there the full correlation's padded copy and im2col cost more than the columns it
    saves (64→64 on 8×8: batch 1, 179 → 129 µs; batch 2, 273 → 233; but batch 4, 255 → 434).
    """
    o, cg, kh, kw = weight.shape
    if not reference:
        direct_fits = _direct_fits(g, weight.shape, (1, 1), stride, dilation, groups)
        if o * stride[0] * stride[1] > cg * groups:
            if direct_fits:
                return _transpose_direct(g, weight, pads, out_hw)
            return _transpose_by_col2im(g, weight, stride, pads, dilation, groups, out_hw)
        if g.shape[0] * g.shape[2] * g.shape[3] <= COL2IM_MAX_PIXELS and not direct_fits:
            return _transpose_by_col2im(g, weight, stride, pads, dilation, groups, out_hw)
    (sh, sw), (dh, dw), ((top, _), (left, _)) = stride, dilation, pads
    ho, wo = g.shape[2:]
    full = ((dh * (kh - 1) - top, out_hw[0] - (ho - 1) * sh - 1 + top),
            (dw * (kw - 1) - left, out_hw[1] - (wo - 1) * sw - 1 + left))
    rotated = weight.reshape(groups, o // groups, cg, kh, kw).transpose(0, 2, 1, 3, 4)
    rotated = rotated.reshape(groups * cg, o // groups, kh, kw)[:, :, ::-1, ::-1]
    return _correlate(g, rotated, stride, full, (1, 1), dilation, groups, tuple(out_hw),
                      reference)


def correlate_weight(x: Any, g: Any, kernel: Pair, stride: Pair, pads: Pads, dilation: Pair,
                     groups: int, reference: bool = False, columns: Any = None) -> Any:
    """∂L/∂K for Y = X ⋆ K and G = ∂L/∂Y:  ∂L/∂K[o, c, p, q] = Σ_{n,i,j} G[n, o, i, j] ·
    Xpad[n, g·C/G + c, i·s + p·d, j·s + q·d], shape (O, C/G, kh, kw).  ``columns``: x's im2col
    matrix (or Winograd input tiles) as the forward kept it (``correlate(..., keep=)``), used
    where the work is that one piece instead of copying the windows again (batch 1: ResNet-20's
    64→64 layer on 8×8 planes copied 0.15 MB, 40–60 µs, for a product of 60)."""
    xp = array_module(x)
    o, (ho, wo), (kh, kw) = g.shape[1], g.shape[2:], kernel
    og, cg = o // groups, x.shape[1] // groups
    if x.shape[0] == 0:  # an empty batch: nothing to sum (and no pieces to sum over)
        return xp.zeros((o, cg, kh, kw), dtype=g.dtype)
    if reference:
        buf = spread(x, (1, 1), pads)
        g_onhw = g.transpose(1, 0, 2, 3)
        gw = xp.zeros((o, cg, kh, kw), dtype=g.dtype)
        (sh, sw), (dh, dw) = stride, dilation
        for grp in range(groups):
            chans, gg = buf[grp * cg:(grp + 1) * cg], g_onhw[grp * og:(grp + 1) * og]
            for p in range(kh):
                for q in range(kw):
                    patch = chans[:, :, p * dh:p * dh + (ho - 1) * sh + 1:sh,
                                  q * dw:q * dw + (wo - 1) * sw + 1:sw]
                    gw[grp * og:(grp + 1) * og, :, p, q] = xp.tensordot(
                        gg, patch, axes=([1, 2, 3], [1, 2, 3]))
        return gw
    method = _method(x, (o, cg, *kernel), (1, 1), stride, dilation, groups, wo)
    if method == "winograd":
        return _correlate_weight_winograd(x, g, pads, columns)
    if method == "direct":
        return _correlate_weight_direct(x, g, kernel, pads)
    k = cg * kh * kw

    parts = _chunks(x, x.shape[0], ho, groups * k * wo)
    windows = _chunk_columns(x, parts, (1, 1), pads, kernel, stride, dilation, wo)

    def chunk(part: Chunk) -> Any:  # this chunk's share of the sum over n, i, j
        images, rows = part
        g_part = g[images, :, rows].transpose(1, 0, 2, 3).reshape(groups, og, -1)
        cols = columns if columns is not None and len(parts) == 1 \
            and columns.shape == (groups * k, g_part.shape[2]) else windows(part)
        return g_part @ cols.reshape(groups, k, -1).transpose(0, 2, 1)

    tiny = _tiny(x, x.shape[0] * ho * groups * k * wo)
    return sum(map_chunks(chunk, parts, tiny)).reshape(o, cg, kh, kw)
