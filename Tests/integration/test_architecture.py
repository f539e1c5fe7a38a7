"""scripts/check-architecture on a tiny fake tree (its own Sources/ and table, in tmp_path).

Needs neither tramctl nor any peer: standard library + pytest only.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check-architecture"

TABLE = """\
# A small layering: Core ← Schema ← Spool ← Agent.
[modules]
CShim:
Core: Glibc Synchronization
Schema: Core
Spool: Schema Core
    Glibc
Agent: Spool CShim Logging NIO*
Tool: Schema Foundation
agent: Agent

[defined-once]
Backoff
BatchIdentity
"""

FILES = {
    "CShim/module.modulemap": "module CShim [system] { header \"shim.h\" export * }\n",
    "Core/Backoff.swift": "#if canImport(Glibc)\nimport Glibc\n#endif\nimport Synchronization\n\n"
                          "public struct Backoff: Sendable {\n    public var attempt = 0\n}\n",
    "Schema/Identity.swift": "public import Core\n\n/// Not a `struct Backoff`: comments do not count.\n"
                             "public struct BatchIdentity: Hashable {\n    public var sequence: UInt64\n}\n",
    "Spool/Spool.swift": "import Core\n@_exported import Schema\n#if canImport(Glibc)\nimport Glibc\n#endif\n\n"
                         "let note = \"\"\"\n    import Foundation\n    \"\"\"\n/*\nimport Foundation\n*/\n"
                         "// import Foundation\nstruct Spool { let backoff = Backoff() }\n",
    "Agent/Agent.swift": "@testable import Spool\ninternal import CShim\nimport NIOCore\nimport Logging\n",
    "Tool/Tool.swift": "import Foundation\nimport Schema\n",
    "agent/main.swift": "import Agent\n",
}


def make_tree(root: Path, table: str = TABLE, files: dict[str, str] = FILES) -> Path:
    for relative, text in files.items():
        path = root / "Sources" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "scripts").mkdir(parents=True, exist_ok=True)
    (root / "scripts" / "architecture.txt").write_text(table)
    return root


def check(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=30)


def add(root: Path, relative: str, text: str) -> None:
    path = root / "Sources" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def tree(tmp_path) -> Path:
    return make_tree(tmp_path)


def test_a_clean_tree_passes_with_one_summary_line(tree):
    proc = check(tree)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    # 7 module directories; imports: 2 Core, 1 Schema, 3 Spool (none from the string or comments), 4 Agent, 2 Tool, 1 agent
    assert lines[0].startswith("check-architecture: 7 modules, 13 imports, all allowed; Backoff, BatchIdentity defined once")


def test_a_wrong_way_import_fails_naming_file_and_line(tree):
    add(tree, "Schema/Back.swift", "import Core\n\n@testable import Spool\n")
    proc = check(tree)
    assert proc.returncode == 1
    assert "Sources/Schema/Back.swift:3: Schema may not import Spool (allowed: Core)" in proc.stderr
    assert proc.stdout == ""


def test_an_import_inside_can_import_is_checked(tree):
    add(tree, "Schema/Platform.swift", "#if canImport(Glibc)\n    import Glibc\n#endif\n")
    proc = check(tree)
    assert proc.returncode == 1
    assert "Sources/Schema/Platform.swift:2: Schema may not import Glibc" in proc.stderr


def test_foundation_in_an_agent_module_fails(tree):
    add(tree, "Agent/Clock.swift", "public import Foundation\n")
    proc = check(tree)
    assert proc.returncode == 1
    assert "Sources/Agent/Clock.swift:1: Agent may not import Foundation" in proc.stderr
    assert "Sources/Tool" not in proc.stderr          # the tool's Foundation is allowed by its line


def test_a_module_without_a_table_entry_fails(tree):
    add(tree, "Extra/Extra.swift", "import Core\n")
    proc = check(tree)
    assert proc.returncode == 1
    assert "Sources/Extra: module Extra has no entry in scripts/architecture.txt" in proc.stderr


def test_a_second_declaration_fails_with_both_locations(tree):
    add(tree, "Spool/Retry.swift", "import Core\n\nextension Spool {\n    struct Backoff {}\n}\n")
    proc = check(tree)
    assert proc.returncode == 1
    assert "Sources/Core/Backoff.swift:6" in proc.stderr
    assert "Sources/Spool/Retry.swift:4" in proc.stderr
    assert "Backoff declared 2 times" in proc.stderr


def test_a_missing_declaration_fails(tree):
    (tree / "Sources" / "Core" / "Backoff.swift").write_text("import Glibc\n// struct Backoff {}\n")
    (tree / "Sources" / "Spool" / "Spool.swift").write_text("import Core\n")
    proc = check(tree)
    assert proc.returncode == 1
    assert "Backoff must be declared exactly once in Sources/, but is declared nowhere" in proc.stderr


def test_a_cycle_in_the_table_fails(tree):
    (tree / "scripts" / "architecture.txt").write_text(TABLE.replace("Core: Glibc", "Core: Agent Glibc"))
    proc = check(tree)
    assert proc.returncode == 1
    assert "the table allows a cycle" in proc.stderr
    assert "Core → Agent" in proc.stderr


def test_graph_lists_modules_lowest_layer_first(tree):
    proc = check(tree, "--graph")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    names = [line.split()[1] for line in lines]
    assert names.index("Core") < names.index("Schema") < names.index("Spool") < names.index("Agent") < names.index("agent")
    assert "- Spool (layer 2): Schema, Core; external: Glibc" in lines


def test_the_repository_table_parses_and_is_acyclic():
    proc = check(REPO, "--graph")
    assert proc.returncode == 0, proc.stderr
    assert any(line.startswith("- TramAgent ") for line in proc.stdout.splitlines())


def test_it_runs_well_under_a_second_on_the_repository():
    start = time.monotonic()
    check(REPO)   # today's tree may still have known violations; only the time is checked here
    assert time.monotonic() - start < 1.0


def test_the_script_is_executable_python_3():
    assert SCRIPT.read_text().startswith("#!/usr/bin/env python3\n")
    assert SCRIPT.stat().st_mode & 0o111


def test_an_allowed_edge_no_file_uses_fails(tmp_path):
    root = make_tree(tmp_path, table=TABLE.replace("Agent: Spool CShim", "Agent: Spool Core CShim"))
    proc = check(root)
    assert proc.returncode == 1
    assert "Agent allows Core but imports it nowhere" in proc.stderr
