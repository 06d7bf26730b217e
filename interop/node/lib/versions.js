// Installed versions, read from node_modules so test names always match the lock file.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);

export function versionOf(pkg) {
  // Some packages do not export ./package.json; find it next to the resolved entry point.
  let dir = path.dirname(require.resolve(pkg));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (manifest.name === pkg) return `${pkg} ${manifest.version}`;
    } catch {
      // not this directory
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the package.json of ${pkg}`);
    dir = parent;
  }
}
