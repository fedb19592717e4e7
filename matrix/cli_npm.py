"""`canary import-registry`: a matrix.yaml from the elizaOS registry's generated-registry.json."""

from __future__ import annotations

import sys
from pathlib import Path

from canary.kernel.atomic import write_text_atomic
from canary.kernel.exitcodes import ExitCode
from canary.matrix.sources import elizaos_registry


def register(sub) -> None:
    p = sub.add_parser(
        "import-registry",
        help="write a matrix.yaml whose connectors come from an elizaOS generated-registry.json",
    )
    p.add_argument("registry", help="path of generated-registry.json")
    p.add_argument(
        "--band", default="v1", help="registry band to take versions/branches from (v0, v1, alpha; default v1)"
    )
    p.add_argument(
        "--source",
        choices=("npm", "git"),
        default="npm",
        help="npm: the band's published version; git: the band's branch (default npm)",
    )
    p.add_argument("--names", nargs="+", metavar="NAME", help="only these plugins (package or short names)")
    p.add_argument("--required", nargs="+", metavar="NAME", default=[], help="plugins whose cells are required")
    p.add_argument("--core-versions", required=True, help="comma list of core versions, e.g. 1.6.4,1.7.2")
    p.add_argument("--baseline", help="baseline core version (default: the first)")
    p.add_argument("-o", "--output", "--out", help="write here instead of standard output")
    p.set_defaults(handler=cmd_import_registry)


def cmd_import_registry(args) -> int:
    plugins = elizaos_registry.load(args.registry)
    entries = elizaos_registry.connectors(
        plugins, band=args.band, source=args.source, names=args.names, required=args.required
    )
    versions = [v.strip() for v in args.core_versions.split(",") if v.strip()]
    text = elizaos_registry.render_matrix(entries, versions, args.baseline)
    if args.output:
        write_text_atomic(Path(args.output), text)
        print(f"{len(entries)} connector(s) written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return ExitCode.OK
