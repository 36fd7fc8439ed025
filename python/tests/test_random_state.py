"""mx.random.state: the global key as a one-element list, and as captured state of mx.compile
(random ops in a compiled function draw new numbers per call, the same ones as uncompiled)."""

from functools import partial

import numpy as np
import pytest

mx = pytest.importorskip("tessera.core")
nn = pytest.importorskip("tessera.nn")
optim = pytest.importorskip("tessera.optimizers")


def draws(n, shape=(4,)):
    return [np.array(mx.random.uniform(shape=shape)) for _ in range(n)]


def test_state_reads_and_restores_the_global_key():
    mx.random.seed(7)
    assert len(mx.random.state) == 1
    saved = mx.random.state[0]
    assert saved.dtype == mx.uint32 and saved.shape == (2,)
    first = draws(2)
    mx.random.state[0] = saved
    np.testing.assert_array_equal(np.stack(draws(2)), np.stack(first))
    with pytest.raises(IndexError):
        mx.random.state[1]
    with pytest.raises(ValueError):
        mx.random.state[0] = mx.zeros((3,))


def test_compiled_function_with_captured_state_draws_like_uncompiled_code():
    mx.random.seed(11)
    reference = draws(4)
    mx.random.seed(11)
    state = [mx.random.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def noisy(x):
        return x + mx.random.uniform(shape=(4,))

    got = [np.array(noisy(mx.zeros(4))) for _ in range(3)]
    np.testing.assert_allclose(np.stack(got), np.stack(reference[:3]), rtol=0, atol=1e-7)
    # Uncompiled draws continue the same sequence from the compiled step's key.
    np.testing.assert_array_equal(draws(1)[0], reference[3])


def test_without_captured_state_the_trace_keeps_its_numbers():
    @mx.compile
    def noisy(x):
        return x + mx.random.uniform(shape=(4,))

    a, b = np.array(noisy(mx.zeros(4))), np.array(noisy(mx.zeros(4)))
    np.testing.assert_array_equal(a, b)


def test_compiled_training_step_with_dropout_matches_uncompiled():
    def run(compiled):
        mx.random.seed(3)
        model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 1))
        opt = optim.SGD(learning_rate=0.1)
        x = mx.random.normal((8, 6), key=mx.random.key(1))
        y = mx.random.normal((8, 1), key=mx.random.key(2))

        def loss_fn(m, a, b):
            return ((m(a) - b) ** 2).mean()

        grad_fn = nn.value_and_grad(model, loss_fn)

        def step(a, b):
            loss, grads = grad_fn(model, a, b)
            opt.update(model, grads)
            return loss

        if compiled:
            state = [model.state, opt.state, mx.random.state]
            step = partial(mx.compile, inputs=state, outputs=state)(step)
        losses = []
        for _ in range(5):
            losses.append(step(x, y).item())
            mx.eval(model.parameters())
        return losses

    eager, compiled = run(False), run(True)
    np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-6)
    assert len(set(np.round(compiled, 6))) > 1
