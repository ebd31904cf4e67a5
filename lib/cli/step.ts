import { randomUUID } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Command, Option } from 'clipanion';
import { execa } from 'execa';
import { loadRolloutConfig } from '../config/load.ts';
import { STAGES } from '../config/schema.ts';
import { LocalRollout } from '../demo/local-rollout.ts';
import type { DecisionSink } from '../drain/decision-log.ts';
import { LOCAL_ROLLOUT } from '../demo/stages.ts';
import { verifyRollout } from '../demo/verify.ts';
import { RolloutError, UsageError } from '../errors.ts';
import type { ImageBuildResult } from '../image/build.ts';
import { provisionConsulBinaries } from '../fleet/local/binaries.ts';
import { LocalFleet } from '../fleet/local/fleet.ts';
import { loadState, newRolloutState, nextStage, saveState, type RolloutState, type StageRecord } from '../rollout/state-file.ts';
import { RolloutCommand, type CommandOutcome } from './command.ts';
import { buildImageWithAws } from './image.ts';
import { createProgress } from './progress.ts';

const DEPLOY_STAGES = STAGES;

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

      AWS (\`--cdktf --stage S\`): runs that stage's \`cdktf deploy\` (the lifecycle hooks gate and
      drain the servers) and records the stage as done. Before \`canary\`, a new generation that
      declares an image build gets it first (\`consul-rollout image build\`: reused when built).
    `,
    examples: [
      ['Show the next stage', 'consul-rollout step --fleet /tmp/fleet --dry-run'],
      ['Run the next stage without asking', 'consul-rollout step --fleet /tmp/fleet --yes'],
      ['Continue after a crash, to the end', 'consul-rollout step --fleet /tmp/fleet --resume --all --yes'],
      ['Deploy the canary stage on AWS', 'consul-rollout step --cdktf --stage canary --yes'],
    ],
  });

  fleet = Option.String('--fleet', { description: 'Directory of a local fleet (holds fleet.json)' });
  state = Option.String('--state', { description: 'State file (default: <fleet>/rollout-state.json)' });
  yes = Option.Boolean('--yes', false, { description: 'Do not ask for confirmation' });
  resume = Option.Boolean('--resume', false, { description: 'Re-apply a stage that was interrupted' });
  dryRun = Option.Boolean('--dry-run', false, { description: 'Show the next stage without acting' });
  all = Option.Boolean('--all', false, { description: 'Run every remaining stage' });
  cdktf = Option.Boolean('--cdktf', false, { description: 'AWS: run the stage with cdktf deploy' });
  stage = Option.String('--stage', { description: `AWS stage: ${DEPLOY_STAGES.join(', ')}` });
  cdktfBin = Option.String('--cdktf-bin', 'cdktf', { description: 'The cdktf executable (default: cdktf on PATH)' });

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
      servers: state.servers,
      outdir: join(fleet.baseDir, 'cdktf.out'),
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
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question('Run this step? [y/N] ')).trim());
    } finally {
      rl.close();
    }
  }

  /** AWS: the stage is a `cdktf deploy` of the same stack with the stage in the context. */
  async deployStage(): Promise<CommandOutcome> {
    const stage = this.stage;
    if (stage === undefined || !(DEPLOY_STAGES as readonly string[]).includes(stage)) {
      throw new UsageError(`--stage must be one of ${DEPLOY_STAGES.join(', ')}, got "${stage ?? ''}"`);
    }
    const args = ['deploy', '--auto-approve'];
    if (this.dryRun) return { document: { stage, command: [this.cdktfBin, ...args] }, text: `would run: ${this.cdktfBin} ${args.join(' ')} (stage ${stage})`, ok: true };
    if (!(await this.confirm())) return { document: { stage, skipped: true }, text: 'not confirmed: nothing deployed', ok: true };
    // Before the image step, which may take minutes: a deploy that cannot even start must not
    // build an image first.
    assertRunnable(this.cdktfBin);
    const image = stage === 'canary' ? await this.ensureNewImage() : undefined;
    const result = await execa(this.cdktfBin, args, {
      env: { CDKTF_CONTEXT_JSON: JSON.stringify({ stage }) },
      stdout: ['pipe', 'inherit'],
      stderr: 'inherit',
      reject: false,
    }).catch((cause: unknown) => {
      throw new UsageError(`cannot run ${this.cdktfBin}`, { cause, remedy: 'install cdktf-cli (npm i -g cdktf-cli) or pass --cdktf-bin' });
    });
    // With reject: false, a binary that cannot be started comes back as a result without an exit code.
    if (result.exitCode === undefined && result.signal === undefined) {
      throw new UsageError(`cannot run ${this.cdktfBin} (${result.code ?? 'not started'})`, {
        remedy: 'install cdktf-cli (npm i -g cdktf-cli) or pass --cdktf-bin PATH of an executable',
      });
    }
    if (result.exitCode !== 0) {
      const how = result.signal === undefined ? `exit ${result.exitCode}` : `killed by ${result.signal}`;
      throw new RolloutError(`cdktf deploy of stage ${stage} failed (${how})`, {
        remedy: 'read the Terraform output above; lifecycle hooks that waited left servers untouched; inspect with `consul-rollout doctor`',
      });
    }
    return { document: { stage, exitCode: 0, ...(image === undefined ? {} : { image }) }, text: `stage ${stage} deployed`, ok: true };
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

/** A --cdktf-bin given as a path must be an executable file; a bare name is left to PATH lookup. */
function assertRunnable(bin: string): void {
  if (!bin.includes('/')) return;
  try {
    if (!statSync(bin).isFile()) throw new Error('not a regular file');
    accessSync(bin, constants.X_OK);
  } catch (cause) {
    throw new UsageError(`cannot run ${bin} (${(cause as NodeJS.ErrnoException).code ?? 'not a regular file'})`, {
      cause,
      remedy: 'install cdktf-cli (npm i -g cdktf-cli) or pass --cdktf-bin PATH of an executable',
    });
  }
}
