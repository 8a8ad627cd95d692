"""Builds the Python package for `pip install --no-build-isolation .` (pyproject.toml).

The extension dptrain._core is built by this repository's CMake (Release, -DDPTRAIN_PYTHON=ON,
tests off) for the interpreter running pip, then copied where setuptools expects it; the
pure-Python files come from python/dptrain. CMake finds the C++ dependencies among the system's
packages (scripts/setup.sh installs them); nothing is downloaded. DPTRAIN_CMAKE_ARGS adds
configure options (e.g. "-DDPTRAIN_NATIVE=ON" for a module built for this CPU alone; the default
runs on any x86-64-v3 CPU).
"""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = Path(self.build_temp).resolve() / "cmake"
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
            "-DDPTRAIN_PYTHON=ON", "-DDPTRAIN_BUILD_TESTS=OFF",
            f"-DPython3_EXECUTABLE={sys.executable}",
            *shlex.split(os.environ.get("DPTRAIN_CMAKE_ARGS", "")),
        ]
        if shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        subprocess.run(configure, check=True)
        subprocess.run(["cmake", "--build", str(build), "--target", "dptrain_python",
                        "--parallel", str(os.cpu_count() or 1)], check=True)
        built = next((build / "python" / "dptrain").glob("_core*.so"), None)
        if built is None:
            sys.exit(f"setup.py: CMake built no dptrain/_core module in {build / 'python'}")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


setup(
    packages=["dptrain"],
    package_dir={"": "python"},
    package_data={"dptrain": ["_core.pyi", "py.typed"]},
    ext_modules=[Extension("dptrain._core", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": "build-pip"}, "egg_info": {"egg_base": "build-pip"}},
)
