/**
 * The fleet's manifest, `fleet.json` in its baseDir: the fleet's options and every server's
 * address, version, state and pid, so that another process can take the fleet over.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/** The manifest's file name, in the fleet's baseDir. */
export const FLEET_MANIFEST = 'fleet.json';

export const ManifestSchema = z.object({
  /** The process that created the fleet: it owns the address claims and the teardown. */
  creatorPid: z.number().int().positive().optional(),
  /** As the creator spelled it: agents' command lines name their config files under it. */
  baseDir: z.string().min(1),
  options: z.object({
    datacenter: z.string(),
    serverStabilizationTime: z.string(),
    lastContactThreshold: z.string(),
    cleanupDeadServers: z.boolean(),
    raftMultiplier: z.number(),
    logLevel: z.string(),
    readyTimeoutMs: z.number().int().positive(),
    insecure: z.boolean(),
  }),
  servers: z.array(
    z.object({
      name: z.string().min(1),
      ip: z.string().min(1),
      generation: z.string(),
      binary: z.object({ version: z.string(), path: z.string().min(1) }),
      state: z.enum(['running', 'stopped', 'terminated']),
      /** The agent's pid (leader of its own process group) while it runs. */
      pid: z.number().int().positive().optional(),
    }),
  ),
});
export type Manifest = z.output<typeof ManifestSchema>;

/** The manifest in `baseDir`; undefined when there is none or it is unreadable (nothing to take over). */
export function readManifest(baseDir: string): Manifest | undefined {
  try {
    const parsed = ManifestSchema.safeParse(JSON.parse(readFileSync(join(baseDir, FLEET_MANIFEST), 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
