/**
 * Test helpers for integration tests on real Consul servers. A test that cannot get its Consul
 * binaries fails here, loudly: there is no fallback to a fake.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { provisionConsulBinaries, type ConsulBinaries } from '../../lib/fleet/local/binaries.ts';
import { LocalFleet } from '../../lib/fleet/local/fleet.ts';
import type { LocalFleetOptions } from '../../lib/fleet/local/agent-config.ts';

const OUTPUT_ROOT = join(import.meta.dirname, '..', '..', 'test-output');

export async function binaries(): Promise<ConsulBinaries> {
  return provisionConsulBinaries();
}

/**
 * A fleet whose logs land in test-output/<test name>/ and which is torn down when the test ends,
 * whether it passed or not.
 */
export async function testFleet(t: TestContext, options: LocalFleetOptions = {}): Promise<LocalFleet> {
  const slug = t.fullName.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 120);
  const baseDir = join(OUTPUT_ROOT, `${slug}-${Date.now()}`);
  mkdirSync(baseDir, { recursive: true });
  const fleet = await LocalFleet.create({ ...options, baseDir });
  t.after(() => fleet.teardown());
  return fleet;
}
