import { readFileSync } from 'node:fs';

/**
 * The package version, from the nearest package.json named certvault above this module: it sits two
 * levels up from src/ modules and from the bundle in dist/cli/, so walking up serves both.
 */
export const VERSION: string = findVersion(new URL('./', import.meta.url));

function findVersion(dir: URL): string {
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'certvault' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // none here: keep walking up
    }
    const up = new URL('../', dir);
    if (up.href === dir.href) return 'unknown';
    dir = up;
  }
}
