"""Training from Python: MLX's MLP example (synthetic data standing in for MNIST), the same loop
compiled with captured model and optimizer state, and a small causal transformer LM."""

from functools import partial

import numpy as np
import pytest

mx = pytest.importorskip("tessera.core")
nn = pytest.importorskip("tessera.nn")
optim = pytest.importorskip("tessera.optimizers")


def synthetic_mnist(n=2048, dims=64, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, dims)).astype(np.float32) * 2
    labels = rng.integers(0, classes, n)
    images = centers[labels] + rng.standard_normal((n, dims)).astype(np.float32)
    split = n * 3 // 4
    return images[:split], labels[:split], images[split:], labels[split:]


class MLP(nn.Module):
    def __init__(self, num_layers, input_dim, hidden_dim, output_dim):
        super().__init__()
        layer_sizes = [input_dim] + [hidden_dim] * num_layers + [output_dim]
        self.layers = [nn.Linear(idim, odim) for idim, odim in zip(layer_sizes[:-1], layer_sizes[1:])]

    def __call__(self, x):
        for l in self.layers[:-1]:
            x = mx.maximum(l(x), 0.0)
        return self.layers[-1](x)


def loss_fn(model, X, y):
    return mx.mean(nn.losses.cross_entropy(model(X), y))


def eval_fn(model, X, y):
    return mx.mean(mx.argmax(model(X), axis=1) == y)


def batch_iterate(batch_size, X, y):
    perm = mx.array(np.random.permutation(y.size))
    for s in range(0, y.size, batch_size):
        ids = perm[s : s + batch_size]
        yield X[ids], y[ids]


def test_mlp_example():
    num_layers, hidden_dim, num_classes = 2, 32, 10
    batch_size, num_epochs, learning_rate = 256, 10, 1e-1
    np.random.seed(0)
    mx.random.seed(0)
    train_images, train_labels, test_images, test_labels = map(mx.array, synthetic_mnist())

    model = MLP(num_layers, train_images.shape[-1], hidden_dim, num_classes)
    mx.eval(model.parameters())
    loss_and_grad_fn = nn.value_and_grad(model, loss_fn)
    optimizer = optim.SGD(learning_rate=learning_rate)

    for e in range(num_epochs):
        for X, y in batch_iterate(batch_size, train_images, train_labels):
            loss, grads = loss_and_grad_fn(model, X, y)
            optimizer.update(model, grads)
            mx.eval(model.parameters(), optimizer.state)
        accuracy = eval_fn(model, test_images, test_labels)
        print(f"Epoch {e}: Test accuracy {accuracy.item():.3f}")
    assert accuracy.item() > 0.9


def test_compiled_training_step_with_captured_state():
    np.random.seed(1)
    mx.random.seed(1)
    train_images, train_labels, test_images, test_labels = map(mx.array, synthetic_mnist(seed=1))
    model = MLP(2, train_images.shape[-1], 32, 10)
    mx.eval(model.parameters())
    loss_and_grad_fn = nn.value_and_grad(model, loss_fn)
    optimizer = optim.Adam(learning_rate=1e-2)

    state = [model.state, optimizer.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(x, y):
        loss, grads = loss_and_grad_fn(model, x, y)
        optimizer.update(model, grads)
        return loss

    losses = []
    for _ in range(3):
        for X, y in batch_iterate(256, train_images, train_labels):
            losses.append(step(X, y).item())
    assert losses[-1] < losses[0] * 0.5
    assert optimizer.state["step"].item() == len(losses)
    assert eval_fn(model, test_images, test_labels).item() > 0.9


class TinyLM(nn.Module):
    def __init__(self, vocab, dims, heads, layers):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dims)
        self.transformer = nn.TransformerEncoder(layers, dims, heads, mlp_dims=dims * 2)
        self.out = nn.Linear(dims, vocab)

    def __call__(self, x):
        mask = nn.MultiHeadAttention.create_additive_causal_mask(x.shape[1])
        return self.out(self.transformer(self.embedding(x), mask))


def test_small_transformer_learns_a_sequence():
    mx.random.seed(0)
    vocab, length = 8, 12
    # Next token = (token + 1) % vocab.
    starts = np.random.default_rng(0).integers(0, vocab, 32)
    data = mx.array((starts[:, None] + np.arange(length + 1)[None]) % vocab)
    inputs, targets = data[:, :-1], data[:, 1:]
    model = TinyLM(vocab, 32, 4, 2)
    optimizer = optim.AdamW(learning_rate=1e-2)

    def lm_loss(model, x, y):
        return nn.losses.cross_entropy(model(x), y, reduction="mean")

    loss_and_grad = nn.value_and_grad(model, lm_loss)
    first = None
    for _ in range(40):
        loss, grads = loss_and_grad(model, inputs, targets)
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state)
        first = first if first is not None else loss.item()
    assert loss.item() < 0.2 * first
    pred = mx.argmax(model(inputs[:2]), axis=-1)
    assert (np.array(pred)[:, 2:] == np.array(targets[:2])[:, 2:]).mean() > 0.9
