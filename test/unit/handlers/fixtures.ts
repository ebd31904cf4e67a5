/** Loads the event fixtures (test/fixtures/events), shared by the handler tests. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const EVENTS_DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'events');

export function fixtureText(name: string): string {
  return readFileSync(join(EVENTS_DIR, name), 'utf8');
}

export function fixture(name: string): unknown {
  return JSON.parse(fixtureText(name)) as unknown;
}

/** The cluster the fixtures belong to: groups `prod-consul-<generation>`. */
export const managedByFixtures = { managedGroups: (name: string) => name.startsWith('prod-consul-') };
