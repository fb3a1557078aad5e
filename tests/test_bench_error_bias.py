"""bench/error_bias.py's split of the error over seeds into bias and variance."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
error_bias = pytest.importorskip("error_bias")


def test_split_adds_up_and_finds_a_constant_offset():
    rng = np.random.default_rng(0)
    reference = rng.uniform(0.1, 2.0, (16, 16, 3)).astype(np.float32)
    # no noise, a constant offset: all of the error is bias
    shifted = [reference * 1.2 for _ in range(3)]
    parts = error_bias.split(shifted, reference)
    assert float(parts["variance"].abs().max()) < 1e-10
    assert float(parts["bias"].min()) > 0
    np.testing.assert_allclose(parts["total"].numpy(), parts["bias"].numpy(), rtol=1e-5)
    # zero-mean noise around the reference: the bias estimate averages out near zero
    # while the variance holds the error, and the parts add up to the total exactly
    noisy = [reference * np.exp(rng.normal(0, 0.05, reference.shape)).astype(np.float32)
             for _ in range(64)]
    parts = error_bias.split(noisy, reference)
    np.testing.assert_allclose(parts["total"].numpy(),
                               (parts["bias"] + parts["variance"]).numpy(), rtol=1e-4,
                               atol=1e-9)
    assert float(parts["bias"].mean()) < 0.1 * float(parts["variance"].mean())


def test_means_average_each_method_and_part_over_scenes():
    rows = [("a", 4, "m", "bias", 1.0, [0.5, 0.25, 0.25]),
            ("a", 4, "m", "variance", 3.0, [1.0, 1.0, 1.0]),
            ("b", 4, "m", "bias", 2.0, [1.0, 0.5, 0.5]),
            ("b", 4, "m", "variance", 5.0, [2.0, 2.0, 1.0]),
            ("a", 4, "oidn", "bias", 0.5, [0.5, 0.0, 0.0])]
    table = {(method, part): (n, whole, cells)
             for scene, n, method, part, whole, cells in error_bias.means(rows)}
    assert set(table) == {("m", "bias"), ("m", "variance"), ("oidn", "bias")}
    assert table[("m", "bias")] == (2, 1.5, [0.75, 0.375, 0.375])
    assert table[("m", "variance")] == (2, 4.0, [1.5, 1.5, 1.0])
    assert table[("oidn", "bias")] == (1, 0.5, [0.5, 0.0, 0.0])
