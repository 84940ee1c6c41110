"""The t quantiles tailgate uses without importing scipy.stats are scipy's own, bit for bit."""

from __future__ import annotations

import pytest
from scipy import stats

from tailgate.analysis._estimate import _t_quantile
from tailgate.analysis._tquantiles import T975


def test_table_is_scipys_t_ppf() -> None:
    assert len(T975) == 1000
    for dof, value in enumerate(T975, start=1):
        assert value == float(stats.t.ppf(0.5 + 0.95 / 2.0, dof)), dof


@pytest.mark.parametrize("confidence", [0.5, 0.8, 0.9, 0.95, 0.99, 0.999])
@pytest.mark.parametrize("dof", [1, 2, 7, 30, 999, 1000, 1001, 12_031, 10**6])
def test_t_quantile_is_scipys_t_ppf(confidence: float, dof: int) -> None:
    assert _t_quantile(confidence, dof) == float(stats.t.ppf(0.5 + confidence / 2.0, dof))
