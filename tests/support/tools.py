"""Where the command-line tools the tests (and the benchmark) run are found.

`find_tool(name)` is the path of `name`: first in the bin directory of the venv running the
tests (the tools the project venv installs: ruff, hadolint, schemathesis...), then on PATH
(`source ci/lib.sh` puts the binaries ci/install-tools.sh builds there: helm, otelcol-test...),
else None. A name with
a slash is a path and is only checked for being executable. `tool(name)` is the same for a
test: a missing tool fails the test, saying how to install it, instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

INSTALL_HINT = "run ci/install-tools.sh and source ci/lib.sh"


def find_tool(name: str) -> str | None:
    if os.sep not in name and sys.prefix != sys.base_prefix:
        beside = Path(sys.executable).with_name(name)
        if beside.is_file() and os.access(beside, os.X_OK):
            return str(beside)
    return shutil.which(name)


def tool(name: str) -> str:
    """Path of `name`; a missing tool fails the calling test."""
    path = find_tool(name)
    if path is None:
        # Imported here: the benchmark uses find_tool outside pytest.
        import pytest

        pytest.fail(f"{name} is not on PATH: {INSTALL_HINT}", pytrace=False)
    return path
