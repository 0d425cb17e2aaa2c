// Conflict resolution is pure: the strategies decided on plain field maps, no backend.
import { describe, expect, it } from 'vitest';
import {
  conflictingFields,
  resolveConflict,
  resolveDeleteConflict,
  serverChanges,
} from '../../src/mutation/conflict.js';

const base = { Name: 'a', Points: 1, Tags: ['x'] };

describe('conflict resolution', () => {
  it('finds what the server changed since the base, removed fields as null', () => {
    expect(serverChanges(base, { Name: 'b', Tags: ['x'] })).toEqual({ Name: 'b', Points: null });
    expect(serverChanges(null, { Name: 'b' })).toEqual({ Name: 'b' });
    expect(conflictingFields({ Name: 'c', Points: 1 }, base, { Name: 'b', Points: 1 })).toEqual([
      'Name',
    ]);
    // Both sides set the same value: no conflict.
    expect(conflictingFields({ Name: 'b' }, base, { Name: 'b', Points: 1 })).toEqual([]);
  });

  it('decides by strategy', () => {
    const current = { Name: 'theirs', Points: 1, Tags: ['x'] };
    expect(resolveConflict('merge', { Points: 2 }, base, current)).toMatchObject({
      action: 'resend',
      decidedBy: 'merge',
      fields: { Points: 2 },
    });
    expect(resolveConflict('merge', { Name: 'mine' }, base, current)).toMatchObject({
      action: 'adoptServer',
      conflicting: ['Name'],
    });
    expect(
      resolveConflict('merge', { Name: 'mine' }, base, current, (local, _b, now) => ({
        Name: `${now.Name}+${local.Name}`,
      })),
    ).toMatchObject({ action: 'resend', decidedBy: 'resolver', fields: { Name: 'theirs+mine' } });
    expect(resolveConflict('serverWins', { Points: 2 }, base, current).action).toBe('adoptServer');
    expect(resolveConflict('clientWins', { Name: 'mine' }, base, current)).toMatchObject({
      action: 'resend',
      fields: { Name: 'mine' },
    });
    expect(resolveConflict(() => null, { Name: 'mine' }, base, current).decidedBy).toBe('custom');
    expect(() => resolveConflict('nope' as 'merge', {}, base, current)).toThrow(TypeError);
  });

  it('deletes a changed record only when the client wins', () => {
    expect(resolveDeleteConflict('clientWins').action).toBe('resend');
    expect(resolveDeleteConflict('merge').action).toBe('adoptServer');
    expect(resolveDeleteConflict(() => ({})).decidedBy).toBe('custom');
  });
});
