"""`canary demo DIR`: write the offline demo ecosystem (canary.demo) and print its matrix file.

It needs no registry: a tiny Python core in two versions and three connectors in local git
repositories, with one designed outcome of each kind (see canary.demo)."""

from __future__ import annotations

from pathlib import Path

from canary.kernel.exitcodes import ExitCode


def register(sub) -> None:
    p = sub.add_parser("demo", help="write the offline demo ecosystem into DIR and print its matrix file")
    p.add_argument("dir", nargs="?", default=".canary/demo", help="where to write it (default: .canary/demo)")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args) -> int:
    from canary import demo

    built = demo.build(Path(args.dir))
    print(built.matrix)
    return ExitCode.OK
