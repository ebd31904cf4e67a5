/**
 * The end of a rollout, checked from the outside: a leader; only the new generation's servers in
 * the Raft configuration, each running the new version; every KV key written before the rollout
 * still holds its value.
 */
import { readCluster } from '../consul/cluster.ts';
import { RolloutError } from '../errors.ts';
import type { LocalFleet } from '../fleet/local/fleet.ts';
import type { RolloutTarget } from '../rollout/plan.ts';


/** A one-line account of what was verified; throws RolloutError listing every problem found. */
export async function verifyRollout(fleet: LocalFleet, target: RolloutTarget, data: Readonly<Record<string, string>>): Promise<string> {
  const leader = await fleet.waitForLeader();
  const cluster = await readCluster(leader.client);
  const problems: string[] = [];
  if (cluster.leaderAddress === '') problems.push('no leader');
  const inRaft = cluster.servers.map((s) => s.name).sort();
  const expected = fleet.running().filter((s) => s.generation === target.generation).map((s) => s.name).sort();
  if (JSON.stringify(inRaft) !== JSON.stringify(expected)) {
    problems.push(`Raft holds [${inRaft.join(', ')}], expected only [${expected.join(', ')}]`);
  }
  for (const server of fleet.running()) {
    const version = (await server.client.self()).version;
    if (version !== target.version) problems.push(`${server.name} runs ${version}, not ${target.version}`);
  }
  for (const [key, value] of Object.entries(data)) {
    const actual = (await leader.client.kvGet(key)).entry?.value;
    if (actual !== value) problems.push(`KV ${key} is ${actual === undefined ? 'missing' : `"${actual}"`}, expected "${value}"`);
  }
  if (problems.length > 0) {
    throw new RolloutError(`verification failed: ${problems.join('; ')}`, {
      remedy: 'run `consul-rollout doctor` for details; restore from the pre-rollout snapshot if data is missing',
    });
  }
  return `leader present; Raft = ${expected.length} ${target.generation} servers on ${target.version}; ${Object.keys(data).length} KV keys intact`;
}
