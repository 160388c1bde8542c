// README code blocks are programs: every ```js and ```ts block is type-checked with strict TypeScript
// (JavaScript through checkJs, so `req.peer` possibly undefined is an error there too) against the built
// packages, exactly as printed, then run. Each README test lists what each block must do, in order, and
// fails when a block has no entry, so a new example cannot go untested.
import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export interface CodeBlock {
  lang: string;
  code: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
}

export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    if (end < 0) throw new Error(`unclosed code block at line ${i + 1}`);
    blocks.push({ lang: open[1]!, code: `${lines.slice(i + 1, end).join('\n')}\n`, line: i + 1 });
    i = end;
  }
  return blocks;
}

/** What running a block must show. Paths in `replace` are swapped for files in a private directory. */
export type BlockRun =
  /** Declarations only (an interface as documented): type-checked, nothing to run. */
  | { kind: 'types' }
  /** Runs to completion with exit 0; `stdout` checks what it printed. */
  | { kind: 'exits'; socket?: string; stdout?: (out: string) => void }
  /**
   * A server: once its socket exists, `client(socketPath)` talks to it; then it is stopped with SIGTERM,
   * or with SIGINT (Ctrl-C) when `ctrlCLeavesNothing` is set, which also asserts that the socket file and
   * every directory peerauth made beside it are gone afterwards.
   */
  | {
      kind: 'serves';
      socket: string;
      client: (socketPath: string) => Promise<void>;
      ctrlCLeavesNothing?: boolean;
    };

export interface ReadmeCheck {
  readme: string;
  /** A directory inside the package, so `@peerauth/*` and its dependencies resolve as for a user. */
  packageDir: string;
  runs: BlockRun[];
}

export const isProgram = (b: CodeBlock) => b.lang === 'js' || b.lang === 'ts';

/** Type-checks every js/ts block of the README together, then runs each as its entry in `runs` says. */
export async function checkReadme({ readme, packageDir, runs }: ReadmeCheck): Promise<void> {
  const blocks = codeBlocks(fs.readFileSync(readme, 'utf8')).filter(isProgram);
  if (blocks.length !== runs.length) {
    throw new Error(
      `${readme} has ${blocks.length} js/ts blocks (lines ${blocks.map((b) => b.line).join(', ')}), the test describes ${runs.length}`,
    );
  }
  const work = fs.mkdtempSync(path.join(packageDir, '.readme-'));
  const sockets = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-readme-'));
  try {
    const files = blocks.map((b, i) => {
      // .mjs/.mts: ES modules, with top-level await, whatever the package.json around them says.
      const file = path.join(work, `block-${b.line}.${b.lang === 'ts' ? 'mts' : 'mjs'}`);
      let code = b.code;
      const run = runs[i]!;
      if (run.kind !== 'types' && run.socket)
        code = code.replaceAll(run.socket, path.join(sockets, `${b.line}.sock`));
      fs.writeFileSync(file, code);
      return file;
    });
    if (files.length) typecheck(work, files);
    for (const [i, run] of runs.entries()) {
      const where = `${path.basename(readme)} block at line ${blocks[i]!.line}`;
      if (run.kind === 'types') continue;
      if (blocks[i]!.lang === 'ts') throw new Error(`${where}: ts blocks are only type-checked; write js`);
      if (run.kind === 'exits') {
        const out = await runToExit(files[i]!, work, where);
        run.stdout?.(out);
      } else {
        const socket = path.join(sockets, `${blocks[i]!.line}.sock`);
        await runServer(files[i]!, work, socket, run.client, where, run.ctrlCLeavesNothing === true);
        if (run.ctrlCLeavesNothing) {
          const left = fs
            .readdirSync(sockets)
            .filter((n) => n === path.basename(socket) || n.startsWith('.pa-'));
          if (left.length) throw new Error(`${where}: Ctrl-C left ${left.join(', ')} in ${sockets}`);
        }
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(sockets, { recursive: true, force: true });
  }
}

function typecheck(dir: string, files: string[]): void {
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        allowJs: true,
        checkJs: true,
        noEmit: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2023'],
        types: ['node'],
        skipLibCheck: true,
      },
      files: files.map((f) => path.basename(f)),
    }),
  );
  try {
    execFileSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', dir], {
      cwd: dir,
      encoding: 'utf8',
      stdio: 'pipe',
    });
  } catch (err) {
    throw new Error(`README blocks fail strict TypeScript:\n${(err as { stdout?: string }).stdout ?? err}`);
  }
}

function runToExit(file: string, cwd: string, where: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [file], { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${where} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

async function runServer(
  file: string,
  cwd: string,
  socket: string,
  client: (socketPath: string) => Promise<void>,
  where: string,
  ctrlC: boolean,
): Promise<void> {
  const child = spawn(process.execPath, [file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  child.stdout.resume();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    for (let i = 0; !fs.existsSync(socket); i++) {
      if (child.exitCode !== null) throw new Error(`${where} exited ${child.exitCode}: ${stderr}`);
      if (i > 3000) throw new Error(`${where}: no socket at ${socket} after 30 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await client(socket);
  } finally {
    child.kill(ctrlC ? 'SIGINT' : 'SIGTERM');
    await exited;
  }
}

/** GET a path over the Unix socket with curl; returns the body, failing on a non-2xx status. */
export function curlUnix(socket: string, urlPath = '/whoami'): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      ['-sS', '--fail', '--max-time', '10', '--unix-socket', socket, `http://localhost${urlPath}`],
      (err, stdout, stderr) => (err ? reject(new Error(`curl: ${stderr || err.message}`)) : resolve(stdout)),
    );
  });
}

/** The commands in a README's ```sh blocks: prompt (`$ `) stripped, comments and output lines dropped. */
export function shellCommands(markdown: string): string[] {
  return codeBlocks(markdown)
    .filter((b) => b.lang === 'sh')
    .flatMap((b) => {
      const lines = b.code.split('\n').filter((l) => l.trim() !== '');
      // A block with prompts shows output after them: only the prompted lines are commands.
      const prompted = lines.some((l) => l.startsWith('$ '));
      return lines
        .filter((l) => !prompted || l.startsWith('$ '))
        .map((l) => l.replace(/^\$ /, '').replace(/\s+#.*$/, ''))
        .filter((l) => !l.startsWith('#'));
    });
}
