type Undici = Pick<typeof import('undici'), 'Agent' | 'request'>;

/**
 * npm's undici, loaded on first use (it is large). In the bundle a dynamically imported CommonJS
 * module exposes its exports only as `default`.
 */
export async function loadUndici(): Promise<Undici> {
  const mod = await import('undici');
  return 'Agent' in mod ? mod : (mod as unknown as { default: Undici }).default;
}
