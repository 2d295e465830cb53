"""A benchmark's child process that answers one JSON line per command (shared by the benches).

The parent keeps big synthetic data alive in a child between timed rounds, and reads the child's
whole-life peak memory when it ends (``os.wait4``'s ``ru_maxrss``), which the parent's own
figures would not show.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


class JsonChild:
    """``python SCRIPT --child ARGUMENTS``, asked commands on stdin, answering JSON lines."""

    def __init__(self, script: str, arguments: list[str], label: str) -> None:
        command = [sys.executable, os.path.abspath(script), "--child", *arguments]
        self.label = label
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def ask(self, command: str | None = None) -> dict[str, Any]:
        """Send ``command`` (if any) and read the child's one-line JSON answer."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None
        assert stdout is not None
        if command is not None:
            stdin.write(command + "\n")
            stdin.flush()
        line = stdout.readline()
        if not line:
            raise SystemExit(f"{self.label} ended early (asked {command!r})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def finish(self) -> tuple[dict[str, Any], float]:
        """Ask ``done``: the last answer and the child's whole-life peak resident MB."""
        summary = self.ask("done")
        _, status, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        if self.process.returncode != 0:
            raise SystemExit(f"{self.label} failed")
        return summary, round(usage.ru_maxrss / 1024, 1)
