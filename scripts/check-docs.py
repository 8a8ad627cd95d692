#!/usr/bin/env python3
"""Checks that what the code comments and the docs cite exists (run by scripts/test.sh right after
check-size.py). Prints one `file:line: problem` per violation and exits 1 if there is any.

Usage: check-docs.py [ROOT]  (default: the repository holding this script; ROOT may be another
checkout, e.g. a `git worktree` of an older commit).

Files read: the repository's own text files (`git ls-files --cached --others --exclude-standard`,
so build trees and other ignored outputs are skipped; without git, a walk that skips build*/ and
dot folders) with the suffixes .cpp .hpp .h .c .py .sh .cmake, CMakeLists.txt, and the Markdown
files README.md and docs/*.md. Generated files (docs/img/*.json, *.csv) are not read.

Notes (PyTorch style). A note is DEFINED by a comment line, only whitespace before its comment
marker (//, ///, #), whose text is `Note [Name]` alone or `Note [Name]. ` followed by the text,
e.g. `// Note [The step]. A minibatch of B rows ...`. Any other `Note [Name]` in a comment or a
doc is a CITATION: `see Note [Name]`, `(Note [Name] in engine.hpp)`, a comment after code
(`bool owner_;  // Note [Name]`), and `// Note [Name]: ...` (a colon cites; a period defines).
Python docstrings are not comments and are not read.
A citation may wrap onto the next line (`Note [Owner` / `computes]`). Checks:
  (a) every cited note has exactly one definition;
  (b) no note is defined twice;
  (c) a citation that names the file holding the note (`Note [X] in F`, `F, Note [X]`,
      `F: Note [X]`, F a file name or path ending .hpp/.cpp/.h/.py) names the defining file.
Markdown files define no notes; every `Note [X]` in them is a citation.

Paths. Read in code comments (// and # comments, whole-line or trailing, outside string
literals) and in all of README.md and docs/*.md. Checks:
  (d) a REPOSITORY PATH, a word starting with one of the top-level folders (src/ include/
      parallel/ python/ scripts/ tests/ docs/ examples/ fuzz/ cmake/) that is not itself part of a
      longer path (/usr/share/..., build/python, https://.../src/... are skipped), must name an
      existing file or folder: from the repository root, or from an include root
      (include/dptrain/, parallel/include/dptrain/: `parallel/row_partition.hpp` is the header
      included as "dptrain/parallel/row_partition.hpp"); a path starting `dptrain/` is tried
      under include/, parallel/include/ and python/. A `*` in it is a glob (`src/cli/cost_model.*`).
  (e) a MARKDOWN LINK target `[text](target)` in README.md or docs/*.md, unless it is a URL
      (scheme:), a mail address or an anchor (#...), must exist relative to the Markdown file.
  (f) a BARE FILE NAME of the project's own kinds (a word ending .hpp .cpp .py .sh .md, not part
      of a path) must be the name of some file in the repository (`train_epochs.hpp`,
      `DESIGN.md` when neither exists). Names in <angle brackets> (system headers), the
      external files in EXTERNAL_NAMES and the run-time files in GENERATED_NAMES are skipped. Other suffixes (.h, .cmake, .csv, .dpt,
      .onnx, .json, .png, ...) are not checked as bare names: they are mostly system headers,
      CMake package files of other projects, or example data and outputs of commands
      (`--save m.dpt`, `--out predictions.csv`), which need not exist.
"""
import fnmatch
import os
import pathlib
import re
import subprocess
import sys

SOURCE_SUFFIXES = (".cpp", ".hpp", ".h", ".c", ".py", ".sh", ".cmake")
TOP_FOLDERS = ("src", "include", "parallel", "python", "scripts", "tests", "docs", "examples",
               "fuzz", "cmake")
INCLUDE_ROOTS = ("include/dptrain/", "parallel/include/dptrain/")
OWN_KINDS = ("hpp", "cpp", "py", "sh", "md")
# Files of other projects that comments name on purpose (not in this repository).
EXTERNAL_NAMES = {"setup.cfg", "conftest.py"}
# Files that exist only at run time, written by the script that names them.
GENERATED_NAMES = set()

NOTE = re.compile(r"Note \[([^\]]+)\]")
DEFINITION = re.compile(r"^\s*(?://+|#+)\s*Note \[([^\]]+)\](?:\.\s+\S.*)?\s*$")
COLON_START = re.compile(r"^\s*(?://+|#+)\s*Note \[([^\]]+)\]:")
FILE_AFTER = re.compile(r"^\s*(?:in|\()\s*`?([\w./-]+\.(?:hpp|cpp|h|py))\b")
FILE_BEFORE = re.compile(r"`?([\w./-]+\.(?:hpp|cpp|h|py))`?\s*[,:]\s*$")
REPO_PATH = re.compile(r"(?<![\w/.~$-])((?:%s)/[\w./*+-]*|dptrain/[\w./*+-]+)" % "|".join(TOP_FOLDERS))
BARE_NAME = re.compile(r"(?<![\w/.*<-])([\w+-][\w.+-]*\.(?:%s))(?![\w/>-])" % "|".join(OWN_KINDS))
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


def repo_files(root):
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], check=True, capture_output=True).stdout
        names = [n for n in out.decode().split("\0") if n]
        return sorted(n for n in names if (root / n).is_file())
    except (OSError, subprocess.CalledProcessError):
        found = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not d.startswith((".", "build"))]
            rel = pathlib.Path(folder).relative_to(root)
            found += [str(rel / f) if str(rel) != "." else f for f in files]
        return sorted(found)


def is_checked(name):
    if name == "README.md" or (name.startswith("docs/") and name.endswith(".md")):
        return True
    return name.endswith(SOURCE_SUFFIXES) or name.endswith("CMakeLists.txt")


def comment_text(line, name):
    """The comment part of one line of code ('' if none), string literals skipped."""
    markers = ("//",) if name.endswith((".cpp", ".hpp", ".h", ".c")) else ("#",)
    quote = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'" and not (ch == "'" and markers == ("//",) and i > 0 and
                                   line[i - 1].isalnum()):  # C++14 digit separators
            quote = ch
        elif any(line.startswith(m, i) for m in markers):
            if markers == ("#",) and i > 0 and not line[i - 1].isspace():
                i += 1
                continue  # ${x#y}, a#b: not a comment
            if markers == ("#",) and line.startswith("#include", i):
                return ""
            return line[i:]
        i += 1
    return ""


def python_comments(lines, texts):
    """Drops what comment_text took for comments inside triple-quoted strings (docstrings)."""
    out, inside = [], None
    for line, text in zip(lines, texts):
        starts_inside = inside
        for q in re.findall(r'"""|\'\'\'', line):
            if inside is None:
                inside = q
            elif q == inside:
                inside = None
        out.append("" if starts_inside or '"""' in line or "\'\'\'" in line else text)
    return out


def inside(span, spans):
    return any(a <= span[0] and span[1] <= b for a, b in spans)


def strip_marker(text):
    return re.sub(r"^\s*(?://+|#+|\*)?\s*", "", text)


class Checker:
    def __init__(self, root):
        self.root = root
        self.files = repo_files(root)
        self.paths = set(self.files)
        for f in self.files:  # folders too
            parts = f.split("/")
            for i in range(1, len(parts)):
                self.paths.add("/".join(parts[:i]))
        self.basenames = {f.rsplit("/", 1)[-1] for f in self.files}
        self.problems = []
        self.definitions = {}  # note -> [(file, line)]
        self.citations = []    # (note, file, line, named file or None)
        self.colon_lines = {}  # note -> whole-line comments spelling it with a colon (hints)

    def problem(self, where, text):
        self.problems.append(f"{where}: {text}")

    def exists(self, path, base=""):
        path = path.rstrip("/")
        candidates = [path]
        if base:
            candidates = [os.path.normpath(os.path.join(base, path))]
        elif path.startswith("dptrain/"):
            candidates = ["include/" + path, "parallel/include/" + path, "python/" + path]
        else:
            candidates += [r + path for r in INCLUDE_ROOTS]
        for c in candidates:
            if "*" in c:
                if any(fnmatch.fnmatch(p, c) for p in self.paths):
                    return True
            elif c in self.paths:
                return True
        return False

    def scan(self):
        for name in self.files:
            if not is_checked(name):
                continue
            try:
                lines = (self.root / name).read_text(encoding="utf-8").splitlines()
            except UnicodeDecodeError:
                continue
            markdown = name.endswith(".md")
            texts = [line if markdown else comment_text(line, name) for line in lines]
            if name.endswith(".py"):
                texts = python_comments(lines, texts)
            for n, text in enumerate(texts, 1):
                where = f"{name}:{n}"
                whole_line = not markdown and text and lines[n - 1].strip() == text.strip()
                self.notes(where, text, texts[n] if n < len(texts) else "", whole_line)
                if text:
                    self.path_words(where, text, name if markdown else None)

    def notes(self, where, text, next_text, whole_line):
        if not text:
            return
        d = DEFINITION.match(text) if whole_line else None
        colon = COLON_START.match(text) if whole_line else None
        if colon:
            self.colon_lines.setdefault(" ".join(colon.group(1).split()), []).append(where)
        if d:
            self.definitions.setdefault(" ".join(d.group(1).split()), []).append(where)
            return
        joined = text + " " + strip_marker(next_text)
        for m in NOTE.finditer(joined):
            if m.start() >= len(text):
                break
            note = " ".join(m.group(1).split())
            after = FILE_AFTER.match(joined[m.end():])
            before = FILE_BEFORE.search(joined[:m.start()])
            named = (after or before).group(1) if (after or before) else None
            self.citations.append((note, where, named))

    def path_words(self, where, text, markdown_name):
        seen, spans = set(), []
        if markdown_name:
            base = os.path.dirname(markdown_name)
            for m in MD_LINK.finditer(text):
                spans.append(m.span(1))  # a link's target is checked once, as a link
                target = m.group(1).split("#", 1)[0]
                if not target or re.match(r"^[a-zA-Z][\w+.-]*:", m.group(1)):
                    continue
                seen.add(target.rstrip("/"))
                if not self.exists(target, base or "."):
                    self.problem(where, f"link target '{m.group(1)}' does not exist")
        for m in REPO_PATH.finditer(text):
            path = m.group(1).rstrip(".,;:")
            if path in seen or path.rstrip("/") in seen or inside(m.span(1), spans):
                continue
            seen.add(path)
            if not self.exists(path):
                self.problem(where, f"path '{path}' does not exist")
        for m in BARE_NAME.finditer(text):
            word = m.group(1)
            if inside(m.span(1), spans):
                continue
            if word in EXTERNAL_NAMES or word in GENERATED_NAMES or word in self.basenames:
                continue
            self.problem(where, f"file '{word}' matches no file in the repository")

    def check_notes(self):
        for note, places in sorted(self.definitions.items()):
            if len(places) > 1:
                for p in places:
                    self.problem(p, f"Note [{note}] defined {len(places)} times "
                                    f"({', '.join(places)})")
        for note, where, named in self.citations:
            places = self.definitions.get(note, [])
            if not places:
                hint = self.colon_lines.get(note)
                self.problem(where, f"Note [{note}] is cited but never defined" +
                             (f" ({hint[0]} spells it `Note [{note}]:`, which cites; "
                              f"`Note [{note}]. text` defines it)" if hint else ""))
            elif named and len(places) == 1:
                defined_in = places[0].rsplit(":", 1)[0]
                if not ("/" + defined_in).endswith("/" + named):
                    self.problem(where, f"Note [{note}] cited in {named}, but it is defined at "
                                        f"{places[0]}")


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                        pathlib.Path(__file__).resolve().parent.parent).resolve()
    c = Checker(root)
    c.scan()
    c.check_notes()
    for p in c.problems:
        print(p)
    print(f"check-docs: {len(c.definitions)} notes defined, {len(c.citations)} citations, "
          f"{len(c.problems)} problems", file=sys.stderr)
    return 1 if c.problems else 0


if __name__ == "__main__":
    sys.exit(main())
