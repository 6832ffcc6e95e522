"""bench/iterations_per_loop.py runs and prints one row per (replicas, K) with the ratio to K=1."""

from __future__ import annotations

import pytest

from bench import iterations_per_loop


def test_benchmark_prints_each_setting(capsys):
    assert iterations_per_loop.main(["--steps", "10", "--repeats", "1", "--loops", "1,10", "--replicas", "1,2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    rows = [line.split() for line in lines[2:]]
    assert [(row[0], row[1], row[2]) for row in rows] == [("1", "1", "10"), ("1", "10", "1"), ("2", "1", "10"),
                                                          ("2", "10", "1")]
    assert rows[0][4] == "1.00" and rows[2][4] == "1.00"
    assert all(float(row[3]) > 0 for row in rows)


def test_benchmark_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit):
        iterations_per_loop.main(["--steps", "15", "--loops", "1,10"])
    assert "--steps=15 must be a multiple of every --loops value; not of [10]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        iterations_per_loop.main(["--loops", "0"])
    assert "expected comma-separated positive integers; received '0'" in capsys.readouterr().err
