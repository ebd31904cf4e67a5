/**
 * cdktf app entry (`cdktf synth` runs `npx tsx main.ts`): validates the context and the rollout
 * config, then builds the stack of the current stage. Context keys: `stage` and `config` (see
 * lib/config/context.ts), e.g. CDKTF_CONTEXT_JSON='{"stage":"expand"}' npx cdktf synth
 *
 * Exit codes: 2 for bad input (context, config), 1 for anything else. Everything is validated
 * before the App exists, because creating it already writes the output directory.
 */
import { App } from 'cdktf';
import { readSynthContext } from './lib/config/context.ts';
import { loadRolloutConfig } from './lib/config/load.ts';
import { describeError, UsageError } from './lib/errors.ts';
import { buildRolloutApp } from './lib/stacks/app.ts';

try {
  const context = readSynthContext(process.env);
  loadRolloutConfig({ path: context.config, overrides: context.stage === undefined ? {} : { stage: context.stage } });
  const app = new App();
  buildRolloutApp(app);
  app.synth();
} catch (error) {
  process.stderr.write(`consul-rollout synth: ${describeError(error)}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
}
