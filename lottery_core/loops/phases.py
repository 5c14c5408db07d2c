"""Long phases announce themselves (the LRR recipe's dense warmup: 10 epochs, about 45 min of
ResNet-20 on a 2-core CPU, before level 0 shows anything).

A :class:`Phase` prints one line to stderr, ``dense warmup: 10 epochs (1950 steps), est.
45 min``, as soon as the time of a step is known: after the second call of the phase (the
first one compiles), or at the start when the phase is one call (a compiled ``lax.scan``
cannot be timed before it ends). With progress on it also draws a tqdm bar. The line is
printed with progress bars off too: it is the one sign of life of a silent phase.
"""

from __future__ import annotations

import sys
import time


def call_pieces(a: int, b: int, python_loop: bool) -> list[tuple[int, int]]:
    """Steps ``[a, b)`` split into the calls that run them: one step per call for a Trainer
    whose ``run_steps`` is a Python loop of single steps (the same steps, no new compilation,
    so a bar can move and a step can be timed), else the whole range (one compiled scan; a
    new length would compile again)."""
    return [(s, s + 1) for s in range(a, b)] if python_loop else [(a, b)]


def minutes(seconds: float) -> str:
    """``est.`` wording: seconds below a minute, else minutes."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds >= 600 else f"{seconds / 60:.1f} min"


class Phase:
    """A phase of ``total`` steps run in ``calls`` calls: :meth:`advance` after each call
    (it blocks on nothing: the caller has the call's results), :meth:`close` at the end."""

    def __init__(self, label: str, total: int, calls: int, progress: bool, stream=None):
        self.label, self.total, self.calls = label, total, calls
        self.stream = sys.stderr if stream is None else stream
        self.done, self.finished_calls = 0, 0
        self.start = self.first_end = time.time()
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="step", leave=False, desc=label.split(":")[0],
                            file=self.stream)
        if calls == 1:
            self.announce("one compiled call, no estimate")

    def announce(self, estimate: str) -> None:
        line = f"{self.label}, {estimate}"
        if self.bar is not None:
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def advance(self, steps: int) -> None:
        now = time.time()
        self.done += steps
        self.finished_calls += 1
        if self.finished_calls == 1:
            self.first_end, self.first_steps = now, steps
        elif self.finished_calls == 2:          # the first call compiled: time the second
            rate = steps / max(now - self.first_end, 1e-9)
            estimate = self.first_end - self.start + (self.total - self.first_steps) / rate
            self.announce(f"est. {minutes(estimate)}")
        if self.bar is not None:
            self.bar.update(steps)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
