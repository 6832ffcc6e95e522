"""Shared timing rules, so every path measures warm-up and steady state the same way."""

from __future__ import annotations

import dataclasses
import statistics
import time


@dataclasses.dataclass(frozen=True)
class WindowRule:
    """When warm-up ends and when the measured window is long enough.

    Warm-up lasts at least `warmup_calls` calls and `warmup_seconds`; the window then lasts at
    least `min_calls` calls and `min_seconds`, and at most `max_calls` calls.
    """

    warmup_calls: int = 2
    warmup_seconds: float = 1.0
    min_calls: int = 3
    min_seconds: float = 3.0
    max_calls: int = 1_000_000

    def __post_init__(self) -> None:
        if self.warmup_calls < 1 or self.min_calls < 1:
            raise ValueError(
                f"warmup_calls and min_calls must be >= 1: received warmup_calls={self.warmup_calls}, "
                f"min_calls={self.min_calls}."
            )


class CallClock:
    """Records the end time of every train call (one call = K steps) and says when to stop."""

    def __init__(self, rule: WindowRule, steps_per_call: int, batch_size: int) -> None:
        self.rule = rule
        self.steps_per_call = steps_per_call
        self.batch_size = batch_size
        self.start: float | None = None
        self._cpu_start = 0.0
        self._cpu_first = 0.0
        self.ends: list[float] = []
        self._warm_index: int | None = None
        self._cpu_warm = 0.0  # process CPU seconds (all threads) when the window opened
        self._cpu_end = 0.0

    def begin(self) -> None:
        """Marks the start of training: the time to first step is measured from here."""
        self.start = time.perf_counter()
        self._cpu_start = time.process_time()

    def record(self) -> bool:
        """Notes one finished call; returns True once the measured window is complete."""
        now = time.perf_counter()
        self.ends.append(now)
        if len(self.ends) == 1:
            self._cpu_first = time.process_time()
        rule = self.rule
        if self._warm_index is None:
            n = len(self.ends)
            if n >= rule.warmup_calls and now - self.ends[0] >= rule.warmup_seconds:
                self._warm_index = n - 1
                self._cpu_warm = time.process_time()
            return False
        self._cpu_end = time.process_time()
        calls = len(self.ends) - 1 - self._warm_index
        if calls >= rule.max_calls:
            return True
        return calls >= rule.min_calls and now - self.ends[self._warm_index] >= rule.min_seconds

    def summary(self) -> dict[str, float]:
        """Time to first call, steady examples/sec and call times over the window."""
        if self.start is None or not self.ends:
            raise ValueError("CallClock.summary() needs begin() and at least one record().")
        out: dict[str, float] = {
            "ttfs_s": self.ends[0] - self.start,
            "ttfs_cpu_s": self._cpu_first - self._cpu_start,
            "calls_total": len(self.ends),
        }
        w = self._warm_index
        if w is None or len(self.ends) - 1 <= w:
            return out
        window = self.ends[w:]
        durations = [b - a for a, b in zip(window, window[1:], strict=False)]
        seconds = window[-1] - window[0]
        calls = len(durations)
        examples = calls * self.steps_per_call * self.batch_size
        cpu = self._cpu_end - self._cpu_warm
        out.update(
            window_calls=calls,
            window_s=seconds,
            steady_ex_s=examples / seconds,
            window_cpu_s=cpu,
            # Examples per CPU-second of this process: less sensitive than wall time to other
            # processes competing for the cores (TF's pools may spin, so it is not pure work).
            cpu_ex_s=examples / cpu if cpu > 0 else None,
            call_s_median=statistics.median(durations),
            call_s_min=min(durations),
        )
        return out
