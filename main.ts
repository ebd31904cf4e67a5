/**
 * cdktf app entry (`cdktf synth` runs `npx tsx main.ts`): validates the rollout config and builds
 * the stack of its current stage. Context keys: see CONTEXT_KEYS in lib/stacks/app.ts, e.g.
 * CDKTF_CONTEXT_JSON='{"stage":"expand"}' npx cdktf synth
 */
import { App } from 'cdktf';
import { describeError, UsageError } from './lib/errors.ts';
import { buildRolloutApp } from './lib/stacks/app.ts';

const app = new App();
try {
  buildRolloutApp(app);
  app.synth();
} catch (error) {
  process.stderr.write(`${describeError(error)}\n`);
  // Exit codes of DESIGN.md §5: 2 for bad input, 1 for anything else.
  process.exit(error instanceof UsageError ? 2 : 1);
}
