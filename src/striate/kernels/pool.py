"""Sliding-window primitives for 2-D pooling: window geometry, window sums, window maxima with
their argmax, and the scatters that carry a gradient back from windows to input pixels.

Every window of a pooling layer with kernel (kh, kw), stride s, padding p and dilation d reads the
padded input x̃ at rows ``oh·s_h + i·d_h`` and columns ``ow·s_w + j·d_w`` for kernel offsets
(i, j).  So for one offset (i, j) the pixels that all windows read form a strided slice of x̃ of
the output's shape.  The fast versions below loop over the kh·kw offsets (never over batch,
channels or pixels) and touch whole slices; the ``*_reference`` versions build the
(N, C, OH, OW, kh, kw) window view with ``as_strided`` and say the same in a line or two, for
reading and for the tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..backend import array_module
from . import jit
from .jit import compiled, inlined
from .layout import leading_pair_order
from .parallel import map_chunks, pieces_for, split

PARALLEL_MIN_BYTES = 1 << 20  # the least input a thread gets in the compiled max pool


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1,
                ceil_mode: bool = False) -> int:
    """PyTorch's rule: ⌊(n + 2p − d·(k−1) − 1 + [ceil]·(s−1)) / s⌋ + 1, less one when ceil mode
    would start the last window inside the right padding (windows must start in the input or in
    the left padding)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


@dataclass(frozen=True)
class Windows:
    """Where the windows of one pooling call lie, for an input plane of ``size`` (H, W)."""

    size: tuple[int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out: tuple[int, int]

    @property
    def padded(self) -> tuple[int, int]:
        """Rows and columns of the padded plane: p, the input, then as much as the last window
        reaches (up to p, or more in ceil mode, whose last window may stick out further)."""
        return tuple(max(n + p, (o - 1) * s + d * (k - 1) + 1)
                     for n, k, s, p, d, o in zip(self.size, self.kernel, self.stride, self.padding,
                                                 self.dilation, self.out, strict=True))

    @property
    def tiles(self) -> bool:
        """True when windows sit side by side (stride = kernel, no dilation): each padded pixel
        belongs to at most one window and the first OH·kh × OW·kw pixels to exactly one."""
        return self.stride == self.kernel and self.dilation == (1, 1)

    def offsets(self) -> Iterator[tuple[int, int, int, tuple[slice, slice]]]:
        """(k = i·kw + j, i, j, slices of the padded plane read at kernel offset (i, j))."""
        (kh, kw), (sh, sw), (dh, dw), (oh, ow) = self.kernel, self.stride, self.dilation, self.out
        for i in range(kh):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            for j in range(kw):
                yield i * kw + j, i, j, (rows, slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))

    def pad(self, x, value: float):
        """x (N, C, H, W) inside a (N, C, *padded) array filled with ``value`` (x itself when no
        padding is needed)."""
        (ph, pw), (hp, wp), (h, w) = self.padding, self.padded, self.size
        if (ph, pw) == (0, 0) and (hp, wp) == (h, w):
            return x
        xp = array_module(x)
        out = xp.full(x.shape[:2] + (hp, wp), value, dtype=x.dtype)
        out[:, :, ph:ph + h, pw:pw + w] = x
        return out

    def crop(self, gpad):
        """The input's part of a gradient on the padded plane (contiguous)."""
        (ph, pw), (h, w) = self.padding, self.size
        if gpad.shape[2:] == (h, w):
            return gpad
        return array_module(gpad).ascontiguousarray(gpad[:, :, ph:ph + h, pw:pw + w])

    def layout(self, x, value: float):
        """x̃ (x padded with ``value``) and, per kernel offset, (k, i, j, index of its slice)."""
        return self.pad(x, value), self.layout_offsets()

    def layout_offsets(self) -> list[tuple[int, int, int, tuple]]:
        return [(k, i, j, (Ellipsis,) + sl) for k, i, j, sl in self.offsets()]

    def gradient_buffer(self, batch: tuple[int, int], dtype, xp):
        """A gradient on the padded plane: zeros, or uninitialised when tiled windows cover it
        (every pixel then being written exactly once)."""
        (kh, kw), (oh, ow), padded = self.kernel, self.out, self.padded
        covered = self.tiles and padded == (oh * kh, ow * kw)
        return (xp.empty if covered else xp.zeros)(batch + padded, dtype=dtype)

    def input_gradient(self, buffer):
        """The input's part of a gradient on the padded plane."""
        return self.crop(buffer)


# --- readable references -------------------------------------------------------------------------


def window_view(xpad, win: Windows):
    """All windows at once, as a read-only (N, C, OH, OW, kh, kw) view of the padded input."""
    xp = array_module(xpad)
    n, c, _, _ = xpad.shape
    sn, sc, sh, sw = xpad.strides
    (kh, kw), (oh, ow), (th, tw), (dh, dw) = win.kernel, win.out, win.stride, win.dilation
    return xp.lib.stride_tricks.as_strided(
        xpad, (n, c, oh, ow, kh, kw), (sn, sc, sh * th, sw * tw, sh * dh, sw * dw),
        writeable=False)


def max_windows_reference(x, win: Windows, pad_value: float = -np.inf):
    """y = max over each window of x padded with ``pad_value``; arg = i·kw + j of its first
    maximum (row-major scan)."""
    v = window_view(win.pad(x, pad_value), win)
    flat = v.reshape(v.shape[:4] + (-1,))
    return flat.max(-1), flat.argmax(-1)


def sum_windows_reference(x, win: Windows, weights=None):
    """y = Σ_{i,j} w[i, j] · x̃[window + (i, j)], zero padding (w = 1 when ``weights`` is None)."""
    v = window_view(win.pad(x, 0.0), win)
    return v.sum((-2, -1)) if weights is None else (v * weights).sum((-2, -1))


def scatter_reference(gwin, win: Windows):
    """∂L/∂x[h, w] = Σ over the (window, offset) pairs that read pixel (h, w) of gwin[window,
    offset], for gwin of shape (N, C, OH, OW, kh, kw) (np.add.at: slow, obviously right)."""
    gpad = np.zeros(gwin.shape[:2] + win.padded, dtype=gwin.dtype)
    (kh, kw), (oh, ow), (th, tw), (dh, dw) = win.kernel, win.out, win.stride, win.dilation
    rows = (np.arange(oh) * th)[:, None, None, None] + (np.arange(kh) * dh)[None, None, :, None]
    cols = (np.arange(ow) * tw)[None, :, None, None] + (np.arange(kw) * dw)[None, None, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    np.add.at(gpad, (slice(None), slice(None), rows, cols), gwin)
    return win.crop(gpad)


# --- fast versions (used by the ops) --------------------------------------------------------------


def _arg_dtype(win: Windows):
    return np.int8 if win.kernel[0] * win.kernel[1] <= 127 else np.int32


def max_windows(x, win: Windows, pad_value: float = -np.inf):
    """Same as :func:`max_windows_reference` on x padded with ``pad_value``: a running maximum
    over the kernel offsets, taking a later offset only when strictly larger, so the first
    maximum wins as in PyTorch.

    The argmax is updated by arithmetic, arg += [v > y]·(k − arg), not by a masked write: with
    random masks, masked writes (where/copyto/putmask) run about 20× slower in NumPy.
    """
    xp = array_module(x)
    if jit.serves(x):
        x, swapped = leading_pair_order(x, copy=True)  # walk memory in order, y laid out alike
        y = np.empty(x.shape[:2] + win.out, dtype=x.dtype)
        arg = np.empty(y.shape, dtype=_arg_dtype(win))
        if _compiled_tiles(x, win):
            max_tiles, max_tiles_nan, _ = tile_kernels(*win.kernel)
            if max_tiles(x, y, arg):  # a NaN was met: the pass that lets the first NaN win
                max_tiles_nan(x, y, arg)
        else:
            xpad, geometry = win.pad(x, pad_value), (win.stride, win.dilation)
            max_overlapping, max_overlapping_nan = overlapping_kernels(*win.kernel)
            parts = split(len(x), pieces_for(len(x), x.nbytes, PARALLEL_MIN_BYTES))
            if any(map_chunks(lambda s: max_overlapping(xpad[s], *geometry, y[s], arg[s]),
                              parts, tiny=True)):
                max_overlapping_nan(xpad, *geometry, y, arg)
        return (y.transpose(1, 0, 2, 3), arg.transpose(1, 0, 2, 3)) if swapped else (y, arg)
    source, offsets = win.layout(x, pad_value)
    y = source[offsets[0][3]].copy()
    arg = xp.zeros(y.shape, dtype=_arg_dtype(win))
    for k, _, _, index in offsets[1:]:
        v = source[index]
        better = v > y
        xp.maximum(y, v, out=y)
        arg += better * (k - arg)
    return y, arg


def sum_windows(x, win: Windows, weights=None):
    """Same as :func:`sum_windows_reference` (zero padding), one slice per kernel offset, added
    in row-major offset order (PyTorch's order, so float32 sums round alike); tiles without
    weights by a compiled loop that reads each pixel once (the same order)."""
    if weights is None and _compiled_tiles(x, win):
        x, swapped = leading_pair_order(x, copy=True)
        y = np.empty(x.shape[:2] + win.out, dtype=x.dtype)
        tile_sum_kernels(*win.kernel)[0](x, y)
        return y.transpose(1, 0, 2, 3) if swapped else y
    source, offsets = win.layout(x, 0.0)
    acc = None
    for _, i, j, index in offsets:
        v = source[index]
        if weights is not None:
            v = v * float(weights[i, j])
        if acc is None:
            acc = v.copy() if weights is None else v
        else:
            acc += v
    return acc


def scatter_max(g, arg, win: Windows):
    """∂L/∂x for y = max over windows: g[window] goes to the pixel at offset arg[window] of that
    window, summed where windows overlap.

    The slice of each kernel offset k receives [arg = k]·g: assigned when windows tile the plane
    (the common k = s case: no accumulation, no np.add.at), added when they overlap.  Masks
    multiply rather than select (see :func:`max_windows`), so a non-finite g spreads NaN over
    its window.
    """
    xp = array_module(g)
    if jit.serves(g):
        arg, swapped = leading_pair_order(arg, copy=True)  # the order max_windows chose for it
        g = np.ascontiguousarray(g.transpose(1, 0, 2, 3) if swapped else g)
        buffer = xp.zeros(arg.shape[:2] + win.padded, dtype=g.dtype)
        if _compiled_tiles(g, win):
            tile_kernels(*win.kernel)[2](g, arg, buffer)
        else:
            parts = split(len(g), pieces_for(len(g), buffer.nbytes, PARALLEL_MIN_BYTES))
            map_chunks(lambda s: scatter_overlapping(g[s], arg[s], win.kernel, win.stride,
                                                     win.dilation, buffer[s]), parts, tiny=True)
        gx = win.input_gradient(buffer)
        return gx.transpose(1, 0, 2, 3) if swapped else gx
    buffer = win.gradient_buffer(g.shape[:2], g.dtype, xp)
    for k, _, _, index in win.layout_offsets():
        if win.tiles:
            xp.multiply(arg == k, g, out=buffer[index])
        else:
            buffer[index] += (arg == k) * g
    return win.input_gradient(buffer)


def scatter_sum(g, win: Windows, weights=None):
    """∂L/∂x for y = weighted window sums: every pixel of a window receives w[i, j]·g[window],
    summed over the windows that contain it (assigned, not added, when windows tile)."""
    xp = array_module(g)
    if weights is None and _compiled_tiles(g, win):
        g, swapped = leading_pair_order(g, copy=True)
        gx = win.gradient_buffer(g.shape[:2], g.dtype, xp)
        tile_sum_kernels(*win.kernel)[1](g, gx)
        gx = win.input_gradient(gx)
        return gx.transpose(1, 0, 2, 3) if swapped else gx
    buffer = win.gradient_buffer(g.shape[:2], g.dtype, xp)
    for _, i, j, index in win.layout_offsets():
        part = g if weights is None else g * float(weights[i, j])
        if win.tiles:
            buffer[index] = part
        else:
            buffer[index] += part
    return win.input_gradient(buffer)


def _compiled_tiles(a, win: Windows) -> bool:
    """True where the compiled kernels below serve: side-by-side windows inside the input (every
    2×2 stride-2 max pool without padding or a ceil-mode window past the edge), on the CPU.
    They read and write each pixel once, where the NumPy versions make several passes per kernel
    offset."""
    return win.tiles and win.padded == win.size and jit.serves(a)


_tile_kernels: dict[tuple[int, int], tuple] = {}


def tile_kernels(kh: int, kw: int) -> tuple:
    """The compiled (max, max letting NaN win, scatter) kernels for kh × kw tiles: the tile size
    is a compile-time constant, so the loops over a tile unroll (with a run-time size they do
    not, and run several times slower)."""
    if (kh, kw) not in _tile_kernels:
        _tile_kernels[kh, kw] = (_make_max_tiles(kh, kw, nan_wins=False),
                                 _make_max_tiles(kh, kw, nan_wins=True),
                                 _make_scatter_tiles(kh, kw))
    return _tile_kernels[kh, kw]


_tile_sum_kernels: dict[tuple[int, int], tuple] = {}


def tile_sum_kernels(kh: int, kw: int) -> tuple:
    """The compiled (sum, scatter) kernels for kh × kw tiles (average pooling), the tile size a
    compile-time constant."""
    if (kh, kw) not in _tile_sum_kernels:
        _tile_sum_kernels[kh, kw] = _make_sum_tiles(kh, kw)
    return _tile_sum_kernels[kh, kw]


def _make_sum_tiles(kh: int, kw: int):
    width = np.uint64(kw)  # unsigned positions: no negative-index checks

    @compiled(fastmath=False)  # the sum in PyTorch's order, as the NumPy version
    def sum_tiles(x, y):  # pragma: no cover - compiled
        """y[n, c, i, j] = the sum of x's tile (i, j), its offsets in row-major order."""
        n_count, c_count, oh, ow = y.shape
        for n in range(n_count):
            for c in range(c_count):
                for i in range(oh):
                    rows, out = x[n, c, i * kh:(i + 1) * kh], y[n, c, i]
                    for j in range(np.uint64(ow)):
                        at = j * width
                        total = rows[0, at]
                        for q in range(1, kw):
                            total += rows[0, at + np.uint64(q)]
                        for p in range(1, kh):
                            for q in range(kw):
                                total += rows[p, at + np.uint64(q)]
                        out[j] = total

    @compiled(fastmath=False)
    def scatter_tiles(g, gx):  # pragma: no cover - compiled
        """Every pixel of tile (i, j) of gx (the padded plane) gets g[n, c, i, j]; the pixels
        past the last whole tile get 0."""
        n_count, c_count, oh, ow = g.shape
        height, cols = gx.shape[2], np.uint64(gx.shape[3])
        zero = gx.dtype.type(0)
        for n in range(n_count):
            for c in range(c_count):
                for i in range(oh):
                    values = g[n, c, i]
                    for p in range(kh):
                        row = gx[n, c, i * kh + p]
                        for j in range(np.uint64(ow)):
                            for q in range(kw):
                                row[j * width + np.uint64(q)] = values[j]
                        for k in range(np.uint64(ow) * width, cols):
                            row[k] = zero
                for r in range(oh * kh, height):
                    gx[n, c, r] = zero

    return sum_tiles, scatter_tiles


@inlined
def _better(v, b, nan_wins):  # pragma: no cover - compiled
    """Whether v replaces the running maximum b: larger, or, when ``nan_wins``, the first NaN
    (``&`` and ``|``: selects, not short-circuit branches)."""
    if nan_wins:
        return (v > b) | ((v != v) & (b == b))
    return v > b


def _make_max_tiles(kh: int, kw: int, nan_wins: bool):
    """y[n, c, i, j] = the maximum of x's tile (i, j) and arg its offset p·kw + q, the first
    maximum (the reference's max and argmax).

    A plain ``v > b`` compiles to a maximum and a conditional move; letting a NaN win as well
    needs a select on floats, which x86 without AVX-512 compiles to a branch that random data
    mispredicts, several times slower. So
    the kernel without ``nan_wins`` skips NaN and reports whether it met one; the caller then
    runs the one with ``nan_wins``, where the first NaN wins, as in np.argmax and PyTorch."""

    @compiled(fastmath=False)  # NaN must not be assumed away
    def max_tiles(x, y, arg):  # pragma: no cover - compiled
        n_count, c_count, oh, ow = y.shape
        nan_met = False
        for n in range(n_count):
            for c in range(c_count):
                for i in range(oh):
                    rows = x[n, c, i * kh:(i + 1) * kh]
                    best, at = y[n, c, i], arg[n, c, i]
                    for j in range(ow):
                        b, a = rows[0, j * kw], 0
                        for p in range(kh):
                            for q in range(kw):
                                v = rows[p, j * kw + q]
                                better = _better(v, b, nan_wins)
                                nan_met |= (not nan_wins) & (v != v)
                                a = p * kw + q if better else a
                                b = v if better else b
                        best[j], at[j] = b, a
        return nan_met

    return max_tiles


def _make_scatter_tiles(kh: int, kw: int):
    @compiled(fastmath=False)
    def scatter_tiles(g, arg, gx):  # pragma: no cover - compiled
        """g of each tile goes to the pixel at its arg offset in gx, which the caller zeroed
        (contiguous): one store per tile, where a select per pixel compiled to a mispredicted
        branch on AVX2."""
        n_count, c_count, oh, ow = g.shape
        width = gx.shape[3]
        for n in range(n_count):
            for c in range(c_count):
                plane = gx[n, c].ravel()
                for i in range(oh):
                    gi, ai = g[n, c, i], arg[n, c, i]
                    for j in range(ow):
                        a = np.uint32(ai[j])  # unsigned: // and % without sign fix-ups
                        plane[(i * kh + a // kw) * width + j * kw + a % kw] = gi[j]

    return scatter_tiles


def _make_max_overlapping(kh: int, kw: int, nan_wins: bool):
    """The compiled max over kh × kw windows of any stride and dilation (overlapping, padded, in
    ceil mode), with the first maximum's offset, NaN handled as in :func:`_make_max_tiles`; the
    window size is a compile-time constant.

    At stride 1 the padded planes are one long line and every position of it takes its whole
    window, the offsets unrolled innermost (``_max_by_offsets``): the loop over positions
    vectorises, where a pass per output row (short on small planes) does not, and the running
    maximum stays in registers, where a pass per offset wrote it back for each of them.  Strided
    reads do not vectorise, so other strides take a window at a time.  Positions are unsigned,
    which spares a negative-index check per read."""

    @compiled(fastmath=False)  # NaN must not be assumed away
    def max_overlapping(xpad, stride, dilation, y, arg):  # pragma: no cover - compiled
        n_count, c_count, oh, ow = y.shape
        (sh, sw), (dh, dw) = stride, dilation
        step, width = np.uint64(sw), np.uint64(ow)
        if sh == sw == 1:
            return _max_by_offsets(xpad, dh, dw, y, arg)
        nan_met = False
        for n in range(n_count):
            for c in range(c_count):
                plane = xpad[n, c]
                for i in range(oh):
                    best, at = y[n, c, i], arg[n, c, i]
                    rows = plane[i * sh:i * sh + (kh - 1) * dh + 1]
                    for j in range(width):
                        b, a = rows[0, j * step], 0
                        for p in range(kh):
                            for q in range(kw):
                                v = rows[p * dh, j * step + np.uint64(q * dw)]
                                better = _better(v, b, nan_wins)
                                nan_met |= (not nan_wins) & (v != v)
                                a = p * kw + q if better else a
                                b = v if better else b
                        best[j], at[j] = b, a
        return nan_met

    @inlined
    def _max_by_offsets(xpad, dh, dw, y, arg):  # pragma: no cover - compiled
        """Stride 1: the padded planes end to end as one line, position f = ((n·C + c)·Hp + i)·Wp
        + j, whose window reads the line at f + p·d_h·Wp + q·d_w (the positions past each row
        and plane computed and dropped); then the outputs copied out."""
        n_count, c_count, oh, ow = y.shape
        hp, wp = xpad.shape[2], xpad.shape[3]
        line = xpad.ravel()
        reach = (kh - 1) * dh * wp + (kw - 1) * dw
        span = np.uint64(line.size - reach)
        best = np.empty(span, y.dtype)
        at = np.empty(span, arg.dtype)  # every position written below
        nan_met = False
        if not nan_wins:  # a pass of its own: the window loop below keeps to selects
            for f in range(np.uint64(line.size)):
                nan_met |= line[f] != line[f]
        for f in range(span):  # the offsets innermost: unrolled, the positions vectorise
            b, a = line[f], arg.dtype.type(0)
            for t in range(1, kh * kw):
                v = line[f + np.uint64((t // kw) * dh * wp + (t % kw) * dw)]
                better = _better(v, b, nan_wins)
                a = arg.dtype.type(t) if better else a
                b = v if better else b
            best[f], at[f] = b, a
        for n in range(n_count):
            for c in range(c_count):
                for i in range(oh):
                    base = np.uint64(((n * c_count + c) * hp + i) * wp)
                    row_y, row_arg = y[n, c, i], arg[n, c, i]
                    for j in range(np.uint64(ow)):
                        row_y[j], row_arg[j] = best[base + j], at[base + j]
        return nan_met

    return max_overlapping


_overlapping_kernels: dict[tuple[int, int], tuple] = {}


def overlapping_kernels(kh: int, kw: int) -> tuple:
    """The compiled (max, max letting NaN win) kernels for kh × kw windows of any geometry."""
    if (kh, kw) not in _overlapping_kernels:
        _overlapping_kernels[kh, kw] = (_make_max_overlapping(kh, kw, nan_wins=False),
                                        _make_max_overlapping(kh, kw, nan_wins=True))
    return _overlapping_kernels[kh, kw]


@compiled(fastmath=False)
def scatter_overlapping(g, arg, kernel, stride, dilation, gpad):  # pragma: no cover - compiled
    """g of each window added to the padded pixel at its arg offset in gpad (zeroed by the
    caller): the adjoint of :func:`max_overlapping` for windows of any geometry."""
    n_count, c_count, oh, ow = g.shape
    kw, (sh, sw), (dh, dw) = np.uint64(kernel[1]), stride, dilation
    width = np.uint64(gpad.shape[3])
    row_step, col_step = np.uint64(dh) * width, np.uint64(dw)
    for n in range(n_count):
        for c in range(c_count):
            plane = gpad[n, c].ravel()  # a flat, unsigned position: no sign fix-ups or checks
            for i in range(oh):
                gi, ai = g[n, c, i], arg[n, c, i]
                top = np.uint64(i * sh) * width
                for j in range(np.uint64(ow)):
                    a = np.uint64(ai[j])
                    at = top + j * np.uint64(sw) + (a // kw) * row_step + (a % kw) * col_step
                    plane[at] += gi[j]


def flat_indices(arg, win: Windows):
    """PyTorch's max-pool indices: h·W + w of each window's maximum in the unpadded input."""
    xp = array_module(arg)
    kw, (th, tw), (ph, pw), (dh, dw) = win.kernel[1], win.stride, win.padding, win.dilation
    (oh, ow), width = win.out, win.size[1]
    a = arg.astype(np.int64)
    rows = (xp.arange(oh, dtype=np.int64) * th - ph)[:, None] + (a // kw) * dh
    cols = (xp.arange(ow, dtype=np.int64) * tw - pw) + (a % kw) * dw
    return rows * width + cols


# --- adaptive windows -----------------------------------------------------------------------------


def adaptive_bounds(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive windows: start_i = ⌊i·n/out⌋, end_i = ⌈(i+1)·n/out⌉."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def adaptive_average_matrix(size: int, out: int, xp=np, dtype=np.float64):
    """A (out × n) with A[i, start_i:end_i] = 1/(end_i − start_i): adaptive averaging along one
    axis is x ↦ A·x, so the 2-D pool is y = A_h · X · A_wᵀ."""
    start, end = adaptive_bounds(size, out)
    cols = np.arange(size)
    a = ((cols >= start[:, None]) & (cols < end[:, None])) / (end - start)[:, None]
    return xp.asarray(a.astype(dtype))
