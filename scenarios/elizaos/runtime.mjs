// Shared helpers for the elizaOS smoke scenarios.
//
// A scenario runs inside a cell directory (cwd, or CANARY_CELL_DIR) whose
// node_modules holds the connector, the core under test and plugin-sql. The
// scenario files themselves live in the project, so every package is resolved
// explicitly from the cell: the core from the *connector's own directory*
// (the copy the connector really loads), plugin-sql from the cell root.
//
// Exit codes (an interface: matrix/runners/node.py reads them):
//   0  the connector's code ran and its providers/actions answered
//   1  the connector's own code threw (its error message is printed)
//   2  the scenario could not build the runtime before any connector code ran
//
// Every run prints `CANARY-RESOLVED {json}` with the core version and path it
// loaded, and ends with `SCENARIO PASS` or `SCENARIO FAIL: <message>`.

import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";

export const EXIT_PASS = 0;
export const EXIT_FAIL = 1;
export const EXIT_SETUP = 2;

/** A failure inside the scenario's own set-up (not the connector's code). */
export class SetupError extends Error {}

// The condition order Node uses for `import` of a package.
const IMPORT_CONDITIONS = ["node", "import", "default"];

function pickExport(target) {
  if (typeof target === "string") return target;
  if (Array.isArray(target)) {
    for (const t of target) {
      const hit = pickExport(t);
      if (hit) return hit;
    }
    return null;
  }
  if (target && typeof target === "object") {
    for (const [key, value] of Object.entries(target)) {
      if (IMPORT_CONDITIONS.includes(key)) {
        const hit = pickExport(value);
        if (hit) return hit;
      }
    }
  }
  return null;
}

/** Directory and package.json of `name` as resolved from `fromDir`. */
export function packageFrom(fromDir, name) {
  const req = createRequire(path.join(fromDir, "package.json"));
  let pkgJson;
  try {
    pkgJson = req.resolve(`${name}/package.json`);
  } catch {
    // Packages whose `exports` hide package.json: walk node_modules by hand.
    for (const base of req.resolve.paths(name) ?? []) {
      const candidate = path.join(base, name, "package.json");
      if (existsSync(candidate)) {
        pkgJson = candidate;
        break;
      }
    }
  }
  if (!pkgJson) throw new SetupError(`cannot resolve ${name} from ${fromDir}`);
  const manifest = JSON.parse(readFileSync(pkgJson, "utf8"));
  return { dir: path.dirname(pkgJson), manifest, file: pkgJson };
}

/** `import()` the ESM entry of `name` as Node would resolve it from `fromDir`. */
export async function importFrom(fromDir, name) {
  const { dir, manifest } = packageFrom(fromDir, name);
  let entry = null;
  if (manifest.exports) {
    const root = typeof manifest.exports === "string" || Array.isArray(manifest.exports)
      ? manifest.exports
      : manifest.exports["."] ?? manifest.exports;
    entry = pickExport(root);
  }
  entry = entry ?? manifest.module ?? manifest.main ?? "index.js";
  return import(pathToFileURL(path.join(dir, entry)).href);
}

/**
 * Load the connector, the core it resolves and plugin-sql from the cell.
 * Import errors of the connector are the connector's (a missing export of the
 * core is a real incompatibility), so they are not SetupErrors.
 */
export async function loadStack(connectorName) {
  const cellDir = path.resolve(process.env.CANARY_CELL_DIR || process.cwd());
  const connectorPkg = packageFrom(cellDir, connectorName);
  const corePkg = packageFrom(connectorPkg.dir, "@elizaos/core");
  const sqlPkg = packageFrom(cellDir, "@elizaos/plugin-sql");
  const sqlCorePkg = packageFrom(sqlPkg.dir, "@elizaos/core");
  const resolved = {
    connector: connectorName,
    connector_version: connectorPkg.manifest.version,
    core_version: corePkg.manifest.version,
    core_path: corePkg.dir,
    sql_version: sqlPkg.manifest.version,
    sql_core_version: sqlCorePkg.manifest.version,
    sql_core_path: sqlCorePkg.dir,
  };
  console.log(`CANARY-RESOLVED ${JSON.stringify(resolved)}`);
  if (sqlCorePkg.dir !== corePkg.dir) {
    // Two cores in one runtime is not the cell we were asked to test.
    throw new SetupError(
      `plugin-sql loads core ${sqlCorePkg.manifest.version} at ${sqlCorePkg.dir}, ` +
        `the connector loads ${corePkg.manifest.version} at ${corePkg.dir}`,
    );
  }
  let core, sql;
  try {
    core = await importFrom(connectorPkg.dir, "@elizaos/core");
    sql = await importFrom(cellDir, "@elizaos/plugin-sql");
  } catch (err) {
    throw new SetupError(`cannot import core/plugin-sql: ${err?.stack ?? err}`);
  }
  const connectorModule = await importFrom(cellDir, connectorName);
  return {
    cellDir,
    connectorDir: connectorPkg.dir,
    connectorModule,
    plugin: connectorModule.default ?? connectorModule,
    core,
    coreVersion: corePkg.manifest.version,
    sqlPlugin: sql.plugin ?? sql.default,
    resolved,
  };
}

/**
 * An AgentRuntime on the core under test with plugin-sql on PGlite in a fresh
 * temporary directory: no server, no network.
 *
 * Core 1.7.x checks the agent row before migrating, so on a fresh database the
 * sql plugin is registered, its adapter initialised and the migrations run
 * before `initialize()` (harmless on 1.6.x, which migrates first anyway).
 */
export async function createRuntime(stack, { name = "Canary", secrets = {}, settings = {} } = {}) {
  const dataDir = mkdtempSync(path.join(tmpdir(), "canary-pglite-"));
  process.env.PGLITE_DATA_DIR = dataDir;
  const { AgentRuntime } = stack.core;
  const character = {
    name,
    username: name.toLowerCase(),
    bio: ["A smoke-test agent of the canary compatibility matrix."],
    plugins: [],
    secrets: { ...secrets },
    settings: { PGLITE_DATA_DIR: dataDir, ...settings },
  };
  let runtime;
  try {
    runtime = new AgentRuntime({ character, plugins: [] });
    await runtime.registerPlugin(stack.sqlPlugin);
    await runtime.registerPlugin(offlineModelsPlugin);
    if (!runtime.adapter) throw new Error("plugin-sql registered no database adapter");
    await runtime.adapter.init();
    await runtime.runPluginMigrations();
    await runtime.initialize();
  } catch (err) {
    throw new SetupError(`runtime set-up failed: ${err?.stack ?? err}`);
  }
  runtime.__canaryDataDir = dataDir;
  return runtime;
}

// Canned answers for the text models: the agent decides to ignore every
// message, so the core's message pipeline runs end to end with no LLM.
const IGNORE_XML =
  "<response><thought>canary smoke test</thought><actions>IGNORE</actions>" +
  "<providers></providers><text></text></response>";

/** A model plugin with no network: every text model answers IGNORE. */
export const offlineModelsPlugin = {
  name: "canary-offline-models",
  description: "Canned model answers for smoke scenarios (no LLM, no network)",
  models: {
    TEXT_SMALL: async () => IGNORE_XML,
    TEXT_LARGE: async () => IGNORE_XML,
  },
};

/** Register the connector plugin on a ready runtime and wait for its service. */
export async function registerConnector(runtime, plugin, serviceType) {
  await runtime.registerPlugin(plugin);
  if (serviceType && typeof runtime.getServiceLoadPromise === "function") {
    // A service that never starts (waiting on a network it cannot reach) fails the
    // scenario with its name, well before the cell's own timeout.
    let timer;
    const limit = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`service ${serviceType} did not start within 60 s`)), 60_000);
    });
    try {
      return await Promise.race([runtime.getServiceLoadPromise(serviceType), limit]);
    } finally {
      clearTimeout(timer);
    }
  }
  return serviceType ? runtime.getService(serviceType) : null;
}

/** A message memory as the connector's handlers would store it. */
export function memoryFor(runtime, { id, roomId, entityId, text, source, extra = {} }) {
  return {
    id,
    entityId,
    agentId: runtime.agentId,
    roomId,
    content: { text, source, ...extra },
    createdAt: Date.now(),
  };
}

/** Call every provider of the plugin on `message`; a throw is the connector's failure. */
export async function runProviders(runtime, plugin, message, names = null) {
  const state = { values: {}, data: {}, text: "", agentName: runtime.character.name, senderName: "alice" };
  const results = {};
  const all = plugin.providers ?? [];
  // In the order asked for: the first error a provider throws is the one the log leads with.
  const chosen = names ? names.map((n) => all.find((p) => p.name === n)).filter(Boolean) : all;
  for (const provider of chosen) {
    console.log(`[scenario] provider ${provider.name}: calling get()`);
    const out = await provider.get(runtime, message, state);
    console.log(`[scenario] provider ${provider.name}: ${JSON.stringify(out?.text ?? "")}`);
    results[provider.name] = out;
  }
  return results;
}

/**
 * Print what the core stored for a room and its world (diagnostics for the log).
 * `wrote` is the platform server id the connector passed: when the core kept
 * none of it, a CANARY-NOTE line says so; checkServerIdKept fails the scenario when the
 * world lost it.
 */
export async function describeRoom(runtime, roomId, wrote = null) {
  const room = await runtime.getRoom(roomId);
  const world = room?.worldId ? await runtime.getWorld(room.worldId) : null;
  const info = {
    room: room && { id: room.id, type: room.type, serverId: room.serverId ?? null, messageServerId: room.messageServerId ?? null, worldId: room.worldId ?? null },
    world: world && { id: world.id, name: world.name, serverId: world.serverId ?? null, messageServerId: world.messageServerId ?? null },
  };
  console.log(`[scenario] stored ${JSON.stringify(info)}`);
  const kept = (x) => (x ? (x.serverId || x.messageServerId ? "stored" : "missing") : "absent");
  if (wrote && (kept(room) === "missing" || kept(world) === "missing")) {
    console.log(`CANARY-NOTE server id ${wrote} passed by the connector: world ${kept(world)}, room ${kept(room)}`);
  }
  return info;
}

/**
 * The server id the connector passed must survive in the stored world. A core that drops it
 * (>= 1.6.5 for connectors still writing `serverId`) loses data silently: that is a failure
 * of the cell, not a note, or a passing cell would hide exactly the serverId break. (Rooms
 * are only reported: some connectors never give a room a server id, on any core.)
 */
export function checkServerIdKept(stored, wrote) {
  const kept = (x) => (x ? (x.serverId || x.messageServerId ? "stored" : "missing") : "absent");
  if (kept(stored.world) === "missing") {
    throw new Error(`data loss: server id ${wrote} passed by the connector was not stored in the world ` +
      `(world ${kept(stored.world)}, room ${kept(stored.room)})`);
  }
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/**
 * Run `body(stack)` and exit with the scenario's verdict. Exits explicitly:
 * PGlite and platform clients may keep the event loop alive.
 */
export async function runScenario(title, connectorName, body) {
  const started = Date.now();
  console.log(`[scenario] ${title}`);
  let code = EXIT_PASS;
  let runtime = null;
  let stack = null;
  try {
    stack = await loadStack(connectorName);
    runtime = await body(stack, (rt) => (runtime = rt));
    console.log(`SCENARIO PASS (${Date.now() - started} ms)`);
  } catch (err) {
    const setup = err instanceof SetupError;
    code = setup ? EXIT_SETUP : EXIT_FAIL;
    console.log(err?.stack ?? String(err));
    const first = String(err?.message ?? err).split("\n")[0];
    console.log(`SCENARIO ${setup ? "SETUP-ERROR" : "FAIL"}: ${first}`);
  }
  try {
    if (runtime) await Promise.race([runtime.stop?.(), new Promise((r) => setTimeout(r, 3000))]);
  } catch {
    // Stopping is best effort: the verdict is already decided.
  }
  if (runtime?.__canaryDataDir) rmSync(runtime.__canaryDataDir, { recursive: true, force: true });
  process.exit(code);
}
