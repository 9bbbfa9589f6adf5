#!/usr/bin/env python3
"""Fails when files of one crate import each other in a circle (ADR 0011).

Crates never form cycles (Cargo forbids it); inside a crate the compiler
allows two files to use each other, and such a circle means neither file can
be read, moved or tested without the other. This script builds, per crate,
the graph "file A names an item of file B" from every `crate::…`, `super::…`
and `self::…` path outside `#[cfg(test)]` modules (tests may reach anywhere),
and prints every strongly connected group of more than one file.

Not counted as edges: `mod x;` declarations (a parent holds its children) and
`pub use` re-exports (a facade, not a use); a path through a re-export is
followed to the file that defines the item.

Usage: scripts/check-import-cycles.py [crate-dir …]   (default: crates/*)
"""

import os
import re
import sys
from pathlib import Path

# Circles accepted for now, each with the reason. A circle is a set of file
# paths relative to the repository root; it must match exactly, so a circle
# that grows or shrinks is reported again.
# Circles not broken yet, each with its reason. Empty: every circle the
# review found is broken (ADR 0011); an entry here must say why it stays.
ALLOWED: dict = {}

ROOT = Path(__file__).resolve().parent.parent


def module_files(src):
    """{module path tuple: file} for every file module under src."""
    mods = {}
    for path in src.rglob("*.rs"):
        rel = path.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts == ["lib"] or parts == ["main"]:
            parts = []
        elif parts[-1] == "mod":
            parts = parts[:-1]
        elif parts[0] == "bin" or parts[-1] in ("build",):
            continue
        mods[tuple(parts)] = path
    return mods


TEST_MOD = re.compile(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{")
COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\])*"')


def strip_tests(text):
    """The text without `#[cfg(test)] mod x { … }` blocks and comments."""
    text = COMMENT.sub("", text)
    text = STRING.sub('""', text)
    out, pos = [], 0
    for m in TEST_MOD.finditer(text):
        if m.start() < pos:
            continue
        out.append(text[pos:m.start()])
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        pos = i
    out.append(text[pos:])
    return "".join(out)


def parse_tree(s, i, prefix, acc):
    """Parses a use tree starting at s[i]; appends full paths to acc; returns the end index."""
    path = list(prefix)
    while True:
        while i < len(s) and s[i].isspace():
            i += 1
        if i < len(s) and s[i] == "{":
            i += 1
            while True:
                while i < len(s) and s[i] in " \t\n,":
                    i += 1
                if i >= len(s) or s[i] == "}":
                    return i + 1
                i = parse_tree(s, i, path, acc)
        m = re.match(r"\*|\w+", s[i:])
        if not m:
            acc.append(path)
            return i
        path = path + [m.group(0)]
        i += m.end()
        rest = s[i:]
        if rest.startswith("::"):
            i += 2
            continue
        m2 = re.match(r"\s+as\s+\w+", rest)
        if m2:
            i += m2.end()
        acc.append(path)
        return i


USE = re.compile(r"(\bpub(?:\([^)]*\))?\s+)?\buse\s+")
INLINE = re.compile(r"(?<![\w:])((?:crate|super|self)(?:::(?:\w+|\{))+)")


def paths_in(text):
    """(paths used, re-exports as (name, path)) of a file's text."""
    used, reexports = [], []
    spans = []
    for m in USE.finditer(text):
        acc = []
        end = parse_tree(text, m.end(), [], acc)
        spans.append((m.start(), end))
        for p in acc:
            if m.group(1):
                reexports.append(p)
            else:
                used.append(p)
    masked = list(text)
    for a, b in spans:
        for k in range(a, b):
            masked[k] = " "
    masked = "".join(masked)
    for m in INLINE.finditer(masked):
        acc = []
        parse_tree(masked, m.start(), [], acc)
        used.extend(acc)
    return used, reexports


def absolute(path, here):
    """Resolves crate::/super::/self:: against module `here`; None for external paths."""
    if not path:
        return None
    if path[0] == "crate":
        base, rest = [], path[1:]
    elif path[0] in ("super", "self"):
        base = list(here)
        rest = path
        while rest and rest[0] in ("super", "self"):
            if rest[0] == "super":
                base = base[:-1]
            rest = rest[1:]
    else:
        return None
    return tuple(base + rest)


def crate_graph(src):
    mods = module_files(src)
    info = {}
    for mod, file in mods.items():
        used, reexports = paths_in(strip_tests(file.read_text()))
        names = {}
        for p in reexports:
            a = absolute(p, mod)
            if a is None:
                # `pub use child::X` inside a module is relative to it
                a = mod + tuple(p) if p and p[0] != "crate" else None
            if a:
                names[a[-1]] = a
        info[mod] = (used, names)

    def owner(path, depth=0):
        """The file module that defines `path`'s item (following re-exports)."""
        best = ()
        for k in range(len(path), -1, -1):
            if tuple(path[:k]) in mods:
                best = tuple(path[:k])
                break
        rest = path[len(best):]
        if rest and depth < 8:
            target = info[best][1].get(rest[0])
            if target and target[: len(best)] != best or (target and len(target) > len(best) + 1):
                return owner(target + tuple(rest[1:]), depth + 1)
        return best

    edges = {m: set() for m in mods}
    for mod, (used, _) in info.items():
        for p in used:
            a = absolute(p, mod)
            if a is None:
                continue
            a = tuple(x for x in a if x != "*")
            o = owner(a)
            if o != mod and o in mods:
                edges[mod].add(o)
    return mods, edges


def cycles(edges):
    """Strongly connected components with more than one node (Tarjan)."""
    sys.setrecursionlimit(10000)
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main(args):
    crates = [Path(a) for a in args] or sorted((ROOT / "crates").glob("*"))
    failed = False
    seen_allowed = set()
    for crate in crates:
        src = crate / "src"
        if not src.is_dir():
            continue
        mods, edges = crate_graph(src)
        for comp in cycles(edges):
            files = frozenset(str(mods[m].resolve().relative_to(ROOT)) for m in comp)
            if files in ALLOWED:
                seen_allowed.add(files)
                continue
            failed = True
            print(f"import circle in {crate.name}:")
            for m in sorted(comp):
                via = sorted(str(mods[w].relative_to(src)) for w in edges[m] if w in comp)
                print(f"  {mods[m].relative_to(src)} -> {', '.join(via)}")
    for files in set(ALLOWED) - seen_allowed:
        if not args:
            print(f"allowed circle no longer exists, remove it from ALLOWED: {sorted(files)}")
            failed = True
    if failed:
        return 1
    print("no import circles between files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
