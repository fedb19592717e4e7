"""`canary promote`: turn a tested prerelease into the release, with evidence.

Dry run by default (prints the plan and every check); --confirm performs it.
Exit codes: 0 promoted / promotable, 1 refused, 2 usage error, 3 inconclusive
(missing or stale results, or an action that failed: rerun --confirm). See docs/promote.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from canary.kernel.home import Home
from canary.matrix.store import DEFAULT_STORE
from canary.kernel.durations import parse_duration
from canary.promote.engine import DEFAULT_MAX_AGE, ENV_NPM, Request, promote
from canary.promote.model import Promotion

_MARK = {"pass": "ok", "skip": "--", "inconclusive": "??", "refuse": "NO"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "promote",
        help="promote a tested prerelease tag to its release (dry run unless --confirm)",
        description="Check that a matrix run proves a prerelease good, then tag the release on the same "
        "commit, move the npm dist-tag, bump pyproject.toml, add a changelog entry and write "
        "in-toto evidence. Exit: 0 promotable/promoted, 1 refused, 3 inconclusive.",
    )
    p.add_argument("prerelease_tag", help="e.g. v1.7.1-beta.2 or 1.7.1rc1")
    p.add_argument("--to", metavar="VERSION", help="the release version; must be the prerelease's release")
    p.add_argument("--run", metavar="RUN", help="run id or run directory (default: the latest run in the store)")
    p.add_argument("--store", metavar="DIR", help=f"results store (default: $CANARY_HOME/runs, else {DEFAULT_STORE})")
    p.add_argument("--repo", metavar="PATH", default=".", help="the core git repository (default: .)")
    p.add_argument(
        "--max-age",
        metavar="DURATION",
        default=DEFAULT_MAX_AGE,
        help="oldest acceptable run when connector refs cannot be checked (default: %(default)s)",
    )
    p.add_argument("--soak", metavar="DURATION", help="minimum time since the prerelease tag was made")
    p.add_argument("--allow-flaky", metavar="N", type=int, default=0, help="flaky required cells allowed (default: 0)")
    p.add_argument(
        "--core",
        metavar="LABEL",
        dest="core_label",
        help="judge only the candidate cells of this core label (a run with several candidates)",
    )
    p.add_argument(
        "--digest", metavar="SHA256", help="the core artifact's sha256, accepted instead of the tag's commit"
    )
    p.add_argument(
        "--matrix", "-c", metavar="FILE", help="matrix file for waivers and connector urls (default: the run's)"
    )
    p.add_argument("--waivers", metavar="FILE", help="an extra waivers.yaml")
    p.add_argument("--npm-package", metavar="NAME", help="move a dist-tag of this npm package")
    p.add_argument("--dist-tag", metavar="TAG", default="latest", help="npm dist-tag to move (default: %(default)s)")
    p.add_argument("--npm-version", metavar="VERSION", help="version the dist-tag points at (default: the release)")
    p.add_argument("--npm-command", metavar="CMD", help=f"npm executable (default: ${ENV_NPM} or npm)")
    p.add_argument("--pyproject", metavar="PATH", help="set the release version in this pyproject.toml")
    p.add_argument("--changelog", metavar="PATH", help="changelog to add the entry to (default: <repo>/CHANGELOG.md)")
    p.add_argument("--no-changelog", action="store_true", help="do not touch a changelog")
    p.add_argument("--sign-key", metavar="SSH_KEY", help="sign the evidence and the tag with this SSH private key")
    p.add_argument("--evidence-dir", metavar="DIR", help="where evidence goes (default: <repo>/reports/promotions)")
    p.add_argument("--confirm", action="store_true", help="perform the promotion (default: dry run)")
    p.add_argument("--json", action="store_true", help="print the decision as JSON (promotion.schema.json)")
    p.set_defaults(handler=run)


def request_from_args(args: argparse.Namespace) -> Request:
    def path(value: str | None) -> Path | None:
        return Path(value) if value else None

    return Request(
        prerelease_tag=args.prerelease_tag,
        repo=Path(args.repo),
        to=args.to,
        run=args.run,
        store=Path(args.store) if args.store else Home.default().runs,
        max_age_s=parse_duration(args.max_age, "--max-age"),
        max_age_text=args.max_age,
        soak_s=parse_duration(args.soak, "--soak") if args.soak else None,
        soak_text=args.soak or "",
        allow_flaky=args.allow_flaky,
        digest=args.digest,
        npm_package=args.npm_package,
        dist_tag=args.dist_tag,
        npm_version=args.npm_version,
        npm_command=args.npm_command,
        pyproject=path(args.pyproject),
        changelog=path(args.changelog),
        no_changelog=args.no_changelog,
        sign_key=path(args.sign_key),
        evidence_dir=path(args.evidence_dir),
        waivers_file=path(args.waivers),
        matrix_file=path(args.matrix),
        core_label=args.core_label,
        confirm=args.confirm,
    )


def render(p: Promotion) -> str:
    head = f"canary promote {p.prerelease_tag}"
    if p.release_tag:
        head += f" -> {p.release_tag}"
    head += f" (commit {p.commit[:12] if p.commit else 'unknown'}, run {p.run_id or 'none'})"
    lines = [head, "", "checks:"]
    for c in p.checks:
        lines.append(f"  [{_MARK.get(c.outcome, c.outcome)}] {c.name:<12} {c.message}")
        lines += [f"         {'':<12} - {d}" for d in c.details]
    if p.actions:
        lines += ["", "plan:" if p.dry_run else "actions:"]
        for a in p.actions:
            lines.append(f"  {a.state:<8} {a.name:<10} {a.description}" + (f" ({a.note})" if a.note else ""))
            if a.argv and a.name != "tag":
                lines.append(f"  {'':<8} {'':<10} $ {shlex.join(a.argv)}")
    lines.append("")
    verdict = {
        "promotable": "promotable",
        "promoted": "promoted",
        "refused": "REFUSED",
        "inconclusive": "INCONCLUSIVE",
        "failed": "FAILED (rerun --confirm to finish)",
    }[p.decision]
    lines.append(f"decision: {verdict} (exit {p.exit_code})")
    if p.dry_run:
        lines.append("dry run: nothing written" + ("; rerun with --confirm to promote" if p.exit_code == 0 else ""))
    elif p.decision in ("refused", "inconclusive"):
        lines.append("nothing written")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    promo = promote(request_from_args(args))
    if args.json:
        json.dump(promo.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(render(promo))
    return promo.exit_code
