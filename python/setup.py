"""Packages tessera with its prebuilt extension.

The extension is built by CMake (``make python`` copies it into tessera/); when it is missing this
script configures and builds the repository's ``tessera_python`` target first, for the
interpreter running pip, in $TESSERA_BUILD_DIR (default: the repository's build/).
"""

import glob
import os
import shutil
import subprocess
import sys

from setuptools import find_packages, setup
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def ensure_extension():
    if glob.glob(os.path.join(HERE, "tessera", "_core*.so")):
        return
    build = os.environ.get("TESSERA_BUILD_DIR", os.path.join(ROOT, "build"))
    subprocess.check_call(
        ["cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
         f"-DTESSERA_PYTHON_EXECUTABLE={sys.executable}"]
    )
    subprocess.check_call(["cmake", "--build", build, "--target", "tessera_python"])
    for so in glob.glob(os.path.join(build, "python", "tessera", "_core*.so")):
        shutil.copy2(so, os.path.join(HERE, "tessera"))


class BinaryDistribution(Distribution):
    """The wheel carries a compiled module, so it is tagged for this platform and Python."""

    def has_ext_modules(self):
        return True


if any(cmd in sys.argv for cmd in ("build", "build_py", "bdist_wheel", "install", "develop", "editable_wheel")):
    ensure_extension()

setup(
    packages=find_packages(include=["tessera", "tessera.*"]),
    package_data={"tessera": ["_core*.so"]},
    distclass=BinaryDistribution,
    zip_safe=False,
)
