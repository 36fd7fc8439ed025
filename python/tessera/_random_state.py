"""``mx.random.state``: the global key as a one-element list, as MLX has it.

Reading ``state[0]`` gives the key the next draw without ``key=`` will split; assigning it sets
that key. Passing the list to ``mx.compile`` as ``inputs`` and ``outputs`` makes the key a traced
input of the compiled function and its split successor an output, so random ops inside (dropout,
sampling) draw new numbers on every call instead of repeating those of the trace::

    state = [model.state, optimizer.state, mx.random.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step(x, y): ...
"""

from tessera import _core


class RandomState(list):
    """A list whose single element is the live global key."""

    def __init__(self):
        super().__init__([None])

    def __len__(self):
        return 1

    def __iter__(self):
        yield _core.random._get_state()

    def _index(self, i):
        if i not in (0, -1):
            raise IndexError(f"mx.random.state has one element (the key); index {i} is out of range.")

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [_core.random._get_state()][i]
        self._index(i)
        return _core.random._get_state()

    def __setitem__(self, i, value):
        self._index(i)
        _core.random._set_state(value)

    def __repr__(self):
        return repr([_core.random._get_state()])


_core.random.state = RandomState()
