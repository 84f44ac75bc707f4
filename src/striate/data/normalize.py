"""Input preprocessing as in Epelbaum, "Deep learning: Technical introduction" (2017), "Input
layer": mean-centring, optionally divided by the matching standard deviation, with statistics from
the training set only.

With ``X^{(t)}_{fjk}`` the training images (t over the T_train images, f channel, j, k pixel):

* ``mode="channel"``:  ``μ_f   = 1/(T_train·T_0·N_0) Σ_t Σ_j Σ_k X^{(t)}_{fjk}``
  (one mean per channel, averaged over every image and pixel);
* ``mode="pixel"``:    ``μ_fjk = 1/T_train Σ_t X^{(t)}_{fjk}`` (one mean per pixel position);

and the output is ``X̃ = (s·X − μ) / σ`` where ``σ`` is the population standard deviation over
the same index set (``standardize=True``) or 1 (``standardize=False``). ``s`` maps integer pixels
to [0, 1] (``1/255`` for uint8 input, else 1) so that centred-only data keeps a sensible range.
A σ below ``min_std`` (a pixel that is nearly constant over the training set, like MNIST's
corners) is replaced by ``min_std`` so that such pixels are not blown up.

``fit`` streams over the data in chunks of about 2 M values (16 MB of float64), merging the
per-chunk means and squared deviations with Chan et al.'s pairwise update, which is as accurate
as a two-pass computation without a float64 copy of the whole set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrays import fetch_batch

MODES = ("channel", "pixel")
_CHUNK_VALUES = 1 << 21


class Normalizer:
    """Per-channel or per-pixel mean-centring (and standardisation) fitted on training images.

    Call it on a batch ``(N, C, H, W)`` (any real dtype) to get a float32 batch (``dtype``).
    It accepts and ignores an ``rng`` argument so it can sit in a :class:`Compose` with the
    random transforms.
    """

    def __init__(
        self,
        mode: str = "channel",
        standardize: bool = True,
        scale: float | None = None,
        min_std: float = 1e-3,
        dtype: Any = np.float32,
    ):
        if mode not in MODES:
            raise ValueError(f"Normalizer: mode must be one of {MODES}, got {mode!r}")
        if scale is not None and not scale > 0:
            raise ValueError(f"Normalizer: scale must be positive, got {scale}")
        if not min_std > 0:
            raise ValueError(f"Normalizer: min_std must be positive, got {min_std}")
        self.mode = mode
        self.standardize = bool(standardize)
        self.scale = scale
        self.min_std = float(min_std)
        self.dtype = np.dtype(dtype)
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.count = 0

    # -- fitting --------------------------------------------------------------------------------

    def fit(self, data: Any) -> Normalizer:
        """Compute μ (and σ) from training images: an ``(N, C, H, W)`` array or a dataset."""
        axes = (0, 2, 3) if self.mode == "channel" else (0,)
        count, mean, m2 = 0, 0.0, 0.0
        for x in _chunks(data):
            if self.scale is None:
                self.scale = 1.0 / 255.0 if x.dtype == np.uint8 else 1.0
            x = np.asarray(x, dtype=np.float64) * self.scale
            mean_c = x.mean(axis=axes)
            m2_c = ((x - np.expand_dims(mean_c, axes)) ** 2).sum(axis=axes)
            n_c = x.size // mean_c.size  # values behind each statistic
            total = count + n_c
            delta = mean_c - mean
            mean = mean + delta * (n_c / total)
            m2 = m2 + m2_c + delta**2 * (count * n_c / total)
            count = total
        if count == 0:
            raise ValueError("Normalizer.fit: no images given")
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.sqrt(m2 / count)
        self.count = count
        self._prepare()
        return self

    def divisor(self) -> np.ndarray:
        """The σ the output is divided by: the fitted σ floored at ``min_std``, or ones without
        standardisation (what an exported model's input normalisation needs)."""
        if self.std is None:
            raise RuntimeError("Normalizer: not fitted")
        return np.maximum(self.std, self.min_std) if self.standardize else np.ones_like(self.std)

    def _prepare(self) -> None:
        """Fold scale, μ and σ into one multiply-add: X̃ = X·a + b."""
        std = self.divisor()
        shape = (-1, 1, 1) if self.mode == "channel" else self.mean.shape
        self._a = (self.scale / std).reshape(shape).astype(self.dtype)
        self._b = (-self.mean / std).reshape(shape).astype(self.dtype)

    # -- applying -------------------------------------------------------------------------------

    def __call__(self, batch: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        if self.mean is None:
            raise RuntimeError(
                "Normalizer: not fitted; call fit(training_images) or load a state_dict first"
            )
        batch = np.asarray(batch)
        expected = self.mean.shape if self.mode == "pixel" else (self.mean.shape[0],)
        got = batch.shape[1:] if self.mode == "pixel" else batch.shape[1:2]
        if batch.ndim != 4 or got != expected:
            raise ValueError(
                f"Normalizer ({self.mode}): expected a batch (N, {', '.join(map(str, expected))}"
                f"{', H, W' if self.mode == 'channel' else ''}), got shape {batch.shape}"
            )
        out = np.multiply(batch, self._a, dtype=self.dtype)
        out += self._b
        return out

    # -- saving ---------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable statistics (store them with the model checkpoint)."""
        if self.mean is None:
            raise RuntimeError("Normalizer: nothing to save before fit()")
        return {
            "mode": self.mode,
            "standardize": self.standardize,
            "scale": self.scale,
            "min_std": self.min_std,
            "dtype": self.dtype.name,
            "count": self.count,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> Normalizer:
        """Rebuild a fitted Normalizer from :meth:`state_dict` output."""
        missing = {"mode", "standardize", "scale", "mean", "std"} - set(state)
        if missing:
            raise ValueError(f"Normalizer.from_state_dict: missing keys {sorted(missing)}")
        norm = cls(
            state["mode"],
            state["standardize"],
            state["scale"],
            state.get("min_std", 1e-3),
            state.get("dtype", "float32"),
        )
        norm.mean = np.asarray(state["mean"], dtype=np.float64)
        norm.std = np.asarray(state["std"], dtype=np.float64)
        want = 1 if norm.mode == "channel" else 3
        if norm.mean.ndim != want or norm.mean.shape != norm.std.shape:
            raise ValueError(
                f"Normalizer.from_state_dict: mode {norm.mode!r} needs mean and std of rank "
                f"{want} and equal shapes, got {norm.mean.shape} and {norm.std.shape}"
            )
        norm.count = int(state.get("count", 0))
        norm._prepare()
        return norm

    def __repr__(self) -> str:
        fitted = f"fitted on {self.count} values" if self.mean is not None else "not fitted"
        return f"Normalizer(mode={self.mode!r}, standardize={self.standardize}, {fitted})"


def _chunks(data: Any):
    """Consecutive blocks of about 2 M values of an image array or of a dataset's images."""
    images = getattr(data, "images", data)
    if isinstance(images, np.ndarray):
        def get(a: int, b: int) -> np.ndarray:
            return images[a:b]
    else:
        def get(a: int, b: int) -> np.ndarray:
            return np.asarray(fetch_batch(data, np.arange(a, b))[0])
    n = len(images)
    if n == 0:
        return
    step = max(1, _CHUNK_VALUES // max(get(0, 1).size, 1))
    for start in range(0, n, step):
        x = get(start, min(start + step, n))
        if x.ndim != 4:
            raise ValueError(f"Normalizer.fit: images must have shape (N, C, H, W), got {x.shape}")
        yield x
