#!/usr/bin/env python3
"""Lets the user who built Tessera `import tessera` from anywhere, with no PYTHONPATH: writes
tessera-build.pth into that user's site-packages, naming the build's package directory (the
compiled extension and the Python sources, BUILD/python). `pip install ./python` replaces this
with a real installation; removing the .pth file undoes it.

Usage: register_python.py BUILD/python
"""

import os
import pathlib
import site
import sys


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    package_root = pathlib.Path(sys.argv[1]).resolve()
    if not list((package_root / "tessera").glob("_core*.so")):
        print(f"python: no built extension under {package_root}/tessera; nothing registered")
        return 0
    if not site.ENABLE_USER_SITE:
        print("python: user site-packages are disabled; use PYTHONPATH or pip install ./python")
        return 0
    user_site = pathlib.Path(site.getusersitepackages())
    user_site.mkdir(parents=True, exist_ok=True)
    pth = user_site / "tessera-build.pth"
    if pth.exists() and pth.read_text().strip() == str(package_root):
        return 0
    tmp = pth.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(f"{package_root}\n")
    tmp.replace(pth)
    print(f"python: `import tessera` now finds {package_root} ({pth})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
