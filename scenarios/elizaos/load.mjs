// Generic smoke scenario for an elizaOS connector without a tailored one
// (e.g. plugin-farcaster): import the connector against the core under test,
// build the runtime on PGlite, and register the plugin's actions, providers and
// evaluators with the core (its services are not started: they would reach
// the platform's network). Fails when the connector cannot be imported with
// this core (a missing export is a SyntaxError at import) or the core refuses
// its parts.
//
// Usage: CANARY_CONNECTOR=@elizaos/plugin-farcaster node scenarios/elizaos/load.mjs

import { runScenario, createRuntime, check } from "./runtime.mjs";

const CONNECTOR = process.env.CANARY_CONNECTOR;
if (!CONNECTOR) {
  console.log("SCENARIO SETUP-ERROR: set CANARY_CONNECTOR to the connector's package name");
  process.exit(2);
}

await runScenario(`load ${CONNECTOR}`, CONNECTOR, async (stack, keep) => {
  const plugin = stack.plugin;
  check(plugin && typeof plugin.name === "string", `${CONNECTOR} exports no plugin object with a name`);
  const runtime = keep(await createRuntime(stack));
  for (const action of plugin.actions ?? []) runtime.registerAction(action);
  for (const provider of plugin.providers ?? []) runtime.registerProvider(provider);
  for (const evaluator of plugin.evaluators ?? []) runtime.registerEvaluator(evaluator);
  console.log(
    `[scenario] ${plugin.name}: ${plugin.actions?.length ?? 0} actions, ${plugin.providers?.length ?? 0} providers, ` +
      `${plugin.services?.length ?? 0} services (not started)`,
  );
  return runtime;
});
