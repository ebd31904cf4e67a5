/** Every scenario's prerequisites are checked before the first scenario runs, in one message. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPrerequisites } from '../../../lib/chaos/run.ts';
import { SCENARIOS, scenariosNeeding } from '../../../lib/chaos/scenarios.ts';
import type { IptablesRunner } from '../../../lib/chaos/partition.ts';
import { RolloutError } from '../../../lib/errors.ts';

const listsRules: IptablesRunner = (args) => (args[0] === '-S' ? '-P INPUT ACCEPT\n' : '');
const named = (...names: string[]) => SCENARIOS.filter((s) => names.includes(s.name));

describe('chaos prerequisites', () => {
  it('partition is the scenario that needs iptables', () => {
    assert.deepEqual(scenariosNeeding(SCENARIOS, 'iptables'), ['partition']);
  });

  it('a missing iptables fails once, naming the scenarios that need it, with the remedy', () => {
    const missing = () => {
      throw new Error('iptables not found');
    };
    assert.throws(
      () => checkPrerequisites(named('events-redelivered', 'partition'), missing),
      (error: unknown) =>
        error instanceof RolloutError &&
        /partition needs iptables/.test(error.message) &&
        /apt-get install iptables/.test(error.remedy ?? '') &&
        /leave out partition/.test(error.remedy ?? ''),
    );
  });

  it('an iptables that may not list its rules (not root) fails the same way', () => {
    const refused: IptablesRunner = () => {
      throw new Error('iptables v1.8.9 (nf_tables): Permission denied (you must be root)');
    };
    assert.throws(() => checkPrerequisites(named('partition'), () => refused), RolloutError);
  });

  it('scenarios that need nothing never touch iptables', () => {
    let asked = 0;
    checkPrerequisites(named('events-redelivered', 'leader-killed'), () => {
      asked += 1;
      throw new Error('must not be called');
    });
    assert.equal(asked, 0);
  });

  it('a usable iptables passes', () => {
    assert.doesNotThrow(() => checkPrerequisites(named('partition'), () => listsRules));
  });
});
