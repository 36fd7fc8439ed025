"""The package as users reach it: after `make build` (which `make test` and `make demo` run), a
plain `python3 -c "import tessera.core as mx"` from any directory, with no PYTHONPATH, imports the
build tessera.core, through the .pth file scripts/register_python.py writes."""

import os
import pathlib
import site
import subprocess
import sys

import pytest



def test_import_without_pythonpath_after_make_build():
    pth = pathlib.Path(site.getusersitepackages()) / "tessera-build.pth"
    if not pth.exists():
        pytest.skip(f"{pth} is absent: the build was not made through `make` (scripts/register_python.py)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", "import tessera, tessera.core as mx; print(tessera.__file__); print(mx.ones(3) + 1)"],
        cwd="/", env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    where, value = out.stdout.splitlines()[:2]
    assert value == "array([2, 2, 2], dtype=float32)"
    assert pathlib.Path(where).parent.parent == pathlib.Path(pth.read_text().strip())

