"""The expression watchdog: one daemon thread that stops an evaluation past its time or memory limit.

An evaluation (`evaluate`) only bumps a per-thread counter and sets a flag; every 20 ms the
watchdog samples them, and an evaluation it sees running with the same counter for its limit
(less one sample: it may have started just after the previous one) gets `ExpressionTimeout`
raised inside it (`PyThreadState_SetAsyncExc`). The same sample reads the process' resident
memory: an evaluation during which it grew by more than `MAX_MEMORY` bytes gets
`ExpressionMemoryError`. An async exception lands between two bytecodes, so it cannot cut a
long C call short: the sandbox (`flowbox.engine.sandbox`) keeps every C-level operation
small, so an evaluation ends within about 100 ms of its limit.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from typing import Any

TIMEOUT = float(os.environ.get("FLOWBOX_EXPRESSION_TIMEOUT", "0.5"))
MAX_MEMORY = int(float(os.environ.get("FLOWBOX_EXPRESSION_MEMORY_MB", "256")) * 1024 * 1024)
INTERVAL = 0.02  # seconds between the watchdog's samples
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class ExpressionTimeout(Exception):
    """Raised inside an evaluation that ran past its deadline (by the watchdog)."""


class ExpressionMemoryError(ExpressionTimeout):
    """Raised inside an evaluation during which the process grew past the memory limit."""


def resident_bytes() -> int:
    """This process' resident memory (0 where /proc is missing: the memory limit is then off)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class _Slot:
    """Per-thread evaluation state the watchdog samples: a counter and an 'active' flag."""

    __slots__ = ("seq", "active", "firing", "fired", "tid", "timeout", "error")

    def __init__(self, tid: int) -> None:
        self.seq = 0
        self.active = False
        self.firing = False
        self.fired = False
        self.tid = tid
        self.timeout = TIMEOUT
        self.error: type[ExpressionTimeout] = ExpressionTimeout


class _Watchdog:
    """One daemon thread that interrupts an evaluation running past its time limit.

    Evaluations only bump a counter and set a flag (no clock, no lock: this is the hot
    path). Every 50 ms the watchdog samples each thread; an evaluation seen active with
    the same counter for longer than its limit gets `ExpressionTimeout` raised inside it.
    The `firing` handshake under `lock` makes sure an interrupt never lands after the
    evaluation has returned.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.slots: dict[int, _Slot] = {}
        self.local = threading.local()
        self.thread: threading.Thread | None = None

    def slot(self) -> _Slot:
        try:
            return self.local.slot
        except AttributeError:
            slot = self.local.slot = _Slot(threading.get_ident())
            with self.lock:
                self.slots[slot.tid] = slot
                if self.thread is None:
                    self.thread = threading.Thread(target=self._loop, name="flowbox-expr-watchdog", daemon=True)
                    self.thread.start()
            return slot

    def finish(self, slot: _Slot) -> bool:
        """Slow path after an evaluation the watchdog looked at; True when it interrupted it.

        Cancels an interrupt that is still pending, so it cannot land in later code.
        """
        with self.lock:
            fired = slot.fired
            slot.fired = False
            if fired:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(slot.tid), None)
            return fired

    def _loop(self) -> None:
        seen: dict[int, tuple[int, float, int]] = {}  # thread -> (counter, first seen, memory then)
        while True:
            time.sleep(INTERVAL)
            now = time.monotonic()
            memory = 0
            for slot in list(self.slots.values()):
                if not slot.active:
                    seen.pop(slot.tid, None)
                    continue
                memory = memory or resident_bytes()
                seq, since, before = seen.get(slot.tid, (-1, now, memory))
                if seq != slot.seq:
                    seen[slot.tid] = (slot.seq, now, memory)
                    continue
                if memory and memory - before > MAX_MEMORY:
                    error: type[ExpressionTimeout] = ExpressionMemoryError
                elif now - since >= slot.timeout - INTERVAL:
                    error = ExpressionTimeout
                else:
                    continue
                with self.lock:
                    slot.firing = True
                    if slot.active and slot.seq == seq and not slot.fired:
                        slot.fired = True
                        slot.error = error
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(slot.tid),
                                                                   ctypes.py_object(error))
                    slot.firing = False
                seen.pop(slot.tid, None)


_watchdog = _Watchdog()


def evaluate(code: Any, namespace: dict[str, Any], timeout: float = TIMEOUT) -> Any:
    """Run compiled expression `code` in `namespace` under the time and memory limits.

    Hot path: a counter and a flag; the lock is only taken when the watchdog acted.
    """
    slot = _watchdog.slot()
    if slot.fired:
        _watchdog.finish(slot)  # left over from an interrupt that landed outside this function
    slot.timeout = timeout
    slot.seq += 1
    slot.active = True
    try:
        try:
            result = eval(code, namespace)  # noqa: S307 - checked and rewritten by the sandbox
        finally:
            slot.active = False
        if (slot.firing or slot.fired) and _watchdog.finish(slot):
            raise slot.error
    except ExpressionTimeout as exc:
        _watchdog.finish(slot)
        if isinstance(exc, ExpressionMemoryError) or slot.error is ExpressionMemoryError:
            slot.error = ExpressionTimeout
            raise ExpressionMemoryError(
                f"expression used more than {MAX_MEMORY // (1024 * 1024)} MB of memory") from None
        raise ExpressionTimeout(f"expression ran longer than {timeout:g} s") from None
    return result

