import { IdentityConfigError, loadIdentityConfig } from '@peerauth/identity';

export async function checkConfigCommand(file: string): Promise<number> {
  try {
    const config = await loadIdentityConfig(file);
    const roles = config.roles ?? [...new Set([...config.people.map((p) => p.role), config.fallbackRole])];
    process.stdout.write(
      `${file}: ok: ${config.people.length} people, ${roles.length} roles (${roles.join(', ')}), ` +
        `fallback role "${config.fallbackRole}", trust domain "${config.trustDomain}"\n`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof IdentityConfigError)) throw err;
    process.stderr.write(`${file}: ${err.issues.length} problem${err.issues.length === 1 ? '' : 's'}\n`);
    for (const issue of err.issues)
      process.stderr.write(`  ${issue.path ? `${issue.path}: ` : ''}${issue.message}\n`);
    return 1;
  }
}
