#!/usr/bin/env python3
"""The module ladders of the daemon and of libpgcoalesce, checked from their
object files.

Each module (src/NAME.c) sits on one rung of LADDER below; a module may call
only functions of modules on lower rungs, never one beside or above it (what
calls up gets a callback table instead, like client_ops and pgconn_ops). The
calls are read from the objects with nm: module A calls B when A.o has an
undefined symbol that B.o defines. A module missing from the ladder is an
error too, so a new module has to be placed.

usage: scripts/modladder.py [OBJDIR]   (default build/obj/src; run `make` first)
Prints the ladder and "modladder: 1 passed, 0 failed", or each violation and
"modladder: 0 passed, 1 failed" (exit status 1).
"""
import os
import subprocess
import sys

# Top to bottom. Keep README's code map in step with it. The client library
# (src/pgc_*.c) sits on top of the shared modules at the bottom.
LADDER = [
    ["pgc_sync"],
    ["pgc_client"],
    ["pgc_row", "pgc_addr"],
    ["pgc_wire"],
    ["pgcoalesce"],
    ["sidecar"],
    ["metrics", "reload", "server"],
    ["flush"],
    ["batch", "describe"],
    ["ledger", "request", "keys"],
    ["row", "client", "ack", "pgconn", "sqlbuild", "http"],
    ["netlisten"],
    ["group", "errdata", "config", "cpusched"],
    ["conflict"],
    ["schema", "stats", "jsontok", "linebuf", "uring", "log"],
    ["jsontext"],
    ["buf"],
]


def symbols(path):
    out = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRC":
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
    return defined, undefined


def main():
    objdir = sys.argv[1] if len(sys.argv) > 1 else "build/obj/src"
    mods = sorted(f[:-2] for f in os.listdir(objdir)
                  if f.endswith(".o") and not f.startswith("cli_"))
    owner, refs = {}, {}
    for m in mods:
        defined, undefined = symbols(os.path.join(objdir, m + ".o"))
        for s in defined:
            owner[s] = m
        refs[m] = undefined
    rung = {m: i for i, names in enumerate(LADDER) for m in names}
    problems = ["module %s is not on the ladder (scripts/modladder.py)" % m
                for m in mods if m not in rung]
    for m in mods:
        for callee in sorted({owner[s] for s in refs[m] if s in owner and owner[s] != m}):
            if m in rung and callee in rung and rung[callee] <= rung[m]:
                where = "beside" if rung[callee] == rung[m] else "above"
                calls = sorted(s for s in refs[m] if owner.get(s) == callee)
                problems.append("%s calls %s, which is %s it: %s" % (m, callee, where, ", ".join(calls)))
    for i, names in enumerate(LADDER):
        print("  %2d  %s" % (i, "  ".join(n for n in names if n in mods)))
    for p in problems:
        print("modladder: " + p)
    print("modladder: %d passed, %d failed" % (0 if problems else 1, 1 if problems else 0))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
