"""The mutation score per module, from the results `mutmut run` left in mutants/ (`make mutate`).

    python -m tests.mutation.report [--survivors] [--min 90] [MODULE ...]

A mutant is one small change to a function (a condition inverted, a number moved by one, a
call's argument dropped); the unit tests kill it when one of them fails. The score of a module
is killed / (killed + survived + untested), leaving out the mutants that could not change the
behaviour, listed with a one-line reason in tests/mutation/equivalent.toml, and those that only
change the letter case of an SQL statement (SQLite reads keywords and names case-insensitively).
Code that runs only at import (decorators, tables), before mutmut switches a mutant on, is listed
in the file's table `unreachable` and counted apart.
`--survivors` lists what lived (`mutmut show NAME` shows the change); `--min` exits 1 when a
module scores lower.
"""

from __future__ import annotations

import argparse
import ast
import copy
import fnmatch
import json
import re
import sys
import tomllib
from collections import Counter
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = ROOT / "mutants"
EQUIVALENT = Path(__file__).with_name("equivalent.toml")

# mutmut's exit codes (mutmut.stats.status_by_exit_code), as this report groups them.
# Killed: a test failed, a time-out, a crash, or the type checker refused the mutant.
KILLED = {1, 3, 36, -24, 24, 152, 255, 37, -11, -9}
SURVIVED = {0, 35}  # every test passed (35: passed, but suspiciously slowly)
UNTESTED = {5, 33}  # no test runs the function
SKIPPED = {34}


def load_equivalent(table: str = "mutants") -> dict[str, str]:
    """Mutant name (or fnmatch pattern of names) -> why it cannot change the behaviour
    (table `mutants`), or why mutmut cannot run it (table `unreachable`)."""
    if not EQUIVALENT.exists():
        return {}
    data = tomllib.loads(EQUIVALENT.read_text())
    reasons: dict[str, str] = data.get(table, {})
    for name, reason in reasons.items():
        if not isinstance(reason, str) or not reason.strip():
            raise SystemExit(f"{EQUIVALENT.name}: {name} needs a one-line reason")
    return reasons


def is_equivalent(name: str, equivalent: dict[str, str]) -> bool:
    return name in equivalent or any(fnmatch.fnmatchcase(name, p) for p in equivalent)


SQL = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|PRAGMA)\b", re.IGNORECASE)


class _FoldSqlCase(ast.NodeTransformer):
    """Lower-cases the text of SQL statements (plain or f-strings), nothing else."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, str) and SQL.match(node.value):
            return ast.Constant(node.value.lower())
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        first = node.values[0] if node.values else None
        if (
            isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and SQL.match(first.value)
        ):
            for part in node.values:
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    part.value = part.value.lower()
        return self.generic_visit(node)


@cache
def _functions(module: str) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse((MUTANTS / module).read_text())
    return {
        node.name: node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def sql_case_only(module: str, name: str) -> bool:
    """The mutant differs from the original function only in the letter case of SQL."""
    functions = _functions(module)
    short = name.rsplit(".", 1)[-1]
    mutant = functions.get(short)
    original = functions.get(short.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
    if mutant is None or original is None:
        return False

    def shape(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
        folded = copy.deepcopy(function)
        folded.name = "f"
        return ast.dump(_FoldSqlCase().visit(folded))

    return shape(mutant) == shape(original)


def not_mutated() -> list[str]:
    """The do_not_mutate globs of pyproject.toml: results left from before they were added
    are not counted."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs: list[str] = data["tool"]["mutmut"].get("do_not_mutate", [])
    return globs


def results() -> dict[str, dict[str, int | None]]:
    """Module path -> mutant name -> exit code (None: not run yet)."""
    found: dict[str, dict[str, int | None]] = {}
    skipped = not_mutated()
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        module = str(meta.relative_to(MUTANTS))[: -len(".meta")]
        if any(fnmatch.fnmatchcase(module, glob) for glob in skipped):
            continue
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if codes:
            found[module] = codes
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="only these (paths or their beginnings)")
    parser.add_argument("--survivors", action="store_true", help="list the mutants that lived")
    parser.add_argument("--min", type=float, help="exit 1 below this score (percent)")
    args = parser.parse_args(argv)
    if not MUTANTS.exists():
        print("no mutants/ folder: run `make mutate` first", file=sys.stderr)
        return 2
    equivalent = load_equivalent()
    unreachable = load_equivalent("unreachable")
    rows = []
    lived: list[tuple[str, str]] = []
    for module, codes in results().items():
        if args.modules and not any(module.startswith(m) for m in args.modules):
            continue
        count: Counter[str] = Counter()
        for name, code in codes.items():
            if is_equivalent(name, equivalent):
                count["equivalent"] += 1
            elif code in SURVIVED and is_equivalent(name, unreachable):
                count["unreachable"] += 1
            elif code in SURVIVED and sql_case_only(module, name):
                count["equivalent"] += 1
            elif code is None:
                count["not run"] += 1
            elif code in KILLED:
                count["killed"] += 1
            elif code in SURVIVED:
                count["survived"] += 1
                lived.append((module, name))
            elif code in UNTESTED:
                count["untested"] += 1
                lived.append((module, name))
            elif code in SKIPPED:
                count["skipped"] += 1
            else:
                count["killed"] += 1  # crashed or suspicious: the tests noticed
        judged = count["killed"] + count["survived"] + count["untested"]
        score = 100.0 * count["killed"] / judged if judged else 100.0
        rows.append((module, score, count))
    print(f"{'module':<48}{'score':>7}{'killed':>8}{'lived':>7}{'untested':>9}{'equiv':>7}"
          f"{'unreach':>9}{'not run':>9}")  # fmt: skip
    for module, score, count in rows:
        print(
            f"{module:<48}{score:>6.1f}%{count['killed']:>8}{count['survived']:>7}"
            f"{count['untested']:>9}{count['equivalent']:>7}{count['unreachable']:>9}"
            f"{count['not run']:>9}"
        )
    if args.survivors:
        for module, name in lived:
            print(f"{module}: {name}")
    if args.min is not None:
        low = [(m, s) for m, s, c in rows if s < args.min and c["not run"] == 0]
        for module, score in low:
            print(f"below {args.min:g} %: {module} ({score:.1f} %)", file=sys.stderr)
        return 1 if low else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
