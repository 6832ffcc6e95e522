"""Options one variant run receives from the driver (passed as JSON on the command line)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from bench.timing import WindowRule


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """What one runner process measures, and for how long."""

    window: WindowRule = WindowRule()
    extras: bool = True  # evaluate, checkpoint, export and predict figures (K-independent)
    export: bool = True  # with extras: also export and time the serving signature (--quick leaves it out)
    eval_batches: int = 20
    predict_batches: int = 50
    eval_calls: int = 2  # evaluate is called this many times; each is timed

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunOptions:
        raw: dict[str, Any] = json.loads(text)
        window = WindowRule(**raw.pop("window", {}))
        return cls(window=window, **raw)
