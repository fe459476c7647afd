"""`make mutate`: run mutmut on the behaviour core, then print the score per module.

    python -m tests.mutation.mutate                  # every module (results kept in mutants/)
    python -m tests.mutation.mutate --changed [BASE] # the modules changed since BASE (main)
    python -m tests.mutation.mutate 'ocpp_station.station.sender.*'   # mutant names

mutmut keeps each mutant's result and, on the next run, tests again only the mutants of the
functions that changed; naming modules (or --changed) tests theirs again whatever their
earlier result, so a new test's kills show.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from fnmatch import fnmatch

from tests.mutation.report import ROOT
from tests.mutation.report import main as report


def mutated_globs() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs: list[str] = config["tool"]["mutmut"]["only_mutate"]
    return globs


def changed_modules(base: str) -> list[str]:
    """The mutated .py files changed since `base` (committed, staged or not, or new)."""

    def git(*args: str) -> list[str]:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        return [line for line in out.splitlines() if line]

    merge_base = git("merge-base", base, "HEAD")[0]
    files = set(git("diff", "--name-only", merge_base, "--"))
    files |= set(git("ls-files", "--others", "--exclude-standard"))
    globs = mutated_globs()
    return sorted(
        f
        for f in files
        if f.endswith(".py") and (ROOT / f).exists() and any(fnmatch(f, g) for g in globs)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutant names or patterns (default: all)")
    parser.add_argument(
        "--changed", nargs="?", const="main", metavar="BASE", help="only modules changed since BASE"
    )
    args = parser.parse_args(argv)
    names = list(args.names)
    modules: list[str] = []
    if args.changed is not None:
        modules = changed_modules(args.changed)
        if not modules:
            print(f"no mutated module changed since {args.changed}")
            return 0
        names += [m[: -len(".py")].replace("/", ".") + ".*" for m in modules]
    # mutmut runs from the project root: it reads [tool.mutmut] in pyproject.toml.
    run = subprocess.run([sys.executable, "-m", "mutmut", "run", *names], cwd=ROOT, check=False)
    if run.returncode != 0:
        return run.returncode
    return report(["--survivors", *modules])


if __name__ == "__main__":
    sys.exit(main())
