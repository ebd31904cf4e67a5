/**
 * One AWS deploy stage, stepped through by hand: synthesize the stage, `tofu plan -out` it, show
 * the plan's actions and quorum steps, ask, apply exactly that saved plan file, and record the
 * stage in the state file. Stages go in order (canary → expand → retire); a stage may be applied
 * again (after a failed apply, or to converge), but going back or skipping one needs an explicit
 * `allowOutOfOrder` — checked before anything is synthesized, planned or written.
 *
 * Effects come in through {@link StageStepPorts} (processes, prompt, synth, clock), so the whole
 * procedure runs in unit tests against fakes and in the integration test against moto.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { RolloutConfig } from '../config/load.ts';
import { STAGES, type Stage } from '../config/schema.ts';
import { RolloutError, UsageError } from '../errors.ts';
import { loadState, newRolloutState, saveState, type RolloutState } from './state-file.ts';
import { renderPlanComment, reviewPlan, type PlanReview } from './tofu-plan.ts';

/** What a finished child process left: its exit code (undefined: it never started) and output. */
export interface ProcessRun {
  readonly exitCode: number | undefined;
  readonly stdout: string;
  /** stdout and stderr interleaved, for error messages. */
  readonly output: string;
}

export type RunProcess = (bin: string, args: readonly string[], cwd: string) => Promise<ProcessRun>;

export interface StageStepPorts {
  /**
   * Runs after the checks, before the synth: what the stage needs first (the CLI builds the new
   * generation's image before canary), so a refused stage never starts it. @default nothing
   */
  readonly prepare?: (stage: Stage) => Promise<void>;
  /** Synthesizes `stage` (as `cdktf synth` would) and returns the stack's directory. */
  readonly synth: (stage: Stage) => string | Promise<string>;
  readonly run: RunProcess;
  /** Asks a yes/no question; undefined when there is no terminal to ask on. */
  readonly confirm: ((question: string) => Promise<boolean>) | undefined;
  /** Shows progress and the plan to the operator (stderr in the CLI). */
  readonly show: (text: string) => void;
  readonly now: () => Date;
}

export interface StageStepOptions {
  readonly stage: Stage;
  readonly config: RolloutConfig;
  readonly stateFile: string;
  /** The OpenTofu/Terraform executable (see {@link resolveTfBin}). */
  readonly tfBin: string;
  /** Apply without asking. @default false */
  readonly yes?: boolean;
  /** Allow a stage before the last one done, or one that skips a stage. @default false */
  readonly allowOutOfOrder?: boolean;
}

export interface StageStepResult {
  readonly stage: Stage;
  readonly applied: boolean;
  readonly planFile: string;
  readonly review: PlanReview;
  readonly state: RolloutState;
}

/**
 * The binary that plans and applies: `--tf-bin`, else `TOFU_BIN`, else `tofu` on PATH, else
 * `terraform` on PATH (OpenTofu preferred: it is what the project tests). Throws UsageError when
 * none can be run.
 */
export function resolveTfBin(flag: string | undefined, env: NodeJS.ProcessEnv, isExecutable: (path: string) => boolean = executableFile): string {
  const given = flag ?? (env['TOFU_BIN'] === '' ? undefined : env['TOFU_BIN']);
  const remedy = 'install OpenTofu (scripts/provision-tofu.sh builds it) or pass --tf-bin PATH / set TOFU_BIN';
  if (given !== undefined) {
    const found = given.includes('/') ? (isExecutable(given) ? given : undefined) : onPath(given, env, isExecutable);
    if (found === undefined) throw new UsageError(`cannot run ${given} (not an executable file${given.includes('/') ? '' : ' on PATH'})`, { remedy });
    return found;
  }
  for (const name of ['tofu', 'terraform']) {
    const found = onPath(name, env, isExecutable);
    if (found !== undefined) return found;
  }
  throw new UsageError('neither tofu nor terraform is on PATH', { remedy });
}

function onPath(name: string, env: NodeJS.ProcessEnv, isExecutable: (path: string) => boolean): string | undefined {
  return (env['PATH'] ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, name))
    .find(isExecutable);
}

function executableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Whether `stage` may be applied given the stages done: the next one, or the last one done again.
 * Anything else is refused unless `allowOutOfOrder`. Pure; throws UsageError.
 */
export function checkStageOrder(state: RolloutState, stage: Stage, allowOutOfOrder: boolean): void {
  const target = STAGES.indexOf(stage);
  const lastDone = state.stages.findLastIndex((s) => s.status === 'done');
  const nextIndex = state.stages.findIndex((s) => s.status !== 'done');
  const next = nextIndex === -1 ? undefined : STAGES[nextIndex];
  if (allowOutOfOrder || target === nextIndex || target === lastDone) return;
  const done = lastDone === -1 ? 'no stage is done yet' : `stage ${STAGES[lastDone]} is done`;
  const expected = `the next stage is ${next ?? '(none: the rollout is complete)'}`;
  if (target < lastDone) {
    throw new UsageError(`stage ${stage} goes backwards: ${done}; ${expected}`, {
      remedy: `to abort, see the README (Abort); to re-apply ${stage} on purpose, pass --allow-out-of-order`,
    });
  }
  throw new UsageError(`stage ${stage} skips a stage: ${done}; ${expected}`, {
    remedy: `apply ${next ?? 'nothing'} first, or pass --allow-out-of-order`,
  });
}

/** A state file for this config: a new one, or the existing one when it is the same rollout. */
function stateFor(config: RolloutConfig, stateFile: string): RolloutState {
  const expected = { servers: config.serverCount, from: config.rollout.old.consulVersion, to: config.rollout.new.consulVersion };
  const state = loadState(stateFile);
  if (state === undefined) return newRolloutState(expected);
  if (state.servers !== expected.servers || state.from !== expected.from || state.to !== expected.to) {
    throw new UsageError(
      `${stateFile} records another rollout (${state.servers} servers, ${state.from} → ${state.to}; the config says ${expected.servers}, ${expected.from} → ${expected.to})`,
      { remedy: 'pass --state FILE for this rollout, or move the old state file away' },
    );
  }
  return state;
}

async function runTf(ports: StageStepPorts, bin: string, args: readonly string[], cwd: string, what: string): Promise<ProcessRun> {
  const result = await ports.run(bin, args, cwd);
  if (result.exitCode === undefined) throw new UsageError(`cannot run ${bin}`, { remedy: 'pass --tf-bin PATH of an OpenTofu or Terraform executable' });
  if (result.exitCode !== 0) {
    throw new RolloutError(`${what} failed (${bin} ${args[0] ?? ''} exit ${result.exitCode}):\n${result.output.trim().split('\n').slice(-30).join('\n')}`, {
      remedy: 'read the output above; lifecycle hooks that waited left servers untouched; inspect with `consul-rollout doctor`',
    });
  }
  return result;
}

/**
 * Everything checked before a stage is synthesized: the config goes forward, the state file (read
 * and validated whole) belongs to this rollout, and the stage is in order. Returns the state.
 */
export function checkStageStep(options: Pick<StageStepOptions, 'stage' | 'config' | 'stateFile' | 'allowOutOfOrder'>): RolloutState {
  const { config, stateFile } = options;
  if (config.rollout.abort) {
    // The state file records stages going forward; an abort is none of them.
    throw new UsageError(`${config.source}: rollout.abort is set: step applies forward stages only`, {
      remedy: 'review the abort with `tofu plan` (README, Abort) and apply it with `cdktf deploy`; then move the state file away',
    });
  }
  const state = stateFor(config, stateFile);
  checkStageOrder(state, options.stage, options.allowOutOfOrder ?? false);
  return state;
}

/** Plans, shows, asks, applies the saved plan and records the stage. */
export async function stepStage(options: StageStepOptions, ports: StageStepPorts): Promise<StageStepResult> {
  const { stage, stateFile, tfBin } = options;
  if (options.yes !== true && ports.confirm === undefined) {
    throw new UsageError('refusing to apply without confirmation and no terminal to ask on', { remedy: 'pass --yes' });
  }
  // Before anything is synthesized or planned.
  const state = checkStageStep(options);

  await ports.prepare?.(stage);
  ports.show(`stage ${stage}: synthesize`);
  const dir = await ports.synth(stage);
  const planFile = `${stage}.tfplan`;
  ports.show(`stage ${stage}: ${tfBin} init, plan -out ${planFile} (in ${dir})`);
  await runTf(ports, tfBin, ['init', '-input=false', '-no-color'], dir, `init of stage ${stage}`);
  await runTf(ports, tfBin, ['plan', '-input=false', '-no-color', '-out', planFile], dir, `plan of stage ${stage}`);
  const shown = await runTf(ports, tfBin, ['show', '-json', planFile], dir, `reading the plan of stage ${stage}`);
  let json: unknown;
  try {
    json = JSON.parse(shown.stdout);
  } catch (cause) {
    throw new RolloutError(`${tfBin} show -json ${planFile} did not print JSON`, { cause, remedy: 'check that --tf-bin is OpenTofu or Terraform ≥ 1.0' });
  }
  const review = reviewPlan(json, join(dir, planFile));
  ports.show(renderPlanComment([{ label: `stage ${stage}`, review }], {}));
  ports.show(`plan file: ${join(dir, planFile)}`);

  const question = `Apply this plan (stage ${stage}: ${review.counts.create} to add, ${review.counts.update} to change, ${review.counts.replace} to replace, ${review.counts.destroy} to destroy)? [y/N] `;
  const confirmed = options.yes === true || (await ports.confirm!(question));
  if (!confirmed) return { stage, applied: false, planFile: join(dir, planFile), review, state };

  const index = STAGES.indexOf(stage);
  const record = state.stages[index]!;
  record.status = 'running';
  record.startedAt = ports.now().toISOString();
  delete record.finishedAt;
  saveState(stateFile, state);
  // Exactly the plan shown: a saved plan file applies as planned or fails if the state moved.
  await runTf(ports, tfBin, ['apply', '-input=false', '-no-color', planFile], dir, `apply of stage ${stage}`);
  record.status = 'done';
  record.finishedAt = ports.now().toISOString();
  record.summary = `applied ${planFile}: ${review.counts.create} added, ${review.counts.update} changed, ${review.counts.replace} replaced, ${review.counts.destroy} destroyed`;
  // Applied out of order (backwards): the later stages are to be applied again.
  for (const later of state.stages.slice(index + 1)) {
    later.status = 'pending';
    delete later.startedAt;
    delete later.finishedAt;
    delete later.summary;
  }
  saveState(stateFile, state);
  return { stage, applied: true, planFile: join(dir, planFile), review, state };
}
