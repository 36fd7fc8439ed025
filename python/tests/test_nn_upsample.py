"""nn.Upsample (nearest, linear, cubic; 1-3 spatial axes) against PyTorch's interpolate where the
two agree on coordinates (exact scales), against a NumPy model of MLX's coordinates otherwise;
3-D pooling against PyTorch."""

import itertools

import numpy as np
import pytest

mx = pytest.importorskip("tessera.core")
nn = pytest.importorskip("tessera.nn")
torch = pytest.importorskip("torch")
F = torch.nn.functional


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.array(a), np.asarray(b), rtol=tol, atol=tol)


def torch_interp(x, scale, mode, align_corners=None):
    """x channels-last NumPy -> PyTorch's channels-first interpolate -> channels-last."""
    perm = (0, x.ndim - 1, *range(1, x.ndim - 1))
    back = (0, *range(2, x.ndim), 1)
    y = F.interpolate(torch.tensor(x).permute(*perm), scale_factor=scale, mode=mode, align_corners=align_corners)
    return y.permute(*back).numpy()


def positions(n, scale, align_corners):
    m = int(scale * n)
    i = np.arange(m, dtype=np.float64)
    if align_corners:
        return i * ((n - 1) / (m - 1))
    step = 1 / scale
    return i * step - ((m - 1) * step - n + 1) / 2


def cubic_weight(d, a=-0.75):
    d = np.abs(d)
    return np.where(d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1, (((d - 5) * d + 8) * d - 4) * a)


def reference(x, scales, mode, align_corners):
    """Separable NumPy model of the documented coordinates, in float64."""
    out = x.astype(np.float64)
    for axis, s in enumerate(scales, start=1):
        n = out.shape[axis]
        m = int(s * n)
        mat = np.zeros((m, n))
        if mode == "nearest":
            i = np.arange(m, dtype=np.float64)
            idx = np.round((i + 0.5) * (n / m) - 0.5) if m > n else np.floor(i * (n / m))
            mat[np.arange(m), idx.astype(int)] = 1
        elif mode == "linear":
            p = np.clip(positions(n, s, align_corners), 0, n - 1)
            lo, hi = np.floor(p).astype(int), np.ceil(p).astype(int)
            np.add.at(mat, (np.arange(m), lo), 1 - (p - lo))
            np.add.at(mat, (np.arange(m), hi), p - lo)
        else:
            p = positions(n, s, align_corners)
            base = np.floor(p)
            for off in (-1, 0, 1, 2):
                np.add.at(mat, (np.arange(m), np.clip(base + off, 0, n - 1).astype(int)), cubic_weight(p - base - off))
        out = np.moveaxis(np.tensordot(mat, np.moveaxis(out, axis, 0), axes=1), 0, axis)
    return out


@pytest.mark.parametrize("mode,torch_mode", [("linear", "bilinear"), ("cubic", "bicubic")])
@pytest.mark.parametrize("align_corners", [False, True])
def test_two_axes_match_torch(rng, mode, torch_mode, align_corners):
    img = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    for scale in (2, (2.0, 3.0), (1.0, 4.0)):
        got = nn.Upsample(scale, mode=mode, align_corners=align_corners)(mx.array(img))
        close(got, torch_interp(img, scale, torch_mode, align_corners), tol=1e-5)


def test_one_and_three_axes_match_torch(rng):
    sig = rng.standard_normal((2, 7, 4)).astype(np.float32)
    close(nn.Upsample(3, mode="linear")(mx.array(sig)), torch_interp(sig, 3, "linear", False))
    close(nn.Upsample(2, mode="linear", align_corners=True)(mx.array(sig)), torch_interp(sig, 2, "linear", True))
    vol = rng.standard_normal((1, 3, 4, 2, 2)).astype(np.float32)
    close(nn.Upsample((2, 1, 3), mode="linear")(mx.array(vol)), torch_interp(vol, (2.0, 1.0, 3.0), "trilinear", False))
    close(nn.Upsample(2)(mx.array(vol)), torch_interp(vol, 2, "nearest"))


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_fractional_scales_follow_mlx_coordinates(rng, mode):
    img = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    for scale, ac in itertools.product([(1.5, 2.5), (0.5, 1.7), 1.3], [False, True]):
        if mode == "nearest" and ac:
            continue
        scales = scale if isinstance(scale, tuple) else (scale, scale)
        got = nn.Upsample(scale, mode=mode, align_corners=ac)(mx.array(img))
        close(got, reference(img, scales, mode, ac), tol=2e-5)


def test_integer_input_nearest_keeps_dtype_and_interpolation_promotes():
    x = mx.arange(1, 5).reshape(1, 2, 2, 1)
    near = nn.Upsample(scale_factor=2)(x)
    assert near.dtype == mx.int32
    assert np.array(near).squeeze().tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    lin = nn.Upsample(scale_factor=2, mode="linear")(x)
    assert lin.dtype == mx.float32
    close(np.array(lin).squeeze()[0], [1, 1.25, 1.75, 2])
    aligned = nn.Upsample(scale_factor=2, mode="linear", align_corners=True)(x)
    close(np.array(aligned).squeeze()[1], [5 / 3, 2, 7 / 3, 8 / 3])


def test_gradient_flows_to_the_input(rng):
    img = rng.standard_normal((1, 3, 4, 2)).astype(np.float32)
    g = mx.grad(lambda v: nn.upsample_linear(v, (2.0, 2.0)).sum())(mx.array(img))
    ti = torch.tensor(img).permute(0, 3, 1, 2).requires_grad_()
    F.interpolate(ti, scale_factor=2, mode="bilinear", align_corners=False).sum().backward()
    close(g, ti.grad.permute(0, 2, 3, 1).numpy())


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"\[Upsample\].*'area'"):
        nn.Upsample(2, mode="area")
    with pytest.raises(ValueError, match=r"\[upsample_nearest\].*spatial axis"):
        nn.Upsample(2)(mx.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"One scale per spatial axis.*\(2, 3, 4\)"):
        nn.Upsample((2.0, 2.0), mode="linear")(mx.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="empty"):
        nn.Upsample(0.1, mode="cubic")(mx.zeros((1, 3, 3, 1)))


def test_pool3d_matches_torch(rng):
    vol = rng.standard_normal((2, 4, 6, 5, 3)).astype(np.float32)
    tv = torch.tensor(vol).permute(0, 4, 1, 2, 3)
    got = nn.MaxPool3d(kernel_size=2, stride=(1, 2, 2), padding=1)(mx.array(vol))
    close(got, F.max_pool3d(tv, 2, (1, 2, 2), 1).permute(0, 2, 3, 4, 1).numpy())
    got = nn.AvgPool3d(kernel_size=(2, 3, 2))(mx.array(vol))
    close(got, F.avg_pool3d(tv, (2, 3, 2)).permute(0, 2, 3, 4, 1).numpy())
