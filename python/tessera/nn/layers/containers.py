"""Sequential."""

from tessera.nn.layers.base import Module


class Sequential(Module):
    """Calls its modules (or plain callables) in order."""

    def __init__(self, *modules):
        super().__init__()
        self.layers = list(modules)

    def __call__(self, x):
        for m in self.layers:
            x = m(x)
        return x
