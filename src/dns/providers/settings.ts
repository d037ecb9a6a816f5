import { z } from 'zod';
import { normalizeName } from '../names.js';

/** Shared zod pieces for provider settings; every message is ours and never repeats the value. */

export const requiredText = (what: string) =>
  z
    .string({ error: (i) => (i.input === undefined ? 'is required' : `must be ${what}`) })
    .min(1, { error: 'must not be empty' });

export const optionalText = (what: string) =>
  z
    .string({ error: `must be ${what}` })
    .min(1, { error: 'must not be empty' })
    .optional();

const isDnsName = (v: string): boolean => {
  try {
    return normalizeName(v) !== '';
  } catch {
    return false;
  }
};

export const zoneSetting = optionalText('a DNS zone name').refine((v) => v === undefined || isDnsName(v), {
  error: 'must be a DNS zone name such as example.com',
});

export const integerSetting = (min: number, max: number) =>
  optionalText('a whole number')
    .refine((v) => v === undefined || (/^\d+$/.test(v) && Number(v) >= min && Number(v) <= max), {
      error: `must be a whole number from ${min} to ${max}`,
    })
    .transform((v) => (v === undefined ? undefined : Number(v)));
