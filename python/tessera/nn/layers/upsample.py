"""Upsampling of channels-last signals ([N, *spatial, C]) by nearest, linear or cubic interpolation
over any number of spatial axes.

Coordinates follow MLX's (and PyTorch's ``interpolate`` with ``scale_factor``): output index i of
an axis of size N upsampled to M = int(scale * N) samples source position
``(i + 0.5) / scale - 0.5``, or ``i * (N - 1) / (M - 1)`` with ``align_corners``. Linear clamps
that position to the axis; cubic uses Keys' kernel with a = -0.75 and repeats the border samples.
Nearest picks ``round((i + 0.5) * N / M - 0.5)`` when enlarging, ``floor(i * N / M)`` otherwise;
integer scales take the broadcast-and-reshape path (no gather).

Multi-axis interpolation is separable: each spatial axis is interpolated in turn, so an image costs
two 1-D passes rather than a gather of every corner of the 2-D (or 3-D) neighbourhood.
"""

import tessera.core as mx
from tessera.nn.layers.base import Module

_CUBIC_A = -0.75


def _source_positions(n, scale, align_corners):
    m = int(scale * n)
    i = mx.arange(m, dtype=mx.float32)
    if align_corners:
        return i * ((n - 1) / (m - 1)) if m > 1 else i * 0.0
    step = 1.0 / scale
    return i * step - ((m - 1) * step - n + 1) / 2


def _nearest_indices(n, scale):
    m = int(scale * n)
    i = mx.arange(m, dtype=mx.float32)
    if m > n:
        return mx.round((i + 0.5) * (n / m) - 0.5).astype(mx.int32)
    return (i * (n / m)).astype(mx.int32)


def _clamp_index(idx, n):
    return mx.clip(idx, 0, n - 1).astype(mx.int32)


def _linear_taps(n, scale, align_corners):
    pos = mx.clip(_source_positions(n, scale, align_corners), 0, n - 1)
    left = mx.floor(pos)
    frac = pos - left
    return [(_clamp_index(left, n), 1 - frac), (_clamp_index(mx.ceil(pos), n), frac)]


def _cubic_taps(n, scale, align_corners):
    pos = _source_positions(n, scale, align_corners)
    base = mx.floor(pos)
    a = _CUBIC_A
    taps = []
    for offset in (-1, 0, 1, 2):
        d = mx.abs(pos - (base + offset))
        if offset in (0, 1):
            w = ((a + 2.0) * d - (a + 3.0)) * d * d + 1
        else:
            w = (((d - 5) * d + 8) * d - 4) * a
        taps.append((_clamp_index(base + offset, n), w))
    return taps


def _interpolate_axis(x, axis, taps):
    """Weighted sum of gathers along one spatial axis; weights broadcast over the later axes."""
    trailing = x.ndim - axis - 1
    out = None
    for idx, w in taps:
        sample = mx.take(x, idx, axis=axis)
        # float32 weights promote the samples as MLX does (integer and 16-bit inputs give float32).
        term = w.reshape(w.shape + (1,) * trailing) * sample
        out = term if out is None else out + term
    return out


def _scales(name, x, scale_factor):
    dims = x.ndim - 2
    if dims <= 0:
        raise ValueError(f"[{name}] The input needs at least one spatial axis ([N, *spatial, C], 3 or more "
                         f"dimensions) but has shape {x.shape}.")
    if isinstance(scale_factor, (list, tuple)):
        if len(scale_factor) != dims:
            raise ValueError(f"[{name}] One scale per spatial axis is required: scale_factor={tuple(scale_factor)} "
                             f"for an input of shape {x.shape} with {dims} spatial axes.")
        scales = tuple(float(s) for s in scale_factor)
    else:
        scales = (float(scale_factor),) * dims
    for s, n in zip(scales, x.shape[1:-1]):
        if s <= 0 or int(s * n) < 1:
            raise ValueError(f"[{name}] scale_factor {s} turns a spatial axis of size {n} into an empty one.")
    return scales


def upsample_nearest(x, scale_factor):
    scales = _scales("upsample_nearest", x, scale_factor)
    if all(float(int(s)) == s for s in scales):
        # Integer factors: repeat each sample by broadcasting a unit axis after it.
        shape = list(x.shape)
        expanded, target, final = [shape[0]], [shape[0]], [shape[0]]
        for n, s in zip(shape[1:-1], scales):
            expanded += [n, 1]
            target += [n, int(s)]
            final.append(n * int(s))
        expanded.append(shape[-1])
        target.append(shape[-1])
        final.append(shape[-1])
        return mx.broadcast_to(x.reshape(expanded), target).reshape(final)
    for axis, (n, s) in enumerate(zip(x.shape[1:-1], scales), start=1):
        x = mx.take(x, _nearest_indices(n, s), axis=axis)
    return x


def upsample_linear(x, scale_factor, align_corners=False):
    scales = _scales("upsample_linear", x, scale_factor)
    for axis, (n, s) in enumerate(zip(x.shape[1:-1], scales), start=1):
        x = _interpolate_axis(x, axis, _linear_taps(n, s, align_corners))
    return x


def upsample_cubic(x, scale_factor, align_corners=False):
    scales = _scales("upsample_cubic", x, scale_factor)
    for axis, (n, s) in enumerate(zip(x.shape[1:-1], scales), start=1):
        x = _interpolate_axis(x, axis, _cubic_taps(n, s, align_corners))
    return x


class Upsample(Module):
    """Upsamples the spatial axes (1 .. ndim-2) of a channels-last input.

    ``scale_factor`` is one float for every spatial axis or one per axis; ``mode`` is
    ``"nearest"``, ``"linear"`` (bilinear, trilinear, ... on more axes) or ``"cubic"``.
    """

    def __init__(self, scale_factor, mode="nearest", align_corners=False):
        super().__init__()
        if mode not in ("nearest", "linear", "cubic"):
            raise ValueError(f"[Upsample] Got unsupported upsampling algorithm: {mode!r} "
                             "(expected 'nearest', 'linear' or 'cubic').")
        if isinstance(scale_factor, (list, tuple)):
            self.scale_factor = tuple(float(s) for s in scale_factor)
        else:
            self.scale_factor = float(scale_factor)
        self.mode = mode
        self.align_corners = align_corners

    def _extra_repr(self):
        return f"scale_factor={self.scale_factor}, mode={self.mode!r}, align_corners={self.align_corners}"

    def __call__(self, x):
        if self.mode == "nearest":
            return upsample_nearest(x, self.scale_factor)
        if self.mode == "linear":
            return upsample_linear(x, self.scale_factor, self.align_corners)
        return upsample_cubic(x, self.scale_factor, self.align_corners)
