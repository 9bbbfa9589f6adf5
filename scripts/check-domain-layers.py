#!/usr/bin/env python3
"""Fails when a joule-domain folder imports a layer it must not (ADR 0011).

The domain's folders are its layers:

- entity folders (`kernel`, `charging`, `pricing`, `payments`, `receipts`,
  `access`, `events`) hold data and pure rules; they never import `ports`
  or `services`, so a rule can be read and tested without a store;
- `ports` (the traits adapters implement) are written in the entity
  folders' types and never import `services`;
- `services` (the use cases) are the only code that imports `ports`.

Every top-level module of the crate must be one of these folders, so a new
module has to choose its layer. Edges are found as in
scripts/check-import-cycles.py: every `crate::…`, `super::…` and `self::…`
path outside comments and test code (`#[cfg(test)]` blocks and files
declared under `#[cfg(test)]`; tests may reach anywhere), a `pub use`
followed to the file that defines the item.

Usage: scripts/check-domain-layers.py [crate-src-dir]
       (default: crates/joule-domain/src)
"""

import importlib.util
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_spec = importlib.util.spec_from_file_location("import_cycles", HERE / "check-import-cycles.py")
scan = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scan)

ENTITIES = ["kernel", "charging", "pricing", "payments", "receipts", "access", "events"]
# folder -> the folders it must not import, and why
FORBIDDEN = {
    **{e: ({"ports", "services"}, "entity folders never import ports/ or services/") for e in ENTITIES},
    "ports": ({"services"}, "ports are written in entity types and never import services/"),
    "services": (set(), ""),
}

TEST_MOD_DECL = re.compile(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;")


def test_modules(mods):
    """Module paths declared as `#[cfg(test)] mod x;` (files of test code)."""
    out = set()
    for mod, file in mods.items():
        for m in TEST_MOD_DECL.finditer(scan.COMMENT.sub("", file.read_text())):
            out.add(mod + (m.group(1),))
    return out


def main(args):
    src = Path(args[0]) if args else ROOT / "crates/joule-domain/src"
    mods, _ = scan.crate_graph(src)
    tests = test_modules(mods)
    errors = []
    for mod in sorted(mods):
        if mod and mod[0] not in FORBIDDEN:
            errors.append(f"{mods[mod].relative_to(ROOT)}: in no layer folder ({', '.join(FORBIDDEN)})")
    for mod, file in sorted(mods.items()):
        if not mod or any(mod[: len(t)] == t for t in tests):
            continue
        forbidden, why = FORBIDDEN.get(mod[0], (set(), ""))
        if not forbidden:
            continue
        used, _ = scan.paths_in(scan.strip_tests(file.read_text()))
        for p in used:
            a = scan.absolute(p, mod)
            if a and a[0] in forbidden:
                errors.append(f"{file.relative_to(ROOT)} ({mod[0]}) uses {'::'.join(p)}: {why}")
    if errors:
        print("\n".join(sorted(set(errors))))
        return 1
    print(f"domain layers ok ({len(mods)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
