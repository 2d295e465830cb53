"""The agent imports nothing of the server: ``pip install medfleet[agent]`` is all a device needs.

Every module of ``medfleet.agent`` is imported in a fresh interpreter, which then reports what
each import added to ``sys.modules``. None of the server stack may appear, nor any ``medfleet``
module outside ``medfleet.agent`` (the top-level ``medfleet`` package, which holds only the
version, is the one exception). A failure names, for each group of forbidden modules, the
first agent module (in name order) whose import loaded it, directly or through other agent
modules it imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Server-only distributions (the ``server`` extra and what it brings), by top-level module.
SERVER_STACK = frozenset(
    {
        "sqlalchemy",
        "alembic",
        "fastapi",
        "starlette",
        "typer",
        "rich",
        "pydantic",
        "argon2",
        "psycopg",
        "uvicorn",
    }
)

# Runs in the child: import the agent's modules one by one, in a stable order, and report the
# modules present before the first import and the ones each import added.
IMPORT_EVERY_AGENT_MODULE = """
import importlib, json, pkgutil, sys

before = set(sys.modules)
seen = set(before)
added = {}

def load(name):
    importlib.import_module(name)
    added[name] = sorted(set(sys.modules) - seen)
    seen.update(sys.modules)

load("medfleet.agent")
package = sys.modules["medfleet.agent"]
for name in sorted(i.name for i in pkgutil.walk_packages(package.__path__, "medfleet.agent.")):
    load(name)
print(json.dumps({"preloaded": sorted(before), "added": added}))
"""


def _forbidden(module: str) -> bool:
    """A server-stack module, or a ``medfleet`` module other than the top level and the agent."""
    top = module.split(".", 1)[0]
    if top in SERVER_STACK:
        return True
    agent = module == "medfleet.agent" or module.startswith("medfleet.agent.")
    return top == "medfleet" and module != "medfleet" and not agent


def _summary(modules: list[str]) -> str:
    """Forbidden modules grouped: ``sqlalchemy``, ``medfleet.signing`` rather than every one."""
    groups = dict.fromkeys(
        ".".join(m.split(".")[: 2 if m.startswith("medfleet.") else 1]) for m in modules
    )
    return ", ".join(groups)


def test_importing_every_agent_module_loads_nothing_of_the_server(tmp_path: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_AGENT_MODULE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert child.returncode == 0, f"importing the agent failed:\n{child.stderr}"
    result = json.loads(child.stdout)
    added: dict[str, list[str]] = result["added"]
    assert "medfleet.agent.cli" in added, f"the walk found too little: {sorted(added)}"

    preloaded = sorted(m for m in result["preloaded"] if _forbidden(m))
    assert not preloaded, f"loaded at start-up, before any agent import: {_summary(preloaded)}"
    culprits = {
        agent_module: _summary(forbidden)
        for agent_module, modules in added.items()
        if (forbidden := [m for m in modules if _forbidden(m)])
    }
    assert not culprits, "agent modules pulled in server code (first importer: what):\n" + (
        "\n".join(f"  {agent}: {what}" for agent, what in culprits.items())
    )
