"""``DistributedDataParallel``: one model replica per rank, kept identical step after step.

At construction the parameters and buffers are broadcast from rank 0.  Each rank then runs
forward and backward on its share of the global batch; :meth:`backward` weights the rank's loss
by its number of samples, so that the gradients summed over the ranks and divided by the global
count are the gradient of the mean loss over the whole batch (exactly, also when the shares
differ, and through synchronised batch norm, whose backward sums over the ranks too).

:meth:`reduce_gradients` packs every gradient into a few large flat buffers (``bucket_cap_mb``
each, one dtype a bucket), all-reduces them and writes the averages back: a handful of large
messages instead of one per parameter, which is what pays on a network (each message costs a
latency).  The last bucket also carries the sample count, a stop flag (so that every rank stops
after the same step when one was asked to) and which parameters got a gradient anywhere.

The reduction runs after the backward pass, not overlapped with it: over MPI on the CPU the
transfer needs the cores the backward pass uses, and on one machine the all-reduce of a zoo
model's gradients costs a few per cent of a step at most (docs/distributed.md has the figures).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backend import array_module
from ..nn.module import Module
from .process_group import get_backend


@dataclass
class _Bucket:
    """A flat buffer and the parameters packed into it: ``slots`` of (parameter, offset,
    size)."""

    buffer: Any
    slots: list = field(default_factory=list)


class DistributedDataParallel:
    """Keeps ``module``'s replicas identical across the ranks (see the module docstring).

    Unlike PyTorch's it does not wrap the module (whose ``state_dict`` keys stay as they are):
    calling it calls the module, and the gradient reduction is the explicit
    :meth:`reduce_gradients`, before the optimiser step.
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0):
        self.module = module
        self.backend = get_backend()
        self.params = [p for p in module.parameters() if p.requires_grad]
        self._count = 0.0
        self._buckets = self._make_buckets(int(bucket_cap_mb * 2**20))
        self.broadcast_state()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    # --- state ----------------------------------------------------------------------------------
    def broadcast_state(self, src: int = 0) -> None:
        """Overwrite every rank's parameters and buffers with rank ``src``'s."""
        for array in self._state_arrays():
            self.backend.broadcast(array, src)

    def average_buffers(self) -> None:
        """Replace the floating-point buffers (batch norm's running statistics, which each rank
        moves with its own share's statistics unless they are synchronised) by their mean over
        the ranks, so every replica evaluates and saves the same model."""
        world = self.backend.world_size
        if world == 1:
            return
        for array in self._state_arrays(parameters=False):
            if array.dtype.kind == "f":
                self.backend.all_reduce(array)
                array /= world

    def _state_arrays(self, parameters: bool = True):
        arrays = [p.data for p in self.module.parameters()] if parameters else []
        arrays += [b for b in self.module.buffers() if b is not None]
        for array in arrays:
            if not array.flags.c_contiguous:
                raise ValueError("DistributedDataParallel: parameters and buffers must be "
                                 "C-contiguous arrays")
        return arrays

    # --- gradients ------------------------------------------------------------------------------
    def backward(self, loss: Any, batch_size: int, scale: float = 1.0) -> None:
        """Backward of ``loss`` (a mean over this rank's ``batch_size`` samples) times
        ``scale`` (1/N for one batch of an accumulation group of N), weighted by the number
        of samples; :meth:`reduce_gradients` divides by the ranks' total."""
        weight = batch_size * scale
        (loss * float(weight)).backward()
        self._count += weight

    def reduce_gradients(self, stop: bool = False) -> bool:
        """Sum every gradient over the ranks, divide by the weighted sample count of all ranks
        since the last call, and write the result back (None stays None only where no rank has
        a gradient).  Returns whether any rank passed ``stop``."""
        control_at = self._buckets[-1].buffer.size - len(self.params) - 2
        for bucket in self._buckets:
            for p, offset, size in bucket.slots:
                target = bucket.buffer[offset:offset + size]
                if p.grad is None:
                    target[...] = 0
                else:
                    target[...] = p.grad.reshape(-1)
        control = self._buckets[-1].buffer[control_at:]
        control[0], control[1] = self._count, float(stop)
        control[2:] = [p.grad is not None for p in self.params]
        for bucket in self._buckets:
            self.backend.all_reduce(bucket.buffer)
        total, stop_any = float(control[0]), bool(control[1] > 0)
        present = control[2:] > 0
        if total <= 0:
            raise RuntimeError("reduce_gradients: no rank called backward() since the last "
                               "reduction")
        index = 0
        for bucket in self._buckets:
            for p, offset, size in bucket.slots:
                if present[index]:
                    p.grad = (bucket.buffer[offset:offset + size] / total).reshape(p.shape)
                index += 1
        self._count = 0.0
        return stop_any

    def _make_buckets(self, cap_bytes: int) -> list[_Bucket]:
        """Group the parameters, in order, into buffers of one dtype and at most ``cap_bytes``
        (one parameter larger than that gets a buffer of its own); the last buffer gets room
        for the count, the stop flag and one presence flag per parameter."""
        groups: list[tuple[Any, list]] = []
        for p in self.params:
            dtype, nbytes = p.data.dtype, p.data.nbytes
            if (not groups or groups[-1][0] != dtype
                    or sum(q.data.nbytes for q in groups[-1][1]) + nbytes > cap_bytes):
                groups.append((dtype, []))
            groups[-1][1].append(p)
        if not groups:
            raise ValueError("DistributedDataParallel: the module has no trainable parameters")
        buckets = []
        for i, (dtype, params) in enumerate(groups):
            sizes = [p.data.size for p in params]
            extra = len(self.params) + 2 if i == len(groups) - 1 else 0
            xp = array_module(params[0].data)
            offsets = np.cumsum([0, *sizes[:-1]]).tolist()
            buckets.append(_Bucket(xp.zeros(sum(sizes) + extra, dtype=dtype),
                                   list(zip(params, offsets, sizes, strict=True))))
        return buckets
