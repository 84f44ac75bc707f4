"""A Deconvolutional Network: deconvolutional layers stacked greedily, each learning to explain the
pooled maps of the one below (Zeiler et al. 2010).

Pooling is 2-D spatial max pooling of each map on its own, by magnitude: in a p × p block the
entry of largest |z| is kept with its sign, and its position (the switch) is remembered so that a
higher layer's reconstruction can be put back exactly where it came from.  Maps are signed and
sparse, so pooling by magnitude keeps the strongest response of either sign; we pool per map rather
than over maps too (the 3-D pooling of the later adaptive deconvnets) so that layer l + 1 sees all
of layer l's maps, which is what its connection table refers to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .layer import DeconvLayer

__all__ = ["DeconvNet", "max_pool_abs", "unpool"]


def max_pool_abs(z: np.ndarray, pool: int) -> tuple[np.ndarray, np.ndarray]:
    """(pooled, switches): each pool × pool block of z (N, M, H, W), zero-padded to a multiple
    of pool, replaced by its entry of largest magnitude; switches hold the flat index in the block
    of the kept entry."""
    n, m, h, w = z.shape
    hp, wp = -(-h // pool), -(-w // pool)
    padded = np.zeros((n, m, hp * pool, wp * pool), z.dtype)
    padded[:, :, :h, :w] = z
    blocks = padded.reshape(n, m, hp, pool, wp, pool).transpose(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(n, m, hp, wp, pool * pool)
    switches = np.argmax(np.abs(blocks), axis=-1)
    return np.take_along_axis(blocks, switches[..., None], -1)[..., 0], switches


def unpool(pooled: np.ndarray, switches: np.ndarray, pool: int, size: tuple[int, int]
           ) -> np.ndarray:
    """The adjoint of :func:`max_pool_abs` with its switches: each value put back at its block's
    kept position, zeros elsewhere, cropped to the original ``size`` (H, W)."""
    if pooled.shape != switches.shape:
        raise ValueError(f"maps of shape {pooled.shape} do not match the switches kept from the "
                         f"last infer, of shape {switches.shape}")
    n, m, hp, wp = pooled.shape
    blocks = np.zeros((n, m, hp, wp, pool * pool), pooled.dtype)
    np.put_along_axis(blocks, switches[..., None], pooled[..., None], -1)
    full = blocks.reshape(n, m, hp, wp, pool, pool).transpose(0, 1, 2, 4, 3, 5)
    return full.reshape(n, m, hp * pool, wp * pool)[:, :, :size[0], :size[1]]


class DeconvNet:
    """Layers trained greedily: layer l + 1 learns on layer l's inferred maps, max-pooled by
    ``pool`` (1: no pooling)."""

    def __init__(self, layers: Sequence[DeconvLayer], pool: int = 2) -> None:
        layers = list(layers)
        if not layers or not all(isinstance(lay, DeconvLayer) for lay in layers):
            raise ValueError("DeconvNet needs a non-empty list of DeconvLayer")
        if int(pool) != pool or pool < 1:
            raise ValueError(f"pool must be a positive integer, not {pool!r}")
        for i, (below, above) in enumerate(zip(layers, layers[1:], strict=False)):
            if above.in_channels != below.num_maps:
                raise ValueError(f"layer {i + 1} has in_channels={above.in_channels} but layer "
                                 f"{i} makes {below.num_maps} maps")
        self.layers, self.pool = layers, int(pool)
        self.switches: list[tuple[np.ndarray, tuple[int, int]]] = []

    def _pool(self, z: np.ndarray) -> np.ndarray:
        """z pooled, its switches and size kept for :meth:`reconstruct`."""
        if self.pool == 1:
            self.switches.append((np.zeros(z.shape, np.intp), z.shape[2:]))
            return z
        pooled, switches = max_pool_abs(z, self.pool)
        self.switches.append((switches, z.shape[2:]))
        return pooled

    def infer(self, y: Any) -> list[np.ndarray]:
        """Each layer's maps for y (N, C, H, W): z_1 = infer_1(y), z_{l+1} = infer_{l+1}(pool(z_l)).
        The pooling switches are kept for :meth:`reconstruct`."""
        self.switches = []
        maps = [self.layers[0].infer(y)]
        for layer in self.layers[1:]:
            maps.append(layer.infer(self._pool(maps[-1])))
        return maps

    def reconstruct(self, layer_index: int, z: Any) -> np.ndarray:
        """Layer ``layer_index``'s maps projected down to image space: reconstruct through that
        layer, unpool with the switches of the last :meth:`infer`, reconstruct through the layer
        below, and so on."""
        if not 0 <= layer_index < len(self.layers):
            raise ValueError(f"layer_index must be in [0, {len(self.layers) - 1}], "
                             f"not {layer_index}")
        if layer_index > len(self.switches):
            raise ValueError("reconstruct needs the pooling switches: call infer first")
        out = self.layers[layer_index].reconstruct(z)
        for below in range(layer_index - 1, -1, -1):
            switches, size = self.switches[below]
            out = out if self.pool == 1 else unpool(out, switches, self.pool, size)
            out = self.layers[below].reconstruct(out)
        return out

    def fit(self, images: Any, epochs: int = 1, batch_size: int = 32,
            progress: bool = True) -> list[list[float]]:
        """Greedy layer-wise learning: fit layer 1 on the images, infer and pool its maps of every
        image, fit layer 2 on those, and so on.  Returns each layer's costs per batch."""
        data = np.asarray(images)
        costs = []
        for index, layer in enumerate(self.layers):
            costs.append(layer.fit(data, epochs, batch_size, progress))
            if index + 1 < len(self.layers):
                pooled = []
                for start in range(0, data.shape[0], batch_size):
                    self.switches = []
                    pooled.append(self._pool(layer.infer(data[start:start + batch_size])))
                data = np.concatenate(pooled)
        self.switches = []
        return costs

    def config(self) -> dict:
        """JSON-safe: {"pool": p, "layers": [each layer's config]}."""
        return {"pool": self.pool, "layers": [layer.config() for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict, filters_list: Sequence[Any] | None = None) -> DeconvNet:
        """A net built from :meth:`config`'s dict, with each layer's filters when given."""
        specs = config["layers"]
        filters_list = [None] * len(specs) if filters_list is None else list(filters_list)
        if len(filters_list) != len(specs):
            raise ValueError(f"filters_list has {len(filters_list)} entries for "
                             f"{len(specs)} layers")
        pairs = zip(specs, filters_list, strict=True)
        return cls([DeconvLayer.from_config(spec, f) for spec, f in pairs], pool=config["pool"])
