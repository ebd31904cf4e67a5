import type { ClusterView, ServerView } from '../../../lib/safety/index.ts';

/**
 * One letter per server, named s1, s2, … in order, so a table row shows the whole cluster:
 * `L` healthy leader, `l` unhealthy leader, `v` healthy voter, `x` unhealthy voter,
 * `n` healthy non-voter, `d` unhealthy non-voter.
 */
export type ServerCode = 'L' | 'l' | 'v' | 'x' | 'n' | 'd';

const ROLES: Readonly<Record<ServerCode, Pick<ServerView, 'voter' | 'leader' | 'healthy'>>> = {
  L: { voter: true, leader: true, healthy: true },
  l: { voter: true, leader: true, healthy: false },
  v: { voter: true, leader: false, healthy: true },
  x: { voter: true, leader: false, healthy: false },
  n: { voter: false, leader: false, healthy: true },
  d: { voter: false, leader: false, healthy: false },
};

/** The Raft ID the fixtures give the server named `name`; distinct from the name on purpose. */
export function idOf(name: string): string {
  return `id-${name}`;
}

export function server(name: string, code: ServerCode, generation?: string): ServerView {
  return {
    id: idOf(name),
    name,
    // The quorum rule never reads addresses; a unique placeholder keeps views realistic.
    address: `${name}.test:8300`,
    ...ROLES[code],
    ...(generation === undefined ? {} : { generation }),
  };
}

export function cluster(spec: string): ClusterView {
  return {
    servers: [...spec].map((code, index) => {
      if (!(code in ROLES)) throw new Error(`unknown server code ${code} in ${spec}`);
      return server(`s${index + 1}`, code as ServerCode);
    }),
  };
}
