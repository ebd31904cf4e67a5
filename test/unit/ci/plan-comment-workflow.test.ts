/**
 * The hardening of .github/workflows/plan-comment.yml, checked on its text (no YAML parser among
 * the dependencies; the checks are line-level on purpose): actions pinned by full commit SHA,
 * no checkout keeping its token, no default permissions, the review diffed against the merge base,
 * OpenTofu rather than Terraform.
 */
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

const text = readFileSync(new URL('../../../.github/workflows/plan-comment.yml', import.meta.url), 'utf8');
const lines = text.split('\n');

/** The lines of the step starting at `index` (up to the next `- ` at the same indentation). */
function stepAt(index: number): string[] {
  const indent = /^(\s*)-/.exec(lines[index] ?? '')?.[1]?.length ?? 0;
  const end = lines.findIndex((line, i) => i > index && new RegExp(`^\\s{0,${indent}}\\S`).test(line));
  return lines.slice(index, end === -1 ? undefined : end);
}

describe('plan-comment workflow', () => {
  const uses = lines.map((line, index) => ({ line, index })).filter(({ line }) => /^\s*(?:- )?uses:/.test(line));

  it('pins every action by a full commit SHA, with its tag in a comment', () => {
    assert.ok(uses.length >= 5, `only ${uses.length} actions`);
    for (const { line } of uses) assert.match(line, /uses: [\w.-]+\/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/, line);
  });

  it('lets no checkout keep its token', () => {
    const checkouts = uses.filter(({ line }) => line.includes('actions/checkout@'));
    assert.ok(checkouts.length >= 2);
    for (const { index } of checkouts) {
      const start = lines.slice(0, index + 1).findLastIndex((line) => /^\s*- /.test(line));
      assert.ok(stepAt(start).some((line) => /^\s*persist-credentials: false$/.test(line)), `checkout at line ${index + 1} keeps its token`);
    }
  });

  it('grants nothing by default and per job only what the job needs', () => {
    assert.ok(lines.includes('permissions: {}'));
    const grants = lines.filter((line) => /^\s{6}[a-z-]+: (?:read|write)/.test(line)).map((line) => line.trim().replace(/ #.*/, ''));
    assert.deepEqual(grants.sort(), ['contents: read', 'contents: read', 'id-token: write', 'pull-requests: write']);
  });

  it('diffs against the merge base and uses OpenTofu, not Terraform', () => {
    assert.match(text, /git merge-base "\$BASE_SHA" "\$HEAD_SHA"/);
    assert.match(text, /opentofu\/setup-opentofu@/);
    assert.doesNotMatch(text, /setup-terraform|^\s+terraform /m);
    assert.match(text, /plan --plan-json "\$plan_json" --commit "\$HEAD_SHA"/);
  });

  it('hands the token that can comment to the comment step alone', () => {
    const tokenLines = lines.filter((line) => line.includes('github.token') || line.includes('GITHUB_TOKEN'));
    assert.deepEqual(tokenLines.map((line) => line.trim()), ['GH_TOKEN: ${{ github.token }}']);
  });
});
