import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Command, Option } from 'clipanion';
import { execa } from 'execa';
import { loadRolloutConfig } from '../config/load.ts';
import { readCluster } from '../consul/cluster.ts';
import { RolloutError, UsageError } from '../errors.ts';
import type { ImageBuildResult } from '../image/build.ts';
import { provisionConsulBinaries } from '../fleet/local/binaries.ts';
import { LocalFleet } from '../fleet/local/fleet.ts';
import { localRolloutFleet } from '../fleet/local/rollout-fleet.ts';
import { newRolloutState, nextStep, runNextStep, type RolloutState } from '../rollout/execute.ts';
import { planRollout, STAGES, type PlanStep } from '../rollout/plan.ts';
import { loadState, saveState } from '../rollout/state-file.ts';
import { RolloutCommand, type CommandOutcome } from './command.ts';
import { buildImageWithAws } from './image.ts';
import { createProgress } from './progress.ts';

const DEPLOY_STAGES = STAGES.filter((s) => s !== 'verify');

export class StepCommand extends RolloutCommand {
  static override paths = [['step']];
  static override usage = Command.Usage({
    description: 'Step through a staged upgrade by hand: show, confirm, run, verify, record',
    details: `
      Local fleet (\`--fleet DIR\`, a fleet started by consul-rollout): the first call plans the rollout to
      \`--to-version\`/\`--to-generation\` and records it in the state file; each call then shows the
      next step with its effect on quorum, asks to confirm (\`--yes\` to skip; without a terminal
      \`--yes\` is required), runs and verifies it. \`--all\` runs every remaining step. \`--resume\`
      continues a step that was interrupted (a crash, a kill): every step is idempotent against the
      cluster's own state. \`--dry-run\` shows the next step without acting. A snapshot is saved
      before the first removal; a step whose preconditions fail (no leader, failure tolerance below
      1, unexpected versions) is refused with the reason.

      AWS (\`--cdktf --stage S\`): runs that stage's \`cdktf deploy\` (the lifecycle hooks gate and
      drain the servers) and records the stage as done. Before \`canary\`, a new generation that
      declares an image build gets it first (\`consul-rollout image build\`: reused when built).
    `,
    examples: [
      ['Plan and show the first step', 'consul-rollout step --fleet /tmp/fleet --to-version 1.22.7 --to-generation green --dry-run'],
      ['Run the next step without asking', 'consul-rollout step --fleet /tmp/fleet --yes'],
      ['Continue after a crash, to the end', 'consul-rollout step --fleet /tmp/fleet --resume --all --yes'],
      ['Deploy the canary stage on AWS', 'consul-rollout step --cdktf --stage canary --yes'],
    ],
  });

  fleet = Option.String('--fleet', { description: 'Directory of a local fleet (holds fleet.json)' });
  state = Option.String('--state', { description: 'State file (default: <fleet>/rollout-state.json or ./rollout-state.json)' });
  toVersion = Option.String('--to-version', { description: 'Consul version of the new generation (first call)' });
  toGeneration = Option.String('--to-generation', { description: 'Name of the new generation (first call)' });
  yes = Option.Boolean('--yes', false, { description: 'Do not ask for confirmation' });
  resume = Option.Boolean('--resume', false, { description: 'Continue a step that was interrupted' });
  dryRun = Option.Boolean('--dry-run', false, { description: 'Show the next step without acting' });
  all = Option.Boolean('--all', false, { description: 'Run every remaining step' });
  cdktf = Option.Boolean('--cdktf', false, { description: 'AWS: run the stage with cdktf deploy' });
  stage = Option.String('--stage', { description: `AWS stage: ${DEPLOY_STAGES.join(', ')}` });
  cdktfBin = Option.String('--cdktf-bin', 'cdktf', { description: 'The cdktf executable (default: cdktf on PATH)' });

  async perform(): Promise<CommandOutcome> {
    if (this.cdktf) return this.deployStage();
    if (this.fleet === undefined) throw new UsageError('step needs --fleet DIR (local) or --cdktf --stage S (AWS)');
    const stateFile = this.state ?? join(this.fleet, 'rollout-state.json');
    const fleet = LocalFleet.adopt(this.fleet);
    const binaries = await provisionConsulBinaries();
    const rolloutFleet = localRolloutFleet(fleet, [binaries.old, binaries.new]);
    const state = loadState(stateFile) ?? (await this.planFirst(rolloutFleet.running()[0]?.client));
    const interrupted = state.steps.find((s) => s.status === 'running');
    if (interrupted !== undefined && !this.resume && !this.dryRun) {
      throw new UsageError(`step ${interrupted.index + 1} was interrupted (the process running it stopped)`, {
        remedy: 'run again with --resume: the step is re-run safely against the cluster state',
      });
    }
    if (this.dryRun) {
      const step = nextStep(state);
      return { document: { state, next: step }, text: step === undefined ? 'rollout complete' : describeStep(step, state), ok: true };
    }
    saveState(stateFile, state);
    const progress = createProgress(this.context.stderr);
    const ran: PlanStep[] = [];
    for (let step = nextStep(state); step !== undefined; step = nextStep(state)) {
      this.progress(describeStep(step, state));
      if (!(await this.confirm())) break;
      const current = step;
      await progress.step(`step ${current.index + 1}: ${current.title}`, () =>
        runNextStep(state, {
          fleet: rolloutFleet,
          save: (s) => saveState(stateFile, s),
          snapshotDir: dirname(stateFile),
          sink: progress.decisions,
        }),
      );
      progress.note(state.steps[current.index]?.summary ?? '');
      ran.push(current);
      if (!this.all) break;
    }
    const next = nextStep(state);
    const text = [
      ...ran.map((s) => `done: step ${s.index + 1}/${state.plan.steps.length} ${state.steps[s.index]?.summary ?? s.title}`),
      next === undefined ? 'rollout complete' : `next: step ${next.index + 1}/${state.plan.steps.length} ${next.title}`,
      `state: ${stateFile}`,
    ].join('\n');
    return { document: { ran: ran.map((s) => state.steps[s.index]), next, state }, text, ok: true };
  }

  async planFirst(client: Parameters<typeof readCluster>[0] | undefined): Promise<RolloutState> {
    if (this.resume) throw new UsageError('--resume needs an existing state file', { remedy: 'start with --to-version and --to-generation' });
    if (this.toVersion === undefined || this.toGeneration === undefined) {
      throw new UsageError('the first step needs --to-version and --to-generation to plan the rollout');
    }
    if (client === undefined) throw new RolloutError('the fleet has no running server to plan from');
    const cluster = await readCluster(client);
    return newRolloutState(planRollout(cluster.servers, { generation: this.toGeneration, version: this.toVersion }));
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

function describeStep(step: PlanStep, state: RolloutState): string {
  const a = step.after;
  return `next: step ${step.index + 1}/${state.plan.steps.length} [${step.stage}] ${step.title}\n  after it: ${a.voters} voters, quorum ${a.quorum}, failure tolerance ${a.tolerance}`;
}
