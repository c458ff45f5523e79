"""Run the tests on one torch thread.

The models in the tests are tiny: a second intra-op thread saves nothing, and on a machine
busy with other processes the threads wait on each other, making the suite several times slower.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
