"""Examples shown at the end of each subcommand's `--help` (one place for every command)."""

from __future__ import annotations

import argparse

EXAMPLES: dict[str, list[str]] = {
    "plan": [
        "canary plan",
        "canary plan -c other/matrix.yaml --json > plan.json",
        "canary plan --no-check-refs        # offline: do not look git refs up",
    ],
    "run": [
        "canary run",
        "canary run -j 4 --cells 'plugin-discord@*'",
        "canary run --cells required --report html,md",
        "canary run --resume 20261121T080000.000000Z-abc123",
        "canary run --no-cache --progress plain   # CI logs",
    ],
    "ci-matrix": [
        'canary ci-matrix --plan plan.json --max-jobs 64 >> "$GITHUB_OUTPUT"  # after `matrix=`',
        "canary ci-matrix -c matrix.yaml --cells 'plugin-telegram*'",
    ],
    "merge": [
        "canary merge shards --plan plan/plan.json --out merged",
        "canary merge shard-1 shard-2 -c matrix.yaml --json",
        "canary merge shards --plan plan.json --out merged --diff compat-diff.json",
    ],
    "verdicts": [
        "canary verdicts",
        "canary verdicts merged --json",
        "canary verdicts 20261121T080000.000000Z-abc123 --waivers extra-waivers.yaml",
    ],
    "import-registry": ["canary import-registry generated-registry.json --core-versions 1.6.4,1.7.2 -o matrix.yaml"],
    "promote": [
        "canary promote v1.7.1-beta.2            # dry run: promotable or not, and why",
        "canary promote v1.7.1-beta.2 --confirm",
    ],
    "diff": [
        "canary diff npm:@elizaos/core@1.6.4 npm:@elizaos/core@1.6.5",
        "canary diff npm:@elizaos/core@1.6.4 ./packages/core --format markdown",
        "canary diff pypi:democore==1.0.0 git:https://example.org/democore.git@main --format sarif --output diff.sarif",
    ],
    "lint": [
        "canary lint src --migration elizaos-server-id",
        "canary lint src -m elizaos-server-id --format sarif --output lint.sarif",
        "canary lint plugin-discord-1.3.3.tgz -m elizaos-server-id --format github",
    ],
    "fix": [
        "canary fix src --migration elizaos-server-id            # the diff, nothing written",
        "canary fix src --migration elizaos-server-id --write",
    ],
    "migrations": ["canary migrations"],
    "migration": [
        "canary migration show elizaos-server-id",
        "canary migration from-diff diff.json --id my-core-2.0 --output migration.yaml",
    ],
    "report": [
        "canary report",
        "canary report merged --out report --format md,junit --github-summary",
        "canary report --diff compat-diff.json --badge-label 'elizaOS core'",
    ],
    "bisect": [
        "canary bisect 'plugin-discord@1.3.3--core-1.6.5'   # a regressed cell of the latest run",
        "canary bisect alpha@main--core-git_v2.0.0 --run 20261121T080000.000000Z-abc123 --json",
    ],
    "demo": ["canary demo /tmp/demo   # then: canary run -c /tmp/demo/matrix.yaml (offline, about a minute)"],
}


def add_examples(subparsers: argparse._SubParsersAction) -> None:
    """Append an `examples:` block to the --help of every registered subcommand."""
    for name, parser in subparsers.choices.items():
        lines = EXAMPLES.get(name)
        if not lines:
            continue
        block = "examples:\n" + "\n".join(f"  {line}" for line in lines)
        parser.epilog = f"{parser.epilog}\n\n{block}" if parser.epilog else block
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
