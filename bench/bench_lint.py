"""`canary lint` against the ast-grep CLI with the same rules on the same files, both timed as whole
processes (start-up, imports, parsing, matching and writing their JSON output to a file; neither
output is read inside the timed region). Prints medians of alternating rounds with min-max, CPU
seconds, the ratio canary / ast-grep, and the load at start and end. Asserts nothing.

    .venv/bin/python bench/bench_lint.py [--rounds 5] [--files 2000] [--mixed] [--only small,large,rules]

- small: plugin-discord 1.3.3's own sources, read from its published source maps (`npm pack`, then
  `canary migration extract-sources`); a generated 30-file tree when the registry is unreachable.
- large: a generated tree of --files TypeScript files (every file mentions `serverId`, so canary's
  word prefilter cannot skip one; --mixed: one in ten).
- rules: a generated migration of 200 rules (100 member renames) on one 12-line file.

The rules are the migration exported by `canary migration export-sg`, which ast-grep runs as they
are; both tools use every CPU by default (canary: one worker process per CPU on large trees).
canary caches the compiled migration under $CANARY_HOME/cache/lint: "canary lint" runs with that
cache warm (after the untimed first run), "canary lint, cold" with an empty CANARY_HOME every time
(YAML parse, schema validation and rule compile included). The summary at the end prints the three
ratios (warm and cold) in one place. Target (issue 18): ratio <= 1.5 on each.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rounds import alternate, canary_argv, load, ratio_line, run

MIGRATION = "elizaos-server-id"
DISCORD = "@elizaos/plugin-discord@1.3.3"

HEADER = """import {{ type IAgentRuntime, type World, type Room, ChannelType }} from '@elizaos/core';
import {{ helper{n} }} from './helper{n}';

"""

BLOCKS = [
    """export async function handle{n}_{i}(runtime: IAgentRuntime, room: Room, message: any) {{
  const serverId = room.serverId;
  if (!serverId) {{
    throw new Error('No server ID found {i}');
  }}
  const guild = await client.guilds.fetch(room?.serverId);
  return {{ data: {{ serverId, guild }}, values: {{ serverId: String(serverId) }} }};
}}
""",
    """export async function connect{n}_{i}(runtime: IAgentRuntime, channel: any, entityId: string) {{
  await runtime.ensureConnection({{
    entityId,
    roomId: channel.id,
    userName: channel.name,
    source: 'discord',
    serverId: channel.guild.id,
    type: ChannelType.GROUP,
  }});
}}
""",
    """export function world{n}_{i}(guild: any, agentId: string): World {{
  const world = {{
    id: guild.id,
    name: guild.name,
    agentId,
    serverId: guild.id,
    metadata: {{ ownership: {{ ownerId: guild.ownerId }} }},
  }} as World;
  return world;
}}
""",
    """export class Service{n}_{i} {{
  private cache = new Map<string, number>();
  constructor(private readonly runtime: IAgentRuntime) {{}}
  count(key: string): number {{
    const value = this.cache.get(key) ?? 0;
    this.cache.set(key, value + 1);
    for (let k = 0; k < 10; k++) {{
      if (k % 3 === 0) {{ continue; }}
    }}
    return value;
  }}
}}
""",
    """export const util{n}_{i} = (items: string[]): Record<string, number> => {{
  const out: Record<string, number> = {{}};
  for (const item of items) {{
    out[item] = (out[item] ?? 0) + item.length;
  }}
  return out;
}};
""",
]


def generate(root: Path, files: int, mixed: bool, seed: int = 7) -> int:
    rng = random.Random(seed)
    lines = 0
    for n in range(files):
        sub = root / f"pkg{n % 20}" / "src"
        sub.mkdir(parents=True, exist_ok=True)
        parts = [HEADER.format(n=n)]
        mention = (not mixed) or n % 10 == 0
        for i in range(12):
            block = rng.choice(BLOCKS[3:] if not mention else BLOCKS)
            parts.append(block.format(n=n, i=i))
        if mention and not any("serverId" in p for p in parts):
            parts.append(BLOCKS[0].format(n=n, i=99))
        text = "\n".join(parts)
        lines += text.count("\n")
        (sub / f"file{n}.ts").write_text(text, encoding="utf-8")
    return lines


def sg_binary() -> str:
    for name in ("ast-grep", "sg"):
        cand = Path(sys.executable).parent / name
        if cand.exists():
            return str(cand)
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("ast-grep CLI not found (pip install ast-grep-cli)")


def small_tree(work: Path) -> tuple[Path, str]:
    """plugin-discord 1.3.3's sources from its source maps, else a generated 30-file tree."""
    pack = work / "pack"
    pack.mkdir()
    proc = subprocess.run(["npm", "pack", DISCORD, "--pack-destination", str(pack)], capture_output=True, text=True)
    tgz = next(pack.glob("*.tgz"), None)
    if proc.returncode == 0 and tgz is not None:
        out = work / "discord-src"
        run(canary_argv("migration", "extract-sources", str(tgz), "-o", str(out)))
        return out, f"{DISCORD} sources (source maps)"
    out = work / "small"
    generate(out, 30, mixed=True)
    return out, "generated 30-file tree (registry unreachable)"


def many_rules(work: Path) -> tuple[Path, Path]:
    """A migration of 200 rules (100 member renames: a read and an optional read each), one 12-line file."""
    import yaml

    migration = work / "bench-200-rules.yaml"
    migration.write_text(
        yaml.safe_dump(
            {
                "id": "bench-200-rules",
                "version": "1.0.0",
                "core": ">=2.0",
                "package": "@bench/core",
                "title": "generated: 100 member renames",
                "renames": [
                    {
                        "id": f"member-{i}",
                        "language": "typescript",
                        "kind": "member",
                        "old": f"field{i}",
                        "new": f"renamed{i}",
                    }
                    for i in range(100)
                ],
            },
            sort_keys=False,
        )
    )
    tree = work / "one-file"
    tree.mkdir()
    (tree / "file.ts").write_text(
        "\n".join(
            [
                "import type { World } from '@bench/core';",
                "",
                "export function read(world: World, room: any) {",
                "  const a = world.field1;",
                "  const b = room?.field42;",
                "  world.field99 = a;",
                "  const other = { field7: 1, serverId: 2 };",
                "  return [a, b, other, world.unrelated];",
                "}",
                "",
                "export const size = (w: World) => w.field3 ?? 0;",
                "export default read;",
            ]
        )
        + "\n"
    )
    return tree, migration


def count_lines(tree: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in tree.rglob("*") if p.is_file())


def compare(label: str, tree: Path, migration: str, work: Path, rounds: int, sg: str) -> dict:
    rules = work / f"{label}-rules.yml"
    run(canary_argv("migration", "export-sg", migration, "-o", str(rules)))
    canary_out, sg_out = work / f"{label}-canary.json", work / f"{label}-sg.json"
    # canary as installed: its bytecode cached (a pip install compiles it; PYTHONDONTWRITEBYTECODE,
    # set in some sandboxes, would make every run compile canary's source again, ~35 ms).
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    warm_env = {**base, "CANARY_HOME": str(work / f"{label}-home")}
    cold_home = work / f"{label}-cold-home"
    cold_env = {**base, "CANARY_HOME": str(cold_home)}

    def lint(env: dict = warm_env) -> None:
        with canary_out.open("w") as out:
            run(
                canary_argv("lint", str(tree), "--migration", migration, "--format", "json"),
                stdout=out,
                ok=(0, 1),
                env=env,
            )

    def lint_cold() -> None:
        shutil.rmtree(cold_home, ignore_errors=True)
        lint(cold_env)

    def scan() -> None:
        with sg_out.open("w") as out:
            run([sg, "scan", "--rule", str(rules), "--json=compact", str(tree)], stdout=out, ok=(0, 1))

    lint(), scan()  # once untimed: page cache, bytecode, canary's compiled-migration cache
    warm, cold, sg_series = (f"{label}: canary lint", f"{label}: canary lint, cold", f"{label}: ast-grep scan")
    series = alternate({warm: lint, cold: lint_cold, sg_series: scan}, rounds)
    for s in series.values():
        print(s.line())
    print(ratio_line(f"{label}: canary / ast-grep", series[warm], series[sg_series], target=1.5))
    print(ratio_line(f"{label}: canary cold / ast-grep", series[cold], series[sg_series]))
    found_canary = len(json.loads(canary_out.read_text())["findings"])
    found_sg = len(json.loads(sg_out.read_text() or "[]"))
    rule_count = rules.read_text().count("\nid: ") + rules.read_text().startswith("id: ")
    print(
        f"  {label}: {sum(1 for p in tree.rglob('*') if p.is_file())} files, {count_lines(tree)} lines, "
        f"{rule_count} ast-grep rule documents; findings canary {found_canary}, ast-grep {found_sg}"
        + ("" if found_canary == found_sg else "  (DIFFERENT)")
    )
    return {
        "label": label,
        "warm": series[warm],
        "cold": series[cold],
        "sg": series[sg_series],
        "same": found_canary == found_sg,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--mixed", action="store_true", help="large tree: one file in ten mentions serverId")
    ap.add_argument("--only", default="small,large,rules")
    args = ap.parse_args()
    only = set(args.only.split(","))
    sg = sg_binary()
    print(f"start: {load()}")
    work = Path(tempfile.mkdtemp(prefix="canary-bench-lint-"))
    results = []
    try:
        if "small" in only:
            tree, what = small_tree(work)
            print(f"small tree: {what}")
            results.append(compare("small", tree, MIGRATION, work, args.rounds, sg))
        if "large" in only:
            tree = work / "large"
            generate(tree, args.files, args.mixed)
            results.append(
                compare(
                    f"{args.files} files" + (" (mixed)" if args.mixed else ""), tree, MIGRATION, work, args.rounds, sg
                )
            )
        if "rules" in only:
            tree, migration = many_rules(work)
            results.append(compare("200 rules, 12-line file", tree, str(migration), work, args.rounds, sg))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"end:   {load()}")
    print("summary (median wall, canary / ast-grep scan; target <= 1.5):")
    for r in results:
        print(
            f"  {r['label']:<28} {r['warm'].median / r['sg'].median:5.2f}x  (cold cache "
            f"{r['cold'].median / r['sg'].median:5.2f}x)  canary {r['warm'].median:.3f} s, cold {r['cold'].median:.3f} s, "
            f"ast-grep {r['sg'].median:.3f} s" + ("" if r["same"] else "  findings DIFFER")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
