#!/usr/bin/env python3
"""Size limits of the code base (docs/ARCHITECTURE.md): no C++ source file over 450 lines and no
function over 80 lines in src/, parallel/ and python/src/ (the CLI and the Python module
included), and parallel/ includes nothing from the rest of dptrain. Prints every violation and exits 1 if there is any.

A function is found the way clang-format lays them out: a line at column 0 (or indented inside a
namespace-less class body is not counted) that opens a brace block and is not a namespace,
class, struct, enum or union; its length runs to the matching closing brace at column 0."""
import pathlib
import re
import sys

MAX_FILE, MAX_FUNCTION = 450, 80
ROOT = pathlib.Path(__file__).resolve().parent.parent
NOT_FUNCTION = re.compile(r"^(namespace|class|struct|enum|union|extern|template\s*<[^>]*>\s*(class|struct))\b")


def functions(lines):
    """Yields (name line number, length) of each top-level function definition."""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line and not line[0].isspace() and not line.startswith(("//", "#", "}")) and \
                not NOT_FUNCTION.match(line):
            # The signature may span lines: find the first '{' or ';' from here.
            j = i
            while j < len(lines) and "{" not in lines[j] and not lines[j].rstrip().endswith(";"):
                j += 1
            if j < len(lines) and "{" in lines[j] and "(" in "".join(lines[i:j + 1]) and \
                    "=" not in lines[i].split("(")[0]:
                depth, k = 0, j
                while k < len(lines):
                    depth += lines[k].count("{") - lines[k].count("}")
                    if depth <= 0:
                        break
                    k += 1
                yield i + 1, k - i + 1
                i = k + 1
                continue
        i += 1


def main():
    problems = []
    for folder in ("src", "parallel", "python/src"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".cpp", ".hpp"):
                continue
            rel = path.relative_to(ROOT)
            lines = path.read_text().splitlines()
            if len(lines) > MAX_FILE:
                problems.append(f"{rel}: {len(lines)} lines (limit {MAX_FILE})")
            for start, length in functions(lines):
                if length > MAX_FUNCTION:
                    problems.append(f"{rel}:{start}: function of {length} lines (limit {MAX_FUNCTION})")
            if folder == "parallel":
                for n, line in enumerate(lines, 1):
                    m = re.match(r'#include "([^"]+)"', line)
                    if m and not m.group(1).startswith("dptrain/parallel/"):
                        problems.append(f"{rel}:{n}: parallel/ includes {m.group(1)}")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
