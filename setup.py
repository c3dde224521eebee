"""Packaging: every package folder under iam_gov/, connectors/ and tui/ is found, not listed.

connectors/ and tui/ are top-level folders in the repository but install under the iam_gov
name (``package-dir`` in pyproject.toml), so that nothing squats generic import names; a new
connector package needs no line anywhere to be installed.
"""

import tomllib
from pathlib import Path

from setuptools import find_packages, setup

root = Path(__file__).resolve().parent
package_dir = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
    "package-dir"
]
packages = []
for name, folder in package_dir.items():
    packages.append(name)
    packages.extend(f"{name}.{sub}" for sub in find_packages(str(root / folder)))
# iam_gov's own folder has no connectors/ or tui/: those come from their own folders above.
setup(packages=sorted(set(packages)))
