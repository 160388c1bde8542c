import { CliError, EXIT_USAGE } from './exit-codes.js';

/**
 * Protocols an Upgrade is forwarded for by default. After a 101 the proxy pipes bytes it never reads again,
 * so only a protocol whose later bytes cannot carry HTTP header fields keeps the stamps meaningful:
 * WebSocket frames carry messages, never requests.
 */
export const DEFAULT_UPGRADES = ['websocket'];

/**
 * h2c (and any HTTP version) after a 101 is HTTP/2 or HTTP/1.x framed by the client: each stream carries
 * its own header fields, the client's x-peerauth-* among them, and none of the stamps. Never allowed.
 */
function isHttpItself(name: string): boolean {
  return name === 'h2c' || name === 'h2' || name === 'http' || name.startsWith('http/');
}

/** The protocol name of one Upgrade list element (`websocket`, `foo/2` -> `foo`), lowercased. */
function protocolName(element: string): string {
  const name = element.trim().toLowerCase();
  const slash = name.indexOf('/');
  return name === '' || name.startsWith('http/') || slash < 0 ? name : name.slice(0, slash);
}

/** `--allow-upgrade a,b` (or `none`): the protocols to forward an Upgrade for. Usage error for HTTP itself. */
export function parseAllowedUpgrades(value: string | undefined): ReadonlySet<string> {
  if (value === undefined) return new Set(DEFAULT_UPGRADES);
  if (value.trim().toLowerCase() === 'none') return new Set();
  const names = value
    .split(',')
    .map(protocolName)
    .filter((n) => n !== '');
  if (names.length === 0) throw new CliError('--allow-upgrade needs protocol names, or none', EXIT_USAGE);
  const http = names.filter(isHttpItself);
  if (http.length)
    throw new CliError(
      `--allow-upgrade: ${http.join(', ')} cannot be allowed: after the upgrade the client frames HTTP requests itself, each with its own identity headers and none of the proxy's`,
      EXIT_USAGE,
    );
  return new Set(names);
}

/**
 * The elements of a client's Upgrade list the proxy forwards: those naming an allowed protocol, in the
 * client's order and spelling. Empty: the request goes upstream as an ordinary one.
 */
export function allowedOffer(upgrade: string | undefined, allowed: ReadonlySet<string>): string[] {
  if (!upgrade) return [];
  return upgrade
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '' && allowed.has(protocolName(e)) && !isHttpItself(protocolName(e)));
}
