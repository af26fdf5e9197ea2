"""Suite-wide fixtures: one CITYOPS_HOME per test session, the demo and small twins."""

from __future__ import annotations

import os
import tempfile

import pytest

# One cache folder per session, shared with subprocesses, so the demo twin is built once.
os.environ.setdefault("CITYOPS_HOME", tempfile.mkdtemp(prefix="cityops-test-home-"))


@pytest.fixture(scope="session")
def demo_twin():
    """The Binhai demo twin at resolution 9 (built once per session)."""
    from twin.demo import binhai

    return binhai(resolution=9)


@pytest.fixture(scope="session")
def small():
    """The small synthetic test twin."""
    from twin.testing import small_twin

    return small_twin()
