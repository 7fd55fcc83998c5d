"""SIGTERM and SIGINT stop the process within a deadline, whatever it is doing.

The first signal asks for a graceful stop (``StopSignals.requested`` is set on the loop:
adapters stop, the store closes). The process must be gone within ``deadline`` seconds even
when the loop never gets to run again, and what blocks it decides what can still act:

* the loop is blocked in code that releases the GIL (``time.sleep``, blocking I/O, a C
  extension computing without the GIL) or in C code that checks for signals (the ``re``
  engine does every few thousand steps, so a catastrophic regex counts here): the
  Python-level handler still runs in the main thread and arms
  ``faulthandler.dump_traceback_later(deadline, exit=True)``, a timer on a C thread that
  needs no GIL: at the deadline it writes every thread's stack to stderr and exits 1.
* the loop is blocked in C code that holds the GIL and never checks for signals (big-int
  arithmetic, ``sum`` over a huge range, many C extensions): no Python code runs anywhere
  in the process, so neither a signal handler nor a thread can act (a thread in
  ``signal.sigwait`` was measured waking only when such a call ended). What still runs is
  C: the interpreter's low-level signal handler writes the signal number to the *wakeup
  fd* without the GIL. That fd is a pipe to a small sentinel process (``SENTINEL``), which
  waits for SIGTERM/SIGINT bytes; if this process has not exited ``deadline + 1`` seconds
  later, it asks for a stack dump (SIGUSR1, registered with ``faulthandler``, which needs
  no GIL either) and sends SIGKILL. The sentinel exits as soon as the pipe closes, i.e.
  when this process exits, however it exits.

A second signal stops at once (status 1). ``asyncio``'s ``loop.add_signal_handler`` is not
used: it would take the wakeup fd for itself.
"""

from __future__ import annotations

import asyncio
import atexit
import faulthandler
import logging
import os
import signal
import subprocess
import sys
from types import FrameType, TracebackType
from typing import Any

log = logging.getLogger(__name__)

# ``docker stop`` and most supervisors send SIGKILL 10 s after SIGTERM; be gone before,
# the sentinel included (DEADLINE_S + SENTINEL_EXTRA_S + 0.5 s for the stack dump).
DEADLINE_S = 7.0
SENTINEL_EXTRA_S = 1.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

# Run with -I -S: no site, no environment, nothing imported from the project.
SENTINEL = """\
import os, select, signal, sys, time
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)  # only the pipe tells it what to do
pid, after, wanted = int(sys.argv[1]), float(sys.argv[2]), {int(s) for s in sys.argv[3:]}

def closed_within(seconds):
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if select.select([0], [], [], left)[0] and not os.read(0, 256):
            return True
    return False

while True:
    data = os.read(0, 256)
    if not data:
        sys.exit(0)  # the process exited: nothing to watch
    if wanted & set(data):
        break
if closed_within(after):
    sys.exit(0)
os.write(2, b"kindred: still running %.0f s after the stop signal; killing it\\n" % after)
os.kill(pid, signal.SIGUSR1)  # faulthandler: every thread's stack on stderr
if not closed_within(0.5):
    os.kill(pid, signal.SIGKILL)
"""


class StopSignals:
    """Install in the main thread, with the loop running; ``requested`` is set on the first
    signal. Leaving the ``with`` block restores the previous handlers unless a stop is under
    way: then the deadline and the sentinel stay until the process exits."""

    def __init__(self, deadline: float = DEADLINE_S) -> None:
        self.deadline = deadline
        self.requested = asyncio.Event()
        self.signal: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: dict[int, Any] = {}
        self._sentinel: subprocess.Popen[bytes] | None = None
        self._pipe = -1
        self._old_wakeup = -1

    def __enter__(self) -> StopSignals:
        self._loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)
        if os.name == "posix":
            self._start_sentinel()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.signal is not None:
            # Stopping: every safeguard stays until the process is gone. A normal exit
            # still ends the sentinel (a forced one closes its pipe, which ends it too).
            atexit.register(self._end_sentinel)
            return
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        if self._sentinel is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            faulthandler.unregister(signal.SIGUSR1)
            self._end_sentinel()

    def _end_sentinel(self) -> None:
        if self._sentinel is None:
            return
        os.close(self._pipe)  # the sentinel reads end-of-file and exits
        try:
            self._sentinel.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._sentinel.kill()
        self._sentinel = None

    def _start_sentinel(self) -> None:
        read, write = os.pipe()  # not inheritable: only the sentinel gets the read end
        try:
            self._sentinel = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    "-c",
                    SENTINEL,
                    str(os.getpid()),
                    str(self.deadline + SENTINEL_EXTRA_S),
                    *(str(int(s)) for s in STOP_SIGNALS),
                ],
                stdin=read,
                stdout=subprocess.DEVNULL,
                # Its own session: a terminal's Ctrl-C goes to this process, not to it.
                start_new_session=True,
            )
        except OSError as exc:
            os.close(write)
            log.warning("no stop sentinel (%s): a stop can wait on code that holds the GIL", exc)
            return
        finally:
            os.close(read)
        os.set_blocking(write, False)  # set_wakeup_fd requires it
        self._pipe = write
        self._old_wakeup = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Runs in the main thread between two bytecodes, possibly inside the loop's own
        # code: only signal-safe steps here (asyncio's own handlers do the same).
        if self.signal is not None:
            os.write(2, b"kindred: second stop signal; exiting now\n")
            os._exit(1)
        self.signal = signum
        faulthandler.dump_traceback_later(self.deadline, exit=True)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._request)

    def _request(self) -> None:
        name = signal.Signals(self.signal).name if self.signal else "a signal"
        log.info("%s received: stopping (at most %.0f s)", name, self.deadline)
        self.requested.set()
