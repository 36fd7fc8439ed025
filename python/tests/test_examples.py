"""MLX's documented examples with only the import changed (``import mlx.core as mx`` ->
``import tessera.core as mx``)."""

import numpy as np
import pytest

pytest.importorskip("tessera.core")


def test_quick_start():
    import tessera.core as mx

    a = mx.array([1, 2, 3, 4])
    assert a.shape == (4,)
    assert a.dtype == mx.int32
    b = mx.array([1.0, 2.0, 3.0, 4.0])
    assert b.dtype == mx.float32

    c = a + b  # c is not yet evaluated
    mx.eval(c)  # evaluates c
    c = a + b
    assert str(c) == "array([2, 4, 6, 8], dtype=float32)"  # print(c) also evaluates c
    c = a + b
    np.testing.assert_array_equal(np.array(c), np.array([2.0, 4.0, 6.0, 8.0], dtype=np.float32))

    x = mx.array(0.0)
    assert mx.sin(x).item() == 0.0
    assert mx.grad(mx.sin)(x).item() == 1.0
    assert mx.grad(mx.grad(mx.sin))(x).item() == 0.0


def test_linear_regression():
    import tessera.core as mx

    num_features = 100
    num_examples = 1_000
    num_iters = 10_000  # iterations of SGD
    lr = 0.01  # learning rate for SGD

    # True parameters
    w_star = mx.random.normal((num_features,))

    # Input examples (design matrix)
    X = mx.random.normal((num_examples, num_features))

    # Noisy labels
    eps = 1e-2 * mx.random.normal((num_examples,))
    y = X @ w_star + eps

    def loss_fn(w):
        return 0.5 * mx.mean(mx.square(X @ w - y))

    grad_fn = mx.grad(loss_fn)

    w = 1e-2 * mx.random.normal((num_features,))

    for _ in range(num_iters):
        grad = grad_fn(w)
        w = w - lr * grad
        mx.eval(w)

    loss = loss_fn(w)
    error_norm = mx.sum(mx.square(w - w_star)).item() ** 0.5

    print(f"Loss {loss.item():.5f}, |w-w*| = {error_norm:.5f}, ")
    assert loss.item() < 1e-3
    assert error_norm < 0.05
