"""A conversion fix (`stringToUuid(x)`) brings its import: added to a value import from the
module, or as a new import (a `require` in CommonJS), never to `import type`, never twice."""

from __future__ import annotations

import pytest

from canary.codemods.engine import compile_migration, parse_errors
from canary.codemods.fix import fix_code
from canary.codemods.imports import ensure_imports
from canary.codemods.migration import load_migration

WANT = [{"name": "stringToUuid", "from": "@elizaos/core"}]


@pytest.mark.parametrize(
    "lang,path,before,after",
    [
        (
            "typescript",
            "a.ts",
            "import { logger } from '@elizaos/core';\nx();\n",
            "import { logger, stringToUuid } from '@elizaos/core';\nx();\n",
        ),
        (
            "typescript",
            "a.ts",
            'import {\n  logger,\n  type UUID,\n} from "@elizaos/core";\n',
            'import {\n  logger,\n  type UUID,\n  stringToUuid,\n} from "@elizaos/core";\n',
        ),
        (
            "typescript",
            "a.ts",
            "import {\n  logger\n} from '@elizaos/core';\n",
            "import {\n  logger,\n  stringToUuid\n} from '@elizaos/core';\n",
        ),
        (
            "typescript",
            "a.ts",
            "import type { Room } from '@elizaos/core';\nimport x from 'x';\nf();\n",
            "import type { Room } from '@elizaos/core';\nimport x from 'x';\nimport { stringToUuid } from '@elizaos/core';\nf();\n",
        ),
        (
            "typescript",
            "a.ts",
            "import { stringToUuid } from '@elizaos/core';\n",
            "import { stringToUuid } from '@elizaos/core';\n",
        ),
        ("typescript", "a.mts", "f();\n", "import { stringToUuid } from '@elizaos/core';\nf();\n"),
        (
            "javascript",
            "a.mjs",
            "#!/usr/bin/env node\nf();\n",
            "#!/usr/bin/env node\nimport { stringToUuid } from '@elizaos/core';\nf();\n",
        ),
        (
            "javascript",
            "a.cjs",
            "'use strict';\nf();\n",
            "'use strict';\nconst { stringToUuid } = require('@elizaos/core');\nf();\n",
        ),
        (
            "javascript",
            "a.js",
            "const { logger } = require('@elizaos/core');\nf();\n",
            "const { logger, stringToUuid } = require('@elizaos/core');\nf();\n",
        ),
        (
            "javascript",
            "a.js",
            "const path = require('path');\nf();\n",
            "const path = require('path');\nconst { stringToUuid } = require('@elizaos/core');\nf();\n",
        ),
        (
            "tsx",
            "a.tsx",
            "import React from 'react';\nexport const A = () => <div/>;\n",
            "import React from 'react';\nimport { stringToUuid } from '@elizaos/core';\nexport const A = () => <div/>;\n",
        ),
    ],
)
def test_ensure_imports(lang, path, before, after):
    got = ensure_imports(before, lang, WANT, path)
    assert got == after
    assert parse_errors(got, lang) == 0
    assert ensure_imports(got, lang, WANT, path) == got  # never added twice


def test_import_added_only_when_a_conversion_was_applied():
    rules = compile_migration(load_migration("elizaos-server-id"))["typescript"]
    # a plain rename (a read) needs no import
    text, edits, _ = fix_code("const s = room.serverId;\n", "typescript", rules, "a.ts")
    assert (text, edits) == ("const s = room.messageServerId;\n", 1)
    text, _, _ = fix_code("room.serverId = g.id;\n", "typescript", rules, "a.ts")
    assert text.startswith("import { stringToUuid } from '@elizaos/core';\n")


def test_compatibility_shims_are_left_alone():
    rules = compile_migration(load_migration("elizaos-server-id"))["typescript"]
    shim = (
        "export function addServerId(obj: any) {\n"
        "  return { ...obj, serverId: obj.serverId ?? obj.messageServerId };\n}\n"
        "const id = room.messageServerId ?? room.serverId;\n"
        "await runtime.ensureConnection({ entityId, messageServerId: stringToUuid(g.id), serverId: g.id });\n"
        "room.messageServerId = stringToUuid(g.id);\nroom.serverId = g.id;\n"
    )
    assert fix_code(shim, "typescript", rules, "a.ts") == (shim, 0, 0)
