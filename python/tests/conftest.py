"""Shared fixtures. Every test module imports tessera through pytest.importorskip, so the suite
skips cleanly where the extension was not built."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(0)
