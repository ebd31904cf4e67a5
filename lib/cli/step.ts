import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Command, Option } from 'clipanion';
import { execa } from 'execa';
import { loadRolloutConfig } from '../config/load.ts';
import { STAGES, type Stage } from '../config/schema.ts';
import { App } from 'cdktf';
import { buildRolloutApp, CONTEXT_KEYS } from '../stacks/app.ts';
import { checkStageStep, resolveTfBin, stepStage, type ProcessRun } from '../rollout/stage-step.ts';
import { LocalRollout } from '../rehearsal/local-rollout.ts';
import type { DecisionSink } from '../drain/decision-log.ts';
import { LOCAL_ROLLOUT, synthesizeStages } from '../rehearsal/stages.ts';
import { verifyRollout } from '../rehearsal/verify.ts';
import { RolloutError, UsageError } from '../errors.ts';
import type { ImageBuildResult } from '../image/build.ts';
import { provisionConsulBinaries } from '../fleet/local/binaries.ts';
import { LocalFleet } from '../fleet/local/fleet.ts';
import { loadState, newRolloutState, nextStage, saveState, type RolloutState, type StageRecord } from '../rollout/state-file.ts';
import { RolloutCommand, type CommandOutcome } from './command.ts';
import { buildImageWithAws } from './image.ts';
import { createProgress } from './progress.ts';

const DEPLOY_STAGES = STAGES;
/** Where `step --cdktf` synthesizes (cdktf's own default output directory) and records stages. */
const CDKTF_OUTDIR = 'cdktf.out';
const CDKTF_STATE_FILE = 'consul-rollout-state.json';

/** Synthesizes `stage` as `cdktf synth` would (main.ts) and returns the stack's directory. */
function synthStage(stage: Stage, outdir: string): string {
  const app = new App({ outdir, context: { [CONTEXT_KEYS.stage]: stage } });
  const stack = buildRolloutApp(app);
  app.synth();
  return resolve(outdir, 'stacks', stack.node.id);
}

async function runProcess(bin: string, args: readonly string[], cwd: string): Promise<ProcessRun> {
  const result = await execa(bin, args, { cwd, reject: false, all: true, env: { CHECKPOINT_DISABLE: '1' } });
  const started = result.exitCode !== undefined || result.signal !== undefined;
  return { exitCode: started ? (result.exitCode ?? 128) : undefined, stdout: result.stdout, output: result.all };
}

export class StepCommand extends RolloutCommand {
  static override paths = [['step']];
  static override usage = Command.Usage({
    description: 'Step through a staged upgrade by hand: show, confirm, run, verify, record',
    details: `
      Local fleet (\`--fleet DIR\`, a fleet started by consul-rollout whose old-generation servers run):
      steps through the same deploy stages as AWS — canary, expand, retire — each rehearsed from its
      synthesized stack through the local Auto Scaling engine, EventBridge, SQS and the production
      Lambda handler. Each call shows the next stage, asks to confirm (\`--yes\` to skip; without a
      terminal \`--yes\` is required), applies it and records it in the state file. \`--all\` runs every
      remaining stage. \`--resume\` re-applies a stage that was interrupted (a crash, a kill): the stage
      is applied again against what really runs. \`--dry-run\` shows the next stage without acting or
      writing anything. A snapshot is saved before the canary; the retire stage ends with a
      verification (leader, Raft membership, versions, data).

      AWS (\`--cdktf --stage S\`): synthesizes that stage into cdktf.out, plans it with OpenTofu
      (\`--tf-bin\`, \`TOFU_BIN\`, \`tofu\` or else \`terraform\` on PATH) into a saved plan file, shows
      the plan's resource actions and the quorum steps, asks (\`--yes\` to skip; without a terminal
      \`--yes\` is required), applies exactly that plan file (the lifecycle hooks gate and drain the
      servers) and records the stage in the state file (\`--state\`, default ${CDKTF_STATE_FILE}).
      Stages go in order; a stage that goes backwards or skips one is refused unless
      \`--allow-out-of-order\`. Before \`canary\`, a new generation that declares an image build gets
      it first (\`consul-rollout image build\`: reused when built).
    `,
    examples: [
      ['Show the next stage', 'consul-rollout step --fleet /tmp/fleet --dry-run'],
      ['Run the next stage without asking', 'consul-rollout step --fleet /tmp/fleet --yes'],
      ['Continue after a crash, to the end', 'consul-rollout step --fleet /tmp/fleet --resume --all --yes'],
      ['Plan the canary stage on AWS, review it, then apply it', 'consul-rollout step --cdktf --stage canary'],
    ],
  });

  fleet = Option.String('--fleet', { description: 'Directory of a local fleet (holds fleet.json)' });
  state = Option.String('--state', { description: 'State file (default: <fleet>/rollout-state.json)' });
  yes = Option.Boolean('--yes', false, { description: 'Do not ask for confirmation' });
  resume = Option.Boolean('--resume', false, { description: 'Re-apply a stage that was interrupted' });
  dryRun = Option.Boolean('--dry-run', false, { description: 'Show the next stage without acting' });
  all = Option.Boolean('--all', false, { description: 'Run every remaining stage' });
  cdktf = Option.Boolean('--cdktf', false, { description: 'AWS: plan and apply one stage of the synthesized stack' });
  stage = Option.String('--stage', { description: `AWS stage: ${DEPLOY_STAGES.join(', ')}` });
  tfBin = Option.String('--tf-bin', { description: 'AWS: the OpenTofu or Terraform executable (default: $TOFU_BIN, else tofu, else terraform on PATH)' });
  allowOutOfOrder = Option.Boolean('--allow-out-of-order', false, { description: 'AWS: apply a stage that goes backwards or skips one' });

  async perform(): Promise<CommandOutcome> {
    if (this.cdktf) return this.deployStage();
    if (this.fleet === undefined) throw new UsageError('step needs --fleet DIR (local) or --cdktf --stage S (AWS)');
    const stateFile = this.state ?? join(this.fleet, 'rollout-state.json');
    const fleet = LocalFleet.adopt(this.fleet);
    const binaries = await provisionConsulBinaries();
    // Validated whole before anything is written.
    const state =
      loadState(stateFile) ??
      newRolloutState({
        servers: fleet.running().filter((s) => s.generation === LOCAL_ROLLOUT.generations.old).length,
        from: binaries.old.version,
        to: binaries.new.version,
      });
    if (this.resume && !state.stages.some((s) => s.status === 'running')) {
      throw new UsageError('--resume: no stage was interrupted', { remedy: 'run without --resume' });
    }
    const interrupted = state.stages.find((s) => s.status === 'running');
    if (interrupted !== undefined && !this.resume && !this.dryRun) {
      throw new UsageError(`stage ${interrupted.stage} was interrupted (the process running it stopped)`, {
        remedy: 'run again with --resume: the stage is applied again against what really runs',
      });
    }
    if (this.dryRun) {
      const next = nextStage(state);
      return { document: { state, next }, text: next === undefined ? 'rollout complete' : describeStage(next, state), ok: true };
    }
    if (state.servers < 1) throw new RolloutError(`the fleet in ${this.fleet} runs no ${LOCAL_ROLLOUT.generations.old} server to roll from`);
    saveState(stateFile, state);
    const progress = createProgress(this.context.stderr);
    const ran: StageRecord[] = [];
    for (let record = nextStage(state); record !== undefined; record = nextStage(state)) {
      this.progress(describeStage(record, state));
      if (!(await this.confirm())) break;
      await progress.step(`stage ${record.stage}: apply its synthesized stack (rehearsed)`, () => this.runStage(record, state, fleet, binaries, stateFile, progress.decisions));
      progress.note(record.summary ?? '');
      ran.push(record);
      if (!this.all) break;
    }
    const next = nextStage(state);
    const text = [
      ...ran.map((r) => `done: stage ${r.stage}: ${r.summary ?? ''}`),
      next === undefined ? 'rollout complete' : `next: stage ${next.stage}`,
      `state: ${stateFile}`,
    ].join('\n');
    return { document: { ran, next, state }, text, ok: true };
  }

  async runStage(
    record: StageRecord,
    state: RolloutState,
    fleet: LocalFleet,
    binaries: Awaited<ReturnType<typeof provisionConsulBinaries>>,
    stateFile: string,
    sink: DecisionSink,
  ): Promise<void> {
    const index = state.stages.indexOf(record);
    record.status = 'running';
    record.startedAt ??= new Date().toISOString();
    saveState(stateFile, state);
    if (index === 0 && state.snapshot === undefined) {
      // Before anything changes: a sentinel that verify reads back, and a snapshot to restore from.
      const leader = await fleet.waitForLeader();
      const sentinel = `consul-rollout/verify/${randomUUID()}`;
      await leader.client.kvPut(sentinel, new Date().toISOString());
      state.dataChecks[sentinel] = (await leader.client.kvGet(sentinel)).entry?.value ?? '';
      const file = join(fleet.baseDir, `pre-rollout-${Date.now()}.snap`);
      await leader.client.saveSnapshot(file);
      state.snapshot = file;
      saveState(stateFile, state);
    }
    const applied = index === 0 ? undefined : state.stages[index - 1]?.stage;
    const rollout = new LocalRollout({
      fleet,
      binaries,
      stages: synthesizeStages(state.servers, binaries, join(fleet.baseDir, 'cdktf.out')),
      ...(applied === undefined ? {} : { applied }),
      onDecision: sink,
    });
    let seconds: string;
    try {
      const report = await rollout.apply(record.stage);
      seconds = ((report.finishedAt - report.startedAt) / 1000).toFixed(1);
    } finally {
      await rollout.stop();
    }
    record.summary = `${record.stage} applied in ${seconds} s`;
    if (record.stage === 'retire') {
      record.summary += `; ${await verifyRollout(fleet, { generation: LOCAL_ROLLOUT.generations.new, version: state.to }, state.dataChecks)}`;
    }
    record.status = 'done';
    record.finishedAt = new Date().toISOString();
    saveState(stateFile, state);
  }

  async confirm(): Promise<boolean> {
    if (this.yes) return true;
    if (!process.stdin.isTTY) {
      throw new UsageError('refusing to act without confirmation and no terminal to ask on', { remedy: 'pass --yes' });
    }
    return this.ask('Run this step? [y/N] ');
  }

  /** AWS: plan the stage with OpenTofu/Terraform, show it, ask, apply that saved plan, record it. */
  async deployStage(): Promise<CommandOutcome> {
    const stage = this.stage;
    if (stage === undefined || !(DEPLOY_STAGES as readonly string[]).includes(stage)) {
      throw new UsageError(`--stage must be one of ${DEPLOY_STAGES.join(', ')}, got "${stage ?? ''}"`);
    }
    const tfBin = resolveTfBin(this.tfBin, process.env);
    const confirm = this.yes || !process.stdin.isTTY ? undefined : (question: string) => this.ask(question);
    if (!this.yes && confirm === undefined && !this.dryRun) {
      // Before the config is even read: no terminal, no --yes is the first thing to fix.
      throw new UsageError('refusing to apply without confirmation and no terminal to ask on', { remedy: 'pass --yes' });
    }
    const config = loadRolloutConfig({ overrides: { stage } });
    const stateFile = this.state ?? CDKTF_STATE_FILE;
    if (this.dryRun) {
      checkStageStep({ stage: stage as Stage, config, stateFile, allowOutOfOrder: this.allowOutOfOrder });
      const text = `would synthesize stage ${stage} into ${CDKTF_OUTDIR}, plan it with ${tfBin} (plan -out ${stage}.tfplan), show it, apply that plan file and record it in ${stateFile}`;
      return { document: { stage, tfBin, stateFile }, text, ok: true };
    }
    let image: ImageBuildResult | undefined;
    const result = await stepStage(
      { stage: stage as Stage, config, stateFile, tfBin, yes: this.yes, allowOutOfOrder: this.allowOutOfOrder },
      {
        prepare: async (s) => {
          if (s === 'canary') image = await this.ensureNewImage();
        },
        synth: (s) => synthStage(s, CDKTF_OUTDIR),
        run: runProcess,
        confirm,
        show: (text) => this.progress(text),
        now: () => new Date(),
      },
    );
    const document = { stage, applied: result.applied, planFile: result.planFile, counts: result.review.counts, stateFile, ...(image === undefined ? {} : { image }) };
    const text = result.applied ? `stage ${stage} applied from ${result.planFile}; recorded in ${stateFile}` : 'not confirmed: nothing applied, nothing recorded';
    return { document, text, ok: true };
  }

  async ask(question: string): Promise<boolean> {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
      rl.close();
    }
  }

  /**
   * The canary is the first stage that launches the new generation: when that generation declares
   * an image build, build it now (or find it already built) so the deploy does not fail on it.
   */
  async ensureNewImage(): Promise<ImageBuildResult | undefined> {
    const config = loadRolloutConfig();
    if (config.rollout.new.ami.kind !== 'build') return undefined;
    return buildImageWithAws(config, config.rollout.new.name, { packerBin: undefined, progress: (line) => this.progress(line) });
  }
}

function describeStage(record: StageRecord, state: RolloutState): string {
  const what = {
    canary: `launch 1 ${LOCAL_ROLLOUT.generations.new} server (Consul ${state.to}), gated until it is a stable voter`,
    expand: `launch the other ${state.servers - 1} ${LOCAL_ROLLOUT.generations.new} servers at once, each gated`,
    retire: `destroy the ${LOCAL_ROLLOUT.generations.old} group: every old server's drain starts at once and follows the lock`,
  }[record.stage];
  return `next: stage ${state.stages.indexOf(record) + 1}/${state.stages.length} [${record.stage}] ${what}`;
}
