import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { Command, Option } from 'clipanion';
import { ConsulClient } from '../consul/client.ts';
import { readCluster } from '../consul/cluster.ts';
import { UsageError } from '../errors.ts';
import { planRollout } from '../rollout/plan.ts';
import { renderPlan } from '../rollout/render.ts';
import { assertSynthesizedStack } from '../rollout/stack-schema.ts';
import { computeSynthDiff, renderSynthDiffMarkdown } from '../rollout/synth-diff.ts';
import { renderPlanComment, reviewPlan } from '../rollout/tofu-plan.ts';
import { ClusterCommand, type CommandOutcome } from './command.ts';

export class PlanCommand extends ClusterCommand {
  static override paths = [['plan']];
  static override usage = Command.Usage({
    description: 'Show the ordered rollout steps with voters, quorum and failure tolerance after each',
    details: `
      Two sources:

      - A live cluster (\`--http-addr\`): reads the Raft configuration and autopilot health, and plans a blue/green rollout to \`--to-version\` as generation \`--to-generation\`.

      - Two synthesized stacks (\`--base\`, \`--head\`: a cdktf.out directory or its cdk.tf.json), for pull-request review without AWS credentials: resources added, changed and destroyed; AMI and Consul version changes; lifecycle hook and timeout changes; and the resulting steps. Each must be a stack synthesized for this project (capacities whole numbers from 0 to 100).

      - Real plans (\`--plan-json FILE\`, repeatable: one per stage transition): the output of \`tofu show -json PLANFILE\` (or \`terraform show -json\`). Renders the PR comment from what the provider will really do — create, update in place, replace, destroy, with the changed values — plus the generations, a Mermaid diagram, the quorum steps, and a loud BACKWARDS flag when a plan destroys the newest generation, replaces a running group or moves the stage or a Consul version back. \`--commit\` names the commit (default: \`git rev-parse HEAD\`).

      \`--markdown\` renders for a PR comment; \`--json\` prints the plan document. Exit 0 with a plan, 2 for bad input.
    `,
    examples: [
      ['Plan a live cluster upgrade', 'consul-rollout plan --http-addr 10.0.1.10:8500 --to-version 1.22.7 --to-generation c1-22-7'],
      ['Review two synthesized stages in a PR', 'consul-rollout plan --base base/cdktf.out --head head/cdktf.out --markdown'],
      ['Comment on a real plan', 'tofu show -json expand.tfplan > expand.json && consul-rollout plan --plan-json expand.json --commit "$GITHUB_SHA"'],
    ],
  });

  httpAddr = Option.String('--http-addr', { description: 'Consul HTTP address(es) of the live cluster, comma-separated' });
  toVersion = Option.String('--to-version', { description: 'Consul version of the new generation' });
  toGeneration = Option.String('--to-generation', { description: 'Name of the new generation' });
  base = Option.String('--base', { description: 'Synthesized stack before the change (cdktf.out dir or cdk.tf.json)' });
  head = Option.String('--head', { description: 'Synthesized stack after the change (cdktf.out dir or cdk.tf.json)' });
  stack = Option.String('--stack', { description: 'Stack name when a cdktf.out holds several' });
  planJson = Option.Array('--plan-json', { description: 'A `tofu show -json` plan to review (repeatable)' });
  commit = Option.String('--commit', { description: 'Commit SHA the plans were made from (default: git rev-parse HEAD)' });
  markdown = Option.Boolean('--markdown', false, { description: 'Render Markdown for a pull-request comment' });

  async perform(): Promise<CommandOutcome> {
    if (this.planJson !== undefined) {
      if (this.base !== undefined || this.head !== undefined || this.httpAddr !== undefined) {
        throw new UsageError('use --plan-json on its own, not with --base/--head or --http-addr', { remedy: 'run one review at a time' });
      }
      const commit = await commitOf(this.commit);
      const plans = this.planJson.map((file) => ({ label: basename(file), review: reviewPlan(readJsonFile(file, PLAN_JSON_REMEDY), file) }));
      return { document: { commit, plans }, text: renderPlanComment(plans, { commit }), ok: true };
    }
    if (this.commit !== undefined) throw new UsageError('--commit goes with --plan-json');
    if (this.base !== undefined || this.head !== undefined) {
      if (this.base === undefined || this.head === undefined) throw new UsageError('--base and --head go together');
      if (this.httpAddr !== undefined) throw new UsageError('use either --http-addr or --base/--head, not both');
      const diff = computeSynthDiff(readStack(this.base, this.stack), readStack(this.head, this.stack));
      return { document: diff, text: renderSynthDiffMarkdown(diff), ok: true };
    }
    const access = this.consulAccess(this.httpAddr);
    if (access.addresses.length === 0 || this.toVersion === undefined || this.toGeneration === undefined) {
      throw new UsageError('plan needs --http-addr (or CONSUL_HTTP_ADDR), --to-version and --to-generation (or --base and --head)', {
        remedy: 'see `consul-rollout plan --help` for examples',
      });
    }
    if (!/^\d+\.\d+\.\d+$/.test(this.toVersion)) throw new UsageError(`--to-version must look like 1.22.7, got "${this.toVersion}"`);
    const cluster = await readCluster(ConsulClient.of(access, access.addresses[0]!));
    const plan = planRollout(cluster.servers, { generation: this.toGeneration, version: this.toVersion });
    return { document: plan, text: renderPlan(plan, this.markdown ? 'markdown' : 'text'), ok: true };
  }
}

/** A cdk.tf.json file, or the single (or named) stack of a cdktf.out directory. */
function readStack(path: string, stack: string | undefined): unknown {
  if (!existsSync(path)) throw new UsageError(`${path} does not exist`, { remedy: 'run `npx cdktf synth` first' });
  let file = path;
  if (statSync(path).isDirectory()) {
    const stacksDir = join(path, 'stacks');
    const names = existsSync(stacksDir) ? readdirSync(stacksDir) : [];
    const name = stack ?? (names.length === 1 ? names[0] : undefined);
    if (name === undefined || !names.includes(name)) {
      throw new UsageError(`cannot pick a stack in ${path}: found [${names.join(', ')}]`, { remedy: 'name one with --stack' });
    }
    file = join(stacksDir, name, 'cdk.tf.json');
  }
  const json = readJsonFile(file, 'pass a cdktf.out directory or its stacks/<stack>/cdk.tf.json, as written by `npx cdktf synth`');
  assertSynthesizedStack(json, file);
  return json;
}

const PLAN_JSON_REMEDY = 'pass the output of `tofu show -json PLANFILE` (after `tofu plan -out=PLANFILE`)';

function readJsonFile(file: string, remedy: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    // No `cause` and no parser message: both quote the file's first characters, and a file
    // passed by mistake may hold a secret.
    const code = (error as NodeJS.ErrnoException).code;
    const what = code === undefined ? 'is not valid JSON' : code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`;
    throw new UsageError(`${file} ${what}`, { remedy });
  }
}

/** The commit a comment names: `--commit`, else the checkout's HEAD. */
async function commitOf(commit: string | undefined): Promise<string> {
  const sha = commit ?? (await execa('git', ['rev-parse', 'HEAD'], { reject: false })).stdout.trim();
  if (!/^[0-9a-f]{7,40}$/.test(sha)) {
    throw new UsageError(commit === undefined ? 'cannot tell the commit: not in a git checkout' : `--commit must be a commit SHA (7–40 hex digits), got "${commit.slice(0, 60)}"`, {
      remedy: 'pass --commit with the SHA the plans were made from (in GitHub Actions: the pull request head SHA)',
    });
  }
  return sha;
}
