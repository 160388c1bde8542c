import { IdentityConfigError, loadIdentityConfig } from '@peerauth/identity';
import { reportTlsFiles, type TlsFileFlags } from '../tls-report.js';

export async function checkConfigCommand(file: string, flags: TlsFileFlags = {}): Promise<number> {
  try {
    const config = await loadIdentityConfig(file);
    const roles = config.roles ?? [...new Set([...config.people.map((p) => p.role), config.fallbackRole])];
    process.stdout.write(
      `${file}: ok: ${config.people.length} people, ${roles.length} roles (${roles.join(', ')}), ` +
        `fallback role "${config.fallbackRole}", trust domain "${config.trustDomain}"\n`,
    );
    // The files the TLS listener would read: each bundle of trustDomains, and the SVID when given.
    const tls = reportTlsFiles(flags, config, (use) => `  ${use.padEnd(16)} `);
    for (const line of tls.lines) (tls.ok ? process.stdout : process.stderr).write(`${line}\n`);
    return tls.ok ? 0 : 1;
  } catch (err) {
    if (!(err instanceof IdentityConfigError)) throw err;
    process.stderr.write(`${file}: ${err.issues.length} problem${err.issues.length === 1 ? '' : 's'}\n`);
    for (const issue of err.issues)
      process.stderr.write(`  ${issue.path ? `${issue.path}: ` : ''}${issue.message}\n`);
    return 1;
  }
}
