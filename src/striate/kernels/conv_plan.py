"""The convolution plan: every algorithm choice of a correlation, made once per geometry.

For a correlation Y = X ⋆ K (X (N, C, H, W), K (O, C/G, kh, kw), stride, pads, dilation, G
groups, output (Ho, Wo)) on one dtype and device, under the settings of ``striate.backends``,
:func:`plan_for` returns a :class:`ConvPlan`: for each of the three passes of a training step
(the forward; the input gradient, the adjoint in X; the weight gradient, the adjoint in K) the
algorithm, its Winograd scheme and its chunks; whether the two gradients are computed in one
pass; and what the forward keeps for the weight gradient.  Plans are cached under the geometry
and the settings, so a layer's later calls cost one dictionary lookup; ``ops/conv.py`` stores
the plan on the op's context and the backward reads it.  ``conv_transpose2d`` uses the plan of
the conv2d whose adjoint it is (its forward is that plan's input gradient).

Algorithms (docs/convolution-plan.md describes each, and the measurements behind every
threshold below):

* ``im2col``: one copy of the input windows, one GEMM (``conv_im2col.py``);
* ``winograd``: Winograd's F(2×2, 3×3) or F(4×4, 3×3) for 3×3 stride-1 layers
  (``conv_winograd.py``);
* ``direct``: compiled loops over channels and kernel offsets for stride-1 layers with few
  channels (``conv_direct.py``);
* ``depthwise``: compiled loops for layers with one input channel per group, any stride and
  dilation (``conv_depthwise.py``), for all three passes; ``depthwise-nhwc`` the same loops
  with the channels innermost (``conv_depthwise_nhwc.py``), and ``depthwise-masked`` one
  shifted run per tap over whole images with masked kernel lines (``conv_depthwise_masked.py``,
  "same" padding, any stride), measured candidates for small planes;
* ``pointwise``: a 1×1 stride-1 unpadded layer as one GEMM per image on NCHW memory, no copy
  (``conv_pointwise.py``), for all three passes;
* for the input gradient also ``col2im`` (GEMM then the adjoint of im2col, touching none of the
  zeros of an upsampled gradient) and ``direct-adjoint`` (the direct loops' own adjoint).  Else
  the input gradient is the full correlation of the upsampled gradient with the rotated kernel,
  by whichever of the three above that correlation's geometry takes.

Vocabulary: see ``conv_geometry.py`` (chunk, upsample, kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from . import jit, settings, winograd
from .conv_geometry import Chunk, Chunks, Pads, Pair, full_pads, out_size

# Every threshold of the convolution kernels; the measurements: docs/convolution-plan.md.
CHUNK_BYTES = 2 << 20  # im2col bytes per chunk: the copy and its GEMM stay in cache ("Chunks")
PARALLEL_MIN_BYTES = 1 << 19  # least work (im2col bytes) a chunk needs to be worth a thread
PARALLEL_MIN_MACS = 1 << 23  # or least multiply-adds of its GEMM (about 0.1 ms on one core)
TINY_BYTES = 1 << 17  # less work than this skips the BLAS thread switch, which costs more
WINOGRAD_MIN_WIDTH = 4  # narrower output rows are too short to pay for the tile transforms
WINOGRAD_MIN_PIXELS = 256  # N·H·W below which im2col is faster (batch 1 on 8×8)
WINOGRAD_MAX_CHANNELS = 128  # in + out above which im2col's GEMMs are efficient enough
WINOGRAD_F4_MIN_CHANNELS = 16  # in and out from which F(4×4)'s cheaper GEMMs beat F(2×2)
DIRECT_MAX_CHANNELS = 16  # in and out above which im2col's GEMM beats the direct loops
DIRECT_BEFORE_WINOGRAD = 4  # input channels up to which the direct loops beat Winograd's thin GEMMs
POINTWISE_MIN_PIXELS = 64  # H·W from which a 1×1 layer's per-image GEMMs beat im2col's one GEMM
COL2IM_MAX_PIXELS = 128  # N·Ho·Wo up to which GEMM + col2im beats the full correlation

IM2COL, DIRECT, WINOGRAD, DEPTHWISE = "im2col", "direct", "winograd", "depthwise"
POINTWISE = "pointwise"
DEPTHWISE_NHWC = "depthwise-nhwc"
DEPTHWISE_MASKED = "depthwise-masked"
COL2IM, DIRECT_ADJOINT = "col2im", "direct-adjoint"
SCHEME_NAMES = {winograd.F2: "F(2×2, 3×3)", winograd.F4: "F(4×4, 3×3)",
                winograd.F2_5X5: "F(2×2, 5×5)"}


@dataclass(frozen=True, slots=True)
class Pass:
    """One pass of a convolution: its algorithm, Winograd scheme (else None), its chunks, and
    whether it is too little work to switch BLAS's threads for (``map_chunks``'s ``tiny``)."""

    algorithm: str
    scheme: ModuleType | None
    chunks: Chunks
    tiny: bool

    def __repr__(self) -> str:
        scheme = f" {SCHEME_NAMES[self.scheme]}" if self.scheme is not None else ""
        count = len(self.chunks)
        return f"{self.algorithm}{scheme} ({count} chunk{'s' if count != 1 else ''})"


@dataclass(frozen=True, slots=True)
class ConvPlan:
    """Which algorithm computes each pass of one convolution geometry (see the module note).

    ``together``: both gradients in one pass over the chunks (Winograd F(4×4, 3×3) on chunks of
    whole images), where both are wanted.  ``keep``: what the forward keeps for the weight
    gradient, "columns" (x's im2col matrix), "tiles" (Winograd's V) or None.  ``out_hw``: the
    output's (Ho, Wo)."""

    forward: Pass
    input_grad: Pass
    weight_grad: Pass
    together: bool
    keep: str | None
    out_hw: Pair

    def __repr__(self) -> str:
        return (f"ConvPlan(out_hw={self.out_hw}, forward={self.forward!r}, "
                f"input_grad={self.input_grad!r}, weight_grad={self.weight_grad!r}, "
                f"together={self.together}, keep={self.keep})")

    def summary(self) -> str:
        """One line, e.g. "winograd F(4×4); dX+dW winograd F(4×4) together" or "im2col; dX
        col2im, dW im2col"."""
        def name(p: Pass) -> str:
            if p.scheme is None:
                return p.algorithm
            full = SCHEME_NAMES[p.scheme]  # "F(4×4)" for the 3×3 schemes, as before
            return f"{p.algorithm} {full[:5] + ')' if p.scheme.KERNEL == 3 else full}"

        if self.together:
            return f"{name(self.forward)}; dX+dW {name(self.weight_grad)} together"
        return f"{name(self.forward)}; dX {name(self.input_grad)}, dW {name(self.weight_grad)}"


_plans: dict[tuple, ConvPlan] = {}


def plan_for(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], stride: Pair, pads: Pads,
             dilation: Pair, groups: int, dtype: Any, array_type: type = np.ndarray,
             out_hw: Pair | None = None) -> ConvPlan:
    """The plan of the correlation of an input of ``x_shape`` (an array of ``dtype`` and
    ``array_type``: NumPy's on the CPU, CuPy's on a GPU) with a kernel of ``weight_shape``;
    ``out_hw`` None: as many windows as fit.  A dictionary lookup once the geometry was seen."""
    key = (x_shape, weight_shape, stride, pads, dilation, groups, dtype, array_type, out_hw,
           settings.state)
    plan = _plans.get(key)
    if plan is None:
        if out_hw is None:
            out_hw = out_size(x_shape[2:], weight_shape[2:], stride, pads, dilation)
        plan = _plans[key] = _make_plan(tuple(x_shape), tuple(weight_shape), stride, pads,
                                        dilation, groups, tuple(out_hw), np.dtype(dtype),
                                        issubclass(array_type, np.ndarray))
    return plan


def clear_cache() -> None:
    """Forget every plan (after a threshold was changed, as the tests do)."""
    _plans.clear()


def _make_plan(x_shape: tuple, weight_shape: tuple, stride: Pair, pads: Pads, dilation: Pair,
               groups: int, out_hw: Pair, dtype: np.dtype, on_cpu: bool) -> ConvPlan:
    if settings.conv.benchmark and on_cpu and x_shape[0] > 0:  # an empty batch: nothing to time
        from .conv_tuning import measured_plan  # it runs the kernels, which import this module

        return measured_plan(x_shape, weight_shape, stride, pads, dilation, groups, out_hw, dtype)
    return rules_plan(x_shape, weight_shape, stride, pads, dilation, groups, out_hw, dtype,
                      on_cpu)


def rules_plan(x_shape: tuple, weight_shape: tuple, stride: Pair, pads: Pads, dilation: Pair,
               groups: int, out_hw: Pair, dtype: np.dtype, on_cpu: bool = True) -> ConvPlan:
    """The plan the thresholds above choose (the default, and measuring's tie-breaker)."""
    compiled = on_cpu and jit.available() and dtype in jit.COMPILED_DTYPES
    geometry = (x_shape, weight_shape, (1, 1), pads, stride, dilation, groups, out_hw)
    forward = _correlation_pass(*geometry, dtype, on_cpu, compiled)
    input_grad = _input_grad_pass(x_shape, weight_shape, stride, pads, dilation, groups, out_hw,
                                  dtype, on_cpu, compiled)
    # the weight gradient correlates the same windows of x: the same algorithm and chunks
    return assemble(forward, input_grad, forward, x_shape, weight_shape, out_hw, dtype)


def assemble(forward: Pass, input_grad: Pass, weight_grad: Pass, x_shape: tuple,
             weight_shape: tuple, out_hw: Pair, dtype: np.dtype,
             together: bool | None = None) -> ConvPlan:
    """The plan of these three passes, with what the forward keeps for the weight gradient
    (where both take the same algorithm, on one chunk, and the buffer fits ``CHUNK_BYTES``) and
    whether the two gradients go together (``together`` None: wherever they can, which is
    F(4×4, 3×3) on chunks of whole images for the weight gradient)."""
    n, c, h, w = x_shape
    o, cg, kh, kw = weight_shape
    can_go_together = (weight_grad.scheme is winograd.F4
                       and all(rows == slice(0, out_hw[0]) for _, rows in weight_grad.chunks))
    together = can_go_together if together is None else together and can_go_together
    keep = None
    same = (forward.algorithm, forward.scheme) == (weight_grad.algorithm, weight_grad.scheme)
    if same and len(forward.chunks) == 1:
        if forward.algorithm == IM2COL:
            kept_bytes = c * kh * kw * n * out_hw[0] * out_hw[1] * dtype.itemsize
            keep = "columns" if kept_bytes <= CHUNK_BYTES else None
        elif forward.algorithm == WINOGRAD:
            tiles = forward.scheme.tiles(out_hw[0]) * n * forward.scheme.tiles(out_hw[1])
            kept_bytes = winograd.positions(forward.scheme) * c * tiles * dtype.itemsize
            keep = "tiles" if kept_bytes <= CHUNK_BYTES else None
    return ConvPlan(forward, input_grad, weight_grad, together, keep, out_hw)


def _input_grad_pass(x_shape: tuple, weight_shape: tuple, stride: Pair, pads: Pads,
                     dilation: Pair, groups: int, out_hw: Pair, dtype: np.dtype, on_cpu: bool,
                     compiled: bool) -> Pass:
    """The adjoint in X.  As the seeds derive it, the full correlation of the gradient upsampled
    by the stride with the rotated kernel; but where that upsampled gradient would be larger
    than the input (O·s_h·s_w > C: a strided or widening layer), most of that work multiplies
    zeros, and GEMM + col2im (or, for a stride-1 layer with few channels, the direct loops'
    adjoint) computes the same operator touching none; so does col2im for the smallest
    gradients (``COL2IM_MAX_PIXELS``), where the full correlation's copies cost more.  A 1×1
    layer on a large plane keeps the full correlation, which is Kᵀ applied per image."""
    n, c, h, w = x_shape
    o, cg, kh, kw = weight_shape
    ho, wo = out_hw
    direct_ok = _direct_fits(weight_shape, (1, 1), stride, dilation, groups, compiled)
    # a large-plane 1×1 layer's full correlation is Kᵀ per image: no zeros, nothing copied
    pointwise = (_pointwise_fits(weight_shape, (1, 1), stride, pads, groups)
                 and h * w >= POINTWISE_MIN_PIXELS)
    adjoint = None
    if _depthwise_fits(weight_shape, (1, 1), groups, compiled):
        adjoint = DEPTHWISE
    elif pointwise:
        pass
    elif o * stride[0] * stride[1] > cg * groups:
        adjoint = DIRECT_ADJOINT if direct_ok else COL2IM
    elif n * ho * wo <= COL2IM_MAX_PIXELS and not direct_ok:
        adjoint = COL2IM
    full = _correlation_pass(*_full_correlation(x_shape, weight_shape, stride, pads, dilation,
                                                groups, out_hw), dtype, on_cpu, compiled)
    # F(2×2, 5×5) on a stride-1 full correlation (no zeros) beats GEMM + col2im, widening or not
    if adjoint is not None and full.scheme is not winograd.F2_5X5:
        return adjoint_pass(adjoint, x_shape, weight_shape, pads, groups, out_hw, dtype, on_cpu)
    return full


def _full_correlation(x_shape: tuple, weight_shape: tuple, stride: Pair, pads: Pads,
                      dilation: Pair, groups: int, out_hw: Pair) -> tuple:
    """The geometry of the adjoint in X as a correlation: (input shape, weight shape, upsample,
    pads, stride, dilation, groups, out_hw) of the gradient upsampled by the stride, fully
    padded, with the rotated kernel (``conv.correlate_transpose``)."""
    n, c, h, w = x_shape
    o, cg, kh, kw = weight_shape
    ho, wo = out_hw
    full = full_pads((kh, kw), stride, pads, dilation, out_hw, (h, w))
    return ((n, o, ho, wo), (groups * cg, o // groups, kh, kw), stride, full, (1, 1), dilation,
            groups, (h, w))


def adjoint_pass(adjoint: str, x_shape: tuple, weight_shape: tuple, pads: Pads, groups: int,
                 out_hw: Pair, dtype: np.dtype, on_cpu: bool = True) -> Pass:
    """The input-gradient pass by GEMM + ``col2im``, the ``direct-adjoint`` loops or the
    ``depthwise`` loops' adjoint."""
    n, c, h, w = x_shape
    o, cg, kh, kw = weight_shape
    ho, wo = out_hw
    if adjoint in (DEPTHWISE, DEPTHWISE_NHWC):
        return Pass(adjoint, None, chunks(n, ho, (c + o) * (w + wo), dtype, on_cpu,
                                          split_rows=False), True)
    if adjoint == DIRECT_ADJOINT:
        buf_width = max(pads[1][0] + w, wo + kw - 1)
        return Pass(adjoint, None, chunks(n, ho, c * kh * kw * buf_width, dtype, on_cpu,
                                          split_rows=False), True)
    values = groups * cg * kh * kw * wo
    return Pass(adjoint, None, chunks(n, ho, values, dtype, on_cpu, split_rows=False,
                                      macs_per_row=values * (o // groups)),
                _tiny(n * ho * values, dtype))


def input_grad_candidates(x_shape: tuple, weight_shape: tuple, stride: Pair, pads: Pads,
                          dilation: Pair, groups: int, out_hw: Pair,
                          dtype: np.dtype) -> list[Pass]:
    """Every pass that can compute the adjoint in X under the current settings: GEMM + col2im,
    the direct loops' adjoint where they fit, and each way of the full correlation."""
    compiled = jit.available() and dtype in jit.COMPILED_DTYPES
    candidates = [adjoint_pass(COL2IM, x_shape, weight_shape, pads, groups, out_hw, dtype)]
    if _direct_fits(weight_shape, (1, 1), stride, dilation, groups, compiled):
        candidates.append(adjoint_pass(DIRECT_ADJOINT, x_shape, weight_shape, pads, groups,
                                       out_hw, dtype))
    if _depthwise_fits(weight_shape, (1, 1), groups, compiled):
        candidates += [adjoint_pass(a, x_shape, weight_shape, pads, groups, out_hw, dtype)
                       for a in (DEPTHWISE, DEPTHWISE_NHWC)]
    full = correlation_candidates(*_full_correlation(
        x_shape, weight_shape, stride, pads, dilation, groups, out_hw), dtype)
    # the full correlation's depthwise loops are the adjoints' twins
    return candidates + [p for p in full if p.algorithm not in (DEPTHWISE, DEPTHWISE_NHWC)]


def _correlation_pass(x_shape: tuple, weight_shape: tuple, upsample: Pair, pads: Pads,
                      stride: Pair, dilation: Pair, groups: int, out_hw: Pair, dtype: np.dtype,
                      on_cpu: bool, compiled: bool) -> Pass:
    """The pass of a correlation of x upsampled by ``upsample`` and padded by ``pads``: the
    algorithm that measured fastest for its geometry.  Where both compiled paths fit, the
    direct loops win for inputs of at most ``DIRECT_BEFORE_WINOGRAD`` channels."""
    n, c, h, w = x_shape
    o, cg, kh, kw = weight_shape
    (ho, wo) = out_hw
    direct_ok = _direct_fits(weight_shape, upsample, stride, dilation, groups, compiled)
    if _depthwise_fits(weight_shape, upsample, groups, compiled):
        algorithm = DEPTHWISE
    elif (_pointwise_fits(weight_shape, upsample, stride, pads, groups)
          and ho * wo >= POINTWISE_MIN_PIXELS):
        algorithm = POINTWISE
    elif direct_ok and cg <= DIRECT_BEFORE_WINOGRAD:
        algorithm = DIRECT
    elif (_winograd_fits(weight_shape, upsample, stride, dilation, groups, compiled)
          and wo >= WINOGRAD_MIN_WIDTH and n * h * w >= WINOGRAD_MIN_PIXELS
          # F(2×2, 5×5) saves more than F(m×m, 3×3): no channel bound, but the direct loops
          # keep the layers they fit
          and (o + c <= WINOGRAD_MAX_CHANNELS if kh == 3 else not direct_ok)):
        algorithm = WINOGRAD
    else:
        algorithm = DIRECT if direct_ok else IM2COL
    scheme = winograd_scheme(c, o, kh) if algorithm == WINOGRAD else None
    return correlation_pass(algorithm, scheme, x_shape, weight_shape, pads, groups, out_hw,
                            dtype, on_cpu)


def correlation_pass(algorithm: str, scheme: ModuleType | None, x_shape: tuple,
                     weight_shape: tuple, pads: Pads, groups: int, out_hw: Pair, dtype: np.dtype,
                     on_cpu: bool = True) -> Pass:
    """The pass of a correlation by ``algorithm`` (and Winograd ``scheme``), with its chunks."""
    n, c, h, w = x_shape
    o, cg, kh, kw = weight_shape
    (ho, wo) = out_hw
    if algorithm == WINOGRAD:
        values_per_row = winograd.positions(scheme) * (c + o) * scheme.tiles(wo) // scheme.OUT
        return Pass(WINOGRAD, scheme, chunks(n, ho, values_per_row, dtype, on_cpu,
                                             step=scheme.OUT),
                    _tiny(n * ho * values_per_row, dtype))
    if algorithm in (DEPTHWISE, DEPTHWISE_NHWC, DEPTHWISE_MASKED):
        # no matrix: a chunk holds its images' input and output rows, about (C + O)(W + Wo)
        # values per output row
        return Pass(algorithm, None, chunks(n, ho, (c + o) * (w + wo), dtype, on_cpu,
                                            split_rows=False), True)
    if algorithm == POINTWISE:  # no matrix: a chunk's input and output rows
        values_per_row = (c + o) * wo
        return Pass(POINTWISE, None, chunks(n, ho, values_per_row, dtype, on_cpu,
                                            macs_per_row=c * o * wo),
                    _tiny(n * ho * values_per_row, dtype))
    if algorithm == DIRECT:
        padded_width = pads[1][0] + w + pads[1][1]
        return Pass(DIRECT, None, chunks(n, ho, cg * kh * kw * padded_width, dtype, on_cpu,
                                         split_rows=False), True)
    values_per_row = groups * cg * kh * kw * wo
    return Pass(IM2COL, None, chunks(n, ho, values_per_row, dtype, on_cpu,
                                     macs_per_row=values_per_row * (o // groups)),
                _tiny(n * ho * values_per_row, dtype))


def correlation_candidates(x_shape: tuple, weight_shape: tuple, upsample: Pair, pads: Pads,
                           stride: Pair, dilation: Pair, groups: int, out_hw: Pair,
                           dtype: np.dtype) -> list[Pass]:
    """Every pass that can compute this correlation on the CPU under the current settings,
    whatever the thresholds say: im2col always, the direct loops and each Winograd scheme where
    the geometry and ``backends.conv`` allow them (what ``conv_tuning`` times)."""
    compiled = jit.available() and dtype in jit.COMPILED_DTYPES
    shapes = (x_shape, weight_shape, pads, groups, out_hw, dtype)
    candidates = [correlation_pass(IM2COL, None, *shapes)]
    if _pointwise_fits(weight_shape, upsample, stride, pads, groups):
        candidates.append(correlation_pass(POINTWISE, None, *shapes))
    if _direct_fits(weight_shape, upsample, stride, dilation, groups, compiled):
        candidates.append(correlation_pass(DIRECT, None, *shapes))
    if _depthwise_fits(weight_shape, upsample, groups, compiled):
        candidates += [correlation_pass(a, None, *shapes) for a in (DEPTHWISE, DEPTHWISE_NHWC)]
        if _masked_fits(x_shape, weight_shape, pads, stride, dilation, out_hw):
            candidates.append(correlation_pass(DEPTHWISE_MASKED, None, *shapes))
    if _winograd_fits(weight_shape, upsample, stride, dilation, groups, compiled):
        schemes = winograd_schemes(weight_shape[2])
        candidates += [correlation_pass(WINOGRAD, scheme, *shapes) for scheme in schemes]
    return candidates


def correlation_algorithm(x_shape: tuple[int, ...], weight_shape: tuple[int, ...],
                          upsample: Pair = (1, 1), stride: Pair = (1, 1),
                          dilation: Pair = (1, 1), groups: int = 1,
                          out_hw: Pair | None = None, dtype: Any = np.float32) -> str:
    """The algorithm a NumPy correlation of this geometry takes (unpadded; ``out_hw`` None: the
    input's size), as every pass of a plan asks: "im2col", "direct" or "winograd"."""
    dtype = np.dtype(dtype)
    compiled = jit.available() and dtype in jit.COMPILED_DTYPES
    return _correlation_pass(tuple(x_shape), tuple(weight_shape), upsample, ((0, 0), (0, 0)),
                             stride, dilation, groups, out_hw or tuple(x_shape[2:]), dtype, True,
                             compiled).algorithm


def _direct_fits(weight_shape: tuple, upsample: Pair, stride: Pair, dilation: Pair, groups: int,
                 compiled: bool) -> bool:
    """True where the direct loops measured faster than im2col: a stride-1 correlation in one
    group with at most ``DIRECT_MAX_CHANNELS`` input and output channels and a kernel larger
    than 1×1."""
    o, c, kh, kw = weight_shape
    return (settings.conv.direct and compiled and upsample == stride == dilation == (1, 1)
            and groups == 1 and kh * kw > 1 and max(o, c) <= DIRECT_MAX_CHANNELS)


def _pointwise_fits(weight_shape: tuple, upsample: Pair, stride: Pair, pads: Pads,
                    groups: int) -> bool:
    """True where the correlation is a product over channels at each position: a 1×1 kernel,
    stride and upsampling 1, no padding, one group (any dilation: one tap has no spacing)."""
    return (tuple(weight_shape[2:]) == (1, 1) and upsample == stride == (1, 1)
            and pads == ((0, 0), (0, 0)) and groups == 1)


def _depthwise_fits(weight_shape: tuple, upsample: Pair, groups: int, compiled: bool) -> bool:
    """True where the depthwise loops compute the correlation: one input channel per group, more
    than one group, no upsampling, compiled loops allowed (``backends.conv.direct``)."""
    return (settings.conv.direct and compiled and groups > 1 and weight_shape[1] == 1
            and upsample == (1, 1))


def _masked_fits(x_shape: tuple, weight_shape: tuple, pads: Pads, stride: Pair, dilation: Pair,
                 out_hw: Pair) -> bool:
    """True where a depthwise correlation (one that ``_depthwise_fits``) can take the masked
    weight lines: one output channel per input, pads that give its stride-1 output the input's
    size, and every s-th position of that output asked for (the strided output)."""
    return (weight_shape[0] == x_shape[1]
            and all(before + after == d * (k - 1) and outputs == (size - 1) // s + 1
                    for (before, after), d, k, s, size, outputs
                    in zip(pads, dilation, weight_shape[2:], stride, x_shape[2:], out_hw,
                           strict=True)))


def _winograd_fits(weight_shape: tuple, upsample: Pair, stride: Pair, dilation: Pair,
                   groups: int, compiled: bool) -> bool:
    """True where one of Winograd's schemes computes the correlation: a 3×3 or 5×5 kernel,
    stride, dilation and upsampling 1, one group, compiled transforms,
    ``backends.conv.winograd``."""
    return (settings.conv.winograd and compiled and tuple(weight_shape[2:]) in ((3, 3), (5, 5))
            and upsample == stride == dilation == (1, 1) and groups == 1)


def winograd_schemes(kernel: int) -> list[ModuleType]:
    """The schemes for a ``kernel``×``kernel`` layer that the plan may time: F(2×2, 3×3) and,
    with ``backends.conv.winograd_f4``, F(4×4, 3×3); F(2×2, 5×5) for 5×5 layers."""
    if kernel == 5:
        return [winograd.F2_5X5]
    return [winograd.F2, winograd.F4] if settings.conv.winograd_f4 else [winograd.F2]


def winograd_scheme(channels: int, out_channels: int, kernel: int = 3) -> ModuleType:
    """For a 3×3 layer, F(4×4, 3×3) where its cheaper GEMMs outweigh its larger transforms (at
    least ``WINOGRAD_F4_MIN_CHANNELS`` in and out, and ``backends.conv.winograd_f4``), else
    F(2×2, 3×3); for a 5×5 layer, F(2×2, 5×5)."""
    if kernel == 5:
        return winograd.F2_5X5
    if min(channels, out_channels) >= WINOGRAD_F4_MIN_CHANNELS and settings.conv.winograd_f4:
        return winograd.F4
    return winograd.F2


def _tiny(values: int, dtype: np.dtype) -> bool:
    return values * dtype.itemsize < TINY_BYTES


def chunks(n: int, rows: int, values_per_row: int, dtype: np.dtype, on_cpu: bool = True,
           split_rows: bool = True, step: int = 1, macs_per_row: int = 0) -> Chunks:
    """(images, output rows) chunks of a kernel's work whose im2col matrix (``values_per_row``
    values per output row) stays near ``CHUNK_BYTES``, and at least one per worker thread where
    each still gets ``PARALLEL_MIN_BYTES`` or, for a GEMM of ``macs_per_row`` multiply-adds per
    output row, ``PARALLEL_MIN_MACS`` (a wide layer on a small plane has a small matrix but a
    large product: its weight is the work) (one chunk on a GPU).  Whole images are grouped
    while they fit; a larger image, or a batch smaller than the number of workers, is cut into
    blocks of output rows, a multiple of ``step`` (unless ``split_rows`` is False, for kernels
    whose chunks would write overlapping rows).  Groups of images come in a multiple of the
    worker count and differ in size by one image at most, so no thread is left a chunk more."""
    if not on_cpu:
        return ((slice(0, n), slice(0, rows)),)
    workers = settings.cpu.num_threads
    row_bytes = max(1, values_per_row * dtype.itemsize)
    count = max(1, min(workers, max(n * rows * row_bytes // PARALLEL_MIN_BYTES,
                                    n * rows * macs_per_row // PARALLEL_MIN_MACS)))
    block = rows
    if split_rows:
        if row_bytes * rows > CHUNK_BYTES:
            block = max(1, CHUNK_BYTES // row_bytes)
        if n < count:
            block = min(block, -(-rows * n // count))
        if block < rows:
            block = min(rows, max(step, block - block % step))
    if n == 0:  # an empty batch: no work
        return ()
    if block < rows:
        return tuple((slice(i, i + 1), slice(r, min(r + block, rows)))
                     for i in range(n) for r in range(0, rows, block))
    images = max(1, min(CHUNK_BYTES // (row_bytes * rows), -(-n // count)))
    groups = -(-n // images)
    groups = min(n, -(-groups // count) * count)  # a multiple of the workers, where n allows
    bounds = [i * n // groups for i in range(groups + 1)]  # ⌊n/groups⌋ or ⌈n/groups⌉ images
    return tuple((slice(bounds[i], bounds[i + 1]), slice(0, rows)) for i in range(groups))


__all__ = ["COL2IM", "DEPTHWISE", "DEPTHWISE_NHWC", "DIRECT", "DIRECT_ADJOINT", "IM2COL",
           "WINOGRAD", "Chunk", "ConvPlan", "Pass", "adjoint_pass", "assemble", "chunks",
           "clear_cache",
           "correlation_algorithm", "correlation_candidates", "correlation_pass",
           "input_grad_candidates", "plan_for", "rules_plan", "winograd_scheme",
           "winograd_schemes"]
