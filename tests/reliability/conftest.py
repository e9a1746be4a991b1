from __future__ import annotations

import pytest

from tests.reliability.faults import Faults, install


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Faults:
    """Inject AWS failures; every AWS call the code makes is recorded in ``faults.calls``."""
    return install(monkeypatch)
