// Every js block of the README is type-checked with strict TypeScript and runs as printed (see
// test-fixtures/readme.ts); the example greets its own client with its user name and executable.
import os from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { checkReadme } from '../../../test-fixtures/readme.js';

const root = join(import.meta.dirname, '..');

it('every README example type-checks strictly and runs', async () => {
  const me = os.userInfo().username;
  await checkReadme({
    readme: join(root, 'README.md'),
    packageDir: root,
    runs: [
      {
        kind: 'exits',
        socket: '/tmp/peerauth-demo.sock',
        stdout: (out) => {
          expect(out).toMatch(new RegExp(`^pid=\\d+ uid=${process.getuid?.()} `));
          expect(out).toContain(`hello ${me}, you are running ${process.execPath}\n`);
        },
      },
      { kind: 'exits', stdout: (out) => expect(out).toBe('root\n') },
      // The build-from-source commands are a shell block; test/package.test.ts checks them.
    ],
  });
}, 120_000);
