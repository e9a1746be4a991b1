"""``make shape``: the size of every module in chalicelib (none may pass 400 lines) and the import graph.

Exits non-zero when a module is too long, an import cycle exists, a module below the
HTTP edge (domain, services, store, purge) reaches Chalice, or code outside the store
imports PynamoDB.
"""

from __future__ import annotations

import sys

from tests.unit.test_import_graph import (
    BELOW_THE_EDGE,
    PACKAGE,
    ROOT,
    find_cycle,
    import_graph,
    pynamodb_outside_the_store,
    reaches_chalice,
)

LIMIT = 400


def main() -> int:
    sizes = sorted(
        ((len(path.read_text().splitlines()), str(path.relative_to(ROOT))) for path in PACKAGE.rglob("*.py")),
        reverse=True,
    )
    too_long = [(lines, name) for lines, name in sizes if lines > LIMIT]
    print(f"{len(sizes)} modules in chalicelib, {sum(lines for lines, _ in sizes)} lines; the largest:")
    for lines, name in sizes[:15]:
        print(f"  {lines:5d}  {name}{'   <-- over ' + str(LIMIT) if lines > LIMIT else ''}")
    graph = import_graph()
    cycle = find_cycle(graph)
    print(f"import graph: {len(graph)} modules, {sum(len(t) for t in graph.values())} edges")
    print("import cycle: " + (" -> ".join(cycle) if cycle else "none"))
    chalice = reaches_chalice(graph)
    print(
        f"below the edge ({', '.join(p.split('.')[-1] for p in BELOW_THE_EDGE)}) reaching chalice: "
        + ("; ".join(chalice) if chalice else "none")
    )
    pynamodb = pynamodb_outside_the_store()
    print("outside the store importing pynamodb: " + (", ".join(pynamodb) if pynamodb else "none"))
    print(f"modules over {LIMIT} lines: " + (", ".join(name for _, name in too_long) if too_long else "none"))
    return 1 if (too_long or cycle or chalice or pynamodb) else 0


if __name__ == "__main__":
    sys.exit(main())
