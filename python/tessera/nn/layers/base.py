"""nn.Module: a dict of parameters (arrays), submodules and containers of them, as MLX's."""

import textwrap

import tessera.core as mx
from tessera.utils import tree_flatten, tree_unflatten


def _unwrap(model, value_key, value, filter_fn, map_fn, is_leaf_fn):
    if is_leaf_fn(model, value_key, value):
        return map_fn(value)
    if isinstance(value, Module):
        return {
            k: _unwrap(value, k, v, filter_fn, map_fn, is_leaf_fn)
            for k, v in value.items()
            if filter_fn(value, k, v)
        }
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = f"{value_key}.{k}"
            out[k] = _unwrap(model, key, v, filter_fn, map_fn, is_leaf_fn) if filter_fn(model, key, v) else {}
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for i, v in enumerate(value):
            key = f"{value_key}.{i}"
            out.append(_unwrap(model, key, v, filter_fn, map_fn, is_leaf_fn) if filter_fn(model, key, v) else {})
        return out
    raise RuntimeError(f"Unexpected leaf {type(value).__name__} found while traversing the module.")


class Module(dict):
    """Base class of layers and models.

    Arrays, submodules and lists/dicts of them assigned as attributes become entries of the
    module's dict, so the module is a tree of parameters that transforms, ``mx.eval`` and the
    optimizers walk. Keys starting with ``_`` are private (not parameters); frozen keys get no
    gradients in ``nn.value_and_grad``.
    """

    __call__: callable

    def __init__(self):
        self._no_grad = set()
        self._training = True

    @property
    def training(self):
        return self._training

    @property
    def state(self):
        """The module itself: its arrays as a tree (for ``mx.compile(inputs=..., outputs=...)``)."""
        return self

    def _extra_repr(self):
        return ""

    def __repr__(self):
        children = tree_flatten(self.children(), is_leaf=lambda x: isinstance(x, Module))
        value = f"{type(self).__name__}({self._extra_repr()}"
        for k, v in children:
            value += "\n" + textwrap.indent(f"({k}): {v!r}", "  ")
        if children:
            value += "\n"
        return value + ")"

    def __getattr__(self, key):
        if key in self:
            return self[key]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {key!r}")

    def __setattr__(self, key, val):
        if isinstance(val, (mx.array, dict, list, tuple)):
            if key in self.__dict__:
                del self.__dict__[key]
            self[key] = val
        else:
            if key in self:
                del self[key]
            super().__setattr__(key, val)

    def __delattr__(self, key):
        if key in self:
            del self[key]
        else:
            super().__delattr__(key)

    # ------------------------------------------------------------ weights
    def load_weights(self, file_or_weights, strict=True):
        """Loads weights from a .npz / .safetensors file or a list of ``(name, array)`` pairs."""
        weights = file_or_weights
        if isinstance(weights, str) or hasattr(weights, "__fspath__"):
            weights = list(mx.load(str(weights)).items())
        if strict:
            new = dict(weights)
            current = dict(tree_flatten(self.parameters()))
            extra = new.keys() - current.keys()
            if extra:
                raise ValueError(f"Received parameters not in model: {', '.join(sorted(extra))}.")
            missing = current.keys() - new.keys()
            if missing:
                raise ValueError(f"Missing parameters: {', '.join(sorted(missing))}.")
            for k, v in current.items():
                if not isinstance(new[k], mx.array):
                    raise ValueError(f"Expected an array for parameter {k}, got {type(new[k]).__name__}.")
                if v.shape != new[k].shape:
                    raise ValueError(f"Expected shape {v.shape} but received shape {new[k].shape} for parameter {k}.")
        if weights:
            self.update(tree_unflatten(list(weights)), strict=False)
        return self

    def save_weights(self, file):
        """Saves the parameters to a .npz or .safetensors file."""
        file = str(file)
        params = dict(tree_flatten(self.parameters()))
        if file.endswith(".npz"):
            mx.savez(file, **params)
        elif file.endswith(".safetensors"):
            mx.save_safetensors(file, params)
        else:
            raise ValueError("Unsupported file extension; use '.npz' or '.safetensors'.")

    # ------------------------------------------------------------ tree views
    @staticmethod
    def is_module(value):
        return isinstance(value, Module)

    @staticmethod
    def valid_child_filter(module, key, value):
        return isinstance(value, (dict, list))

    @staticmethod
    def valid_parameter_filter(module, key, value):
        return isinstance(value, (dict, list, mx.array)) and not key.startswith("_")

    @staticmethod
    def trainable_parameter_filter(module, key, value):
        return Module.valid_parameter_filter(module, key, value) and key not in module._no_grad

    def filter_and_map(self, filter_fn, map_fn=None, is_leaf_fn=None):
        """The entries ``filter_fn(module, key, value)`` accepts, as a tree, leaves mapped by ``map_fn``."""
        map_fn = map_fn or (lambda x: x)
        is_leaf_fn = is_leaf_fn or (lambda m, k, v: not isinstance(v, (Module, dict, list, tuple)))
        return {
            k: _unwrap(self, k, v, filter_fn, map_fn, is_leaf_fn) for k, v in self.items() if filter_fn(self, k, v)
        }

    def parameters(self):
        """Every array of the module (and its submodules) as a tree of dicts and lists."""
        return self.filter_and_map(self.valid_parameter_filter)

    def trainable_parameters(self):
        """The arrays that are not frozen."""
        return self.filter_and_map(self.trainable_parameter_filter)

    def children(self):
        """The direct submodules (in their containers)."""
        return self.filter_and_map(self.valid_child_filter, is_leaf_fn=lambda m, k, v: isinstance(v, Module))

    def leaf_modules(self):
        """The submodules that have no submodules."""

        def leaf(m, k, v):
            return isinstance(v, Module) and len(tree_flatten(v.children())) == 0

        return self.filter_and_map(self.valid_child_filter, is_leaf_fn=leaf)

    def named_modules(self):
        """``(dotted name, module)`` for the module and every submodule."""
        out = []
        stack = [("", self)]
        while stack:
            prefix, m = stack.pop()
            out.append((prefix, m))
            for k, v in tree_flatten(m.children(), is_leaf=lambda x: isinstance(x, Module)):
                stack.append((f"{prefix}.{k}" if prefix else k, v))
        return out

    def modules(self):
        return [m for _, m in self.named_modules()]

    # ------------------------------------------------------------ updates
    def update(self, parameters, strict=True):
        """Replaces arrays of the module with those of the tree ``parameters`` (in place)."""

        def apply(dst, params, path):
            if isinstance(params, dict):
                for k, new in params.items():
                    if k not in dst:
                        if strict:
                            raise ValueError(f'Module does not have parameter named "{path}{k}".')
                        continue
                    cur = dst[k]
                    if isinstance(cur, mx.array):
                        if strict and not isinstance(new, mx.array):
                            raise ValueError(f"Received invalid type {type(new).__name__} for parameter {path}{k}.")
                        dst[k] = new
                    else:
                        apply(cur, new, f"{path}{k}.")
            elif isinstance(params, (list, tuple)):
                for i, new in enumerate(params):
                    cur = dst[i]
                    if isinstance(cur, mx.array):
                        dst[i] = new
                    else:
                        apply(cur, new, f"{path}{i}.")
            elif strict:
                raise ValueError(f"Received invalid type {type(params).__name__} for {path or 'the module'}.")

        apply(self, parameters, "")
        return self

    def update_modules(self, modules, strict=True):
        """Replaces submodules with those of the tree ``modules``."""

        def apply(dst, mods, path):
            if isinstance(mods, dict):
                for k, new in mods.items():
                    if k not in dst:
                        if strict:
                            raise ValueError(f'Module does not have sub-module named "{path}{k}".')
                        continue
                    if isinstance(new, Module):
                        dst[k] = new
                    else:
                        apply(dst[k], new, f"{path}{k}.")
            elif isinstance(mods, (list, tuple)):
                for i, new in enumerate(mods):
                    if isinstance(new, Module):
                        dst[i] = new
                    else:
                        apply(dst[i], new, f"{path}{i}.")

        apply(self, modules, "")
        return self

    def apply(self, map_fn, filter_fn=None):
        """Maps every parameter (those ``filter_fn`` accepts) through ``map_fn``, in place."""
        self.update(self.filter_and_map(filter_fn or self.valid_parameter_filter, map_fn))
        return self

    def apply_to_modules(self, apply_fn):
        """Calls ``apply_fn(name, module)`` on the module and every submodule."""
        for name, m in self.named_modules():
            apply_fn(name, m)
        return self

    def _keys_of(self, keys):
        if keys is None:
            flat = tree_flatten(
                self.filter_and_map(lambda m, k, v: not isinstance(v, Module) and m.valid_parameter_filter(m, k, v))
            )
            return [k for k, _ in flat]
        return [keys] if isinstance(keys, str) else list(keys)

    def freeze(self, *, recurse=True, keys=None, strict=False):
        """Stops gradients for all parameters, or for ``keys`` (e.g. ``"bias"``)."""

        def one(_, m):
            local = m._keys_of(keys)
            if strict and keys is not None:
                for k in local:
                    if k not in m:
                        raise KeyError(f"Module doesn't contain member {k}.")
            m._no_grad.update(local)

        if recurse:
            self.apply_to_modules(one)
        else:
            one("", self)
        return self

    def unfreeze(self, *, recurse=True, keys=None, strict=False):
        """Undoes ``freeze`` for all parameters, or for ``keys``."""

        def one(_, m):
            local = m._keys_of(keys)
            if strict and keys is not None:
                for k in local:
                    if k not in m:
                        raise KeyError(f"Module doesn't contain member {k}.")
            m._no_grad.difference_update(local)

        if recurse:
            self.apply_to_modules(one)
        else:
            one("", self)
        return self

    def train(self, mode=True):
        def set_mode(_, m):
            m._training = mode

        self.apply_to_modules(set_mode)
        return self

    def eval(self):
        return self.train(False)

    def set_dtype(self, dtype, predicate=lambda t: mx.issubdtype(t, mx.floating)):
        """Casts the parameters whose dtype ``predicate`` accepts (floating ones by default)."""
        self.apply(lambda x: x.astype(dtype) if predicate(x.dtype) else x)
