#!/usr/bin/env python3
"""Package-closure check: does the package list of scripts/setup.sh bring every file we use?

A green run on a developer's machine says nothing about a new user's: packages installed by hand
(or pulled in by apt's Recommends) are still there. This check asks what a fresh Debian 12 would
have, and fails naming every file we used that such a machine would lack.

1. The closure. What `apt-get --simulate --no-install-recommends install` would install, from an
   empty dpkg status, for the packages of scripts/setup.sh (DPTRAIN_PACKAGES, then
   DPTRAIN_TEST_PACKAGES and DPTRAIN_OPTIONAL_PACKAGES, which a test uses when present), `git`
   (the one thing the README assumes) and every package of priority required or important (what
   a minimal Debian system has).
2. The files we used, each with where it was seen:
   - configure: a fresh `cmake` configure of the project (MPI, oneDNN, hwloc all ON) run under
     `strace -f` here: every file CMake, its Find modules, the package configs and the
     try-compile compilers opened or executed;
   - `--trace LOG`: strace logs (`-e trace=execve,openat -e status=successful`) of the test
     stages that scripts/test.sh runs under strace (the Release suite, the install and pip tests):
     interpreters, tools, data sets, shared libraries and Python modules loaded;
   - `--build DIR`: each build folder's compile dependencies (`ninja -t deps`: every header the
     compiler included), the CMake files its configure read (build.ninja's re-run dependencies),
     the files named in its CMakeCache.txt, and `ldd` of its programs and shared objects.
3. Each file is mapped to the packages that own it (dpkg's own file lists; the path as used, its
   resolved path and the merged-/usr spelling). A file whose owner is not in the closure fails
   the check; so does a file under /usr, /opt or a home folder that no package owns (a hand-built
   tool or another interpreter first on PATH), except files that package scripts generate
   (Python byte code, caches, the locale archive).

Files inside the repository, the build folders, /tmp, /proc, /sys, /dev and /run are ours or the
kernel's and are not checked. Exit status: 0 all covered, 1 files outside the closure, 2 the
check could not run (no apt lists, no strace, bad arguments).

  scripts/check-packages.py --build build --trace build/closure/ctest.log
  scripts/check-packages.py --setup /tmp/old-setup.sh ...   # another package list
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
SKIPPED_PREFIXES = ("/tmp/", "/proc/", "/sys/", "/dev/", "/run/", "/var/tmp/", "/var/lib/apt/",
                    "/var/cache/")
# Files that package scripts write at install time, so no package lists them.
GENERATED = re.compile(r"(/__pycache__/|\.pyc$|^/usr/lib/locale/locale-archive$|"
                       r"^/etc/ld\.so\.cache$|^/etc/alternatives/|\.cache$|/mime/)")
# Files read only because they are there: a fresh machine without them runs the same way.
OPTIONAL_READS = re.compile(
    r"(\.(egg|dist)-info/"  # importlib.metadata lists every installed distribution
    r"|\.pth$"  # the site module reads every .pth file of the site folders
    r"|^/etc/ld\.so\.conf\.d/"  # ldconfig reads every file there
    r"|^/usr/share/locale/locale\.alias$"  # gettext, when present
    # glibc loads the name-service modules this machine's /etc/nsswitch.conf names (libnss-systemd
    # adds itself there); a fresh Debian's says "files", which libc6 brings
    r"|^(/usr)?/lib/[^/]+/libnss_[a-z0-9]+\.so"
    r"|/cmake/GTest/GMockTargets)")  # GTestConfig.cmake: include(GMockTargets.cmake OPTIONAL)
# Where a file that no package owns means a tool or interpreter not from Debian.
FOREIGN_PREFIXES = ("/usr/", "/opt/", "/bin/", "/sbin/", "/lib", "/root/", "/home/")
STRACE_PATH = re.compile(r'\b(?:execve|openat)\((?:AT_FDCWD, )?"((?:[^"\\]|\\.)*)"')
STRACE_PID = re.compile(r"^(\d+) ")
# Programs a tool runs only to describe the machine, when they are there: pip's user agent runs
# `rustc --version` and its vendored distro runs `lsb_release -a`. A fresh machine without them
# installs the same way, so nothing such a process (and what it executes in turn) opens counts.
PROBED_PROGRAMS = {"rustc", "lsb_release"}
# CMakeCache.txt entries that CMakeFindBinUtils fills with the first of several candidates it
# finds (clang: llvm-ar-14, llvm-ar, ..., then binutils' ar): on a machine without LLVM's tools
# the same build takes binutils' tools, which g++ brings.
PROBED_CACHE_ENTRIES = re.compile(
    r"^CMAKE_(ADDR2LINE|AR|DLLTOOL|LINKER|MT|NM|OBJCOPY|OBJDUMP|RANLIB|READELF|STRIP|TAPI"
    r"|(C|CXX)_COMPILER_(AR|RANLIB)):")


def fail(message):
    print(f"check-packages: {message}", file=sys.stderr)
    sys.exit(2)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


# --- the closure --------------------------------------------------------------------------------

def listed_packages(setup):
    script = ('source "$1" >/dev/null; set +u; '
              'printf "%s\\n" "${DPTRAIN_PACKAGES[@]}" "${DPTRAIN_TEST_PACKAGES[@]}" '
              '"${DPTRAIN_OPTIONAL_PACKAGES[@]}"')
    r = run(["bash", "-c", script, "check-packages", setup])
    if r.returncode != 0:
        fail(f"cannot read the package list of {setup}: {r.stderr.strip()}")
    return sorted({p.strip() for p in r.stdout.split() if p.strip()})


def base_packages():
    r = run(["apt-cache", "dumpavail"])
    names, name = set(), None
    for line in r.stdout.splitlines():
        if line.startswith("Package: "):
            name = line.split()[1]
        elif line.startswith("Priority: ") and line.split()[1] in ("required", "important"):
            names.add(name)
    if not names:
        fail("apt knows no packages (run apt-get update first)")
    return names


def closure(packages):
    with tempfile.TemporaryDirectory() as tmp:
        status = os.path.join(tmp, "status")
        open(status, "w").close()
        r = run(["apt-get", "--simulate", "--no-install-recommends", "-o",
                 f"Dir::State::status={status}", "-o", "Debug::NoLocking=1", "install", *packages])
    if r.returncode != 0:
        fail("apt-get --simulate could not install the list on an empty system:\n" + r.stderr)
    got = {m.group(1).split(":")[0] for m in re.finditer(r"^Inst (\S+)", r.stdout, re.M)}
    return got | {p.split(":")[0] for p in packages}


# --- the files used -----------------------------------------------------------------------------

def strace_files(log):
    by_pid, probes = {}, set()
    with open(log, errors="replace") as f:
        for line in f:
            m = STRACE_PATH.search(line)
            if not (m and m.group(1).startswith("/")):
                continue
            path = m.group(1).encode().decode("unicode_escape", "replace")
            pid = STRACE_PID.match(line)
            pid = pid.group(1) if pid else ""
            if "execve(" in line and os.path.basename(path) in PROBED_PROGRAMS:
                probes.add(pid)
            by_pid.setdefault(pid, set()).add(path)
    return set().union(*(files for pid, files in by_pid.items() if pid not in probes or not pid))


def configure_files(tmp):
    log, build = os.path.join(tmp, "configure.strace"), os.path.join(tmp, "configure")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    r = run(["strace", "-f", "-qq", "-e", "trace=execve,openat", "-e", "status=successful",
             "-o", log, "cmake", "-S", ROOT, "-B", build, *generator, "-DCMAKE_BUILD_TYPE=Release",
             "-DDPTRAIN_WITH_MPI=ON", "-DDPTRAIN_ONEDNN=ON", "-DDPTRAIN_HWLOC=ON"])
    if r.returncode != 0:
        print(r.stdout[-3000:] + r.stderr[-3000:], file=sys.stderr)
        fail("the traced configure failed (output above)")
    return strace_files(log) | build_files(build, compiled=False)


def build_files(build, compiled=True):
    files = set()
    cache = os.path.join(build, "CMakeCache.txt")
    if os.path.exists(cache):
        with open(cache, errors="replace") as f:
            for line in f:
                if ("=" in line and not line.startswith(("#", "//"))
                        and not PROBED_CACHE_ENTRIES.match(line)):
                    files.update(v for v in line.split("=", 1)[1].strip().split(";")
                                 if v.startswith("/"))
    ninja = os.path.join(build, "build.ninja")
    if os.path.exists(ninja):
        with open(ninja, errors="replace") as f:
            text = f.read()
        m = re.search(r"^build build\.ninja[^\n]*?RERUN_CMAKE(.*?)(?=\n\S|\n\n)", text, re.M | re.S)
        if m:
            files.update(t for t in m.group(1).replace("$\n", " ").split() if t.startswith("/"))
        if compiled and shutil.which("ninja"):
            deps = run(["ninja", "-C", build, "-t", "deps"]).stdout
            files.update(line.strip() for line in deps.splitlines()
                         if line.startswith("    /"))
    if compiled:
        for path in glob.glob(os.path.join(build, "**", "*"), recursive=True):
            if "CMakeFiles" in path or not os.path.isfile(path) or os.path.islink(path):
                continue
            if not (os.access(path, os.X_OK) or ".so" in os.path.basename(path)):
                continue
            with open(path, "rb") as f:
                if f.read(4) != b"\x7fELF":
                    continue
            for m in re.finditer(r"(?:=> )?(/\S+) \(0x", run(["ldd", path]).stdout):
                files.add(m.group(1))
    return files


# --- the owners ---------------------------------------------------------------------------------

def owners_table():
    table = {}
    for listing in glob.glob("/var/lib/dpkg/info/*.list"):
        package = os.path.basename(listing)[:-len(".list")].split(":")[0]
        with open(listing, errors="replace") as f:
            for line in f:
                table.setdefault(line.rstrip("\n"), set()).add(package)
    return table


def spellings(path, resolve):
    """The path as used (with its folder resolved), or if `resolve` the file it links to; each
    also in merged-/usr form."""
    forms = {path, os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))}
    if resolve:
        forms = {os.path.realpath(path)}
    merged = set()
    for p in forms:
        if re.match(r"/usr/(lib|lib32|lib64|libx32|bin|sbin)/", p):
            merged.add(p[len("/usr"):])
        elif re.match(r"/(lib|lib32|lib64|libx32|bin|sbin)/", p):
            merged.add("/usr" + p)
    return forms | merged


def foreign_code(path):
    """A file no package owns that matters: anything under /usr, /opt, /bin, /sbin or /lib*
    but generated files, and under a home folder the programs, libraries and Python modules
    (another interpreter first on PATH), not the user's own settings."""
    if GENERATED.search(path):
        return False
    if path.startswith(("/root/", "/home/")):
        return os.access(path, os.X_OK) or re.search(r"\.(so(\.[0-9.]+)?|py)$", path) is not None
    return path.startswith(FOREIGN_PREFIXES)


def checked(path, roots):
    if not path.startswith("/") or path.startswith(SKIPPED_PREFIXES):
        return False
    real = os.path.realpath(path)
    if any(real == r or real.startswith(r + "/") for r in roots):
        return False
    return os.path.isfile(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--setup", default=os.path.join(ROOT, "scripts", "setup.sh"),
                    help="the script whose DPTRAIN_PACKAGES/DPTRAIN_TEST_PACKAGES are checked")
    ap.add_argument("--extra", action="append", default=[], help="a package to add to the list")
    ap.add_argument("--build", action="append", default=[], help="a build folder to read")
    ap.add_argument("--trace", action="append", default=[], help="an strace log to read")
    ap.add_argument("--no-configure", action="store_true", help="skip the traced configure")
    args = ap.parse_args()
    if not shutil.which("strace") and not args.no_configure:
        fail("strace is needed for the traced configure (apt-get install strace)")

    listed = listed_packages(args.setup) + args.extra
    have = closure(listed + sorted(base_packages()) + ["git"])
    used = {}  # file -> where it was first seen

    def add(files, source):
        for f in files:
            used.setdefault(f, source)

    roots = {os.path.realpath(ROOT)} | {os.path.realpath(b) for b in args.build}
    with tempfile.TemporaryDirectory() as tmp:
        roots.add(os.path.realpath(tmp))
        if not args.no_configure:
            add(configure_files(tmp), "configure")
        for build in args.build:
            add(build_files(build), f"build {os.path.relpath(build, ROOT)}")
        for log in args.trace:
            add(strace_files(log), os.path.basename(log))
        used = {f: s for f, s in used.items()
                if checked(f, roots) and not OPTIONAL_READS.search(f)}

    owners = owners_table()
    missing, foreign = {}, []
    for path, source in sorted(used.items()):
        # A symlink is what was asked for (libOpenCL.so of a -dev package, not the library it
        # names); only a link no package owns (update-alternatives) is judged by its target.
        found = set()
        for resolve in (False, True):
            for form in spellings(path, resolve):
                found |= owners.get(form, set())
            if found:
                break
        if found & have:
            continue
        if found:
            missing.setdefault(", ".join(sorted(found)), []).append((path, source))
        elif foreign_code(path):
            foreign.append((path, source))

    print(f"check-packages: {len(used)} files used (configure, builds, traced tests); "
          f"a fresh Debian 12 with the {len(listed)} listed packages has {len(have)} packages")
    for package, files in sorted(missing.items()):
        print(f"  {package}: not in the closure of {os.path.relpath(args.setup, ROOT)}'s list, "
              f"yet {len(files)} of its files were used, e.g.", file=sys.stderr)
        for path, source in files[:4]:
            print(f"      {path}  ({source})", file=sys.stderr)
    for path, source in foreign[:20]:
        print(f"  {path}: used ({source}) but no Debian package owns it", file=sys.stderr)
    if missing or foreign:
        print(f"check-packages: FAILED: {len(missing)} packages missing from the list, "
              f"{len(foreign)} files from no package", file=sys.stderr)
        return 1
    print("check-packages: every file used comes from a package the list brings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
