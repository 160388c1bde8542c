// X.509-SVID test certificates made with the real openssl CLI: per trust domain (A = a.test, B = b.test) a root
// and an intermediate, and leaves that break one SVID rule each. OpenSSL 3.0 has no `x509 -not_before`, so the
// expired leaf is signed with `openssl ca`, which accepts explicit start and end dates.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DOMAIN_A = 'a.test';
export const DOMAIN_B = 'b.test';

export interface CertFiles {
  cert: string;
  key: string;
  /** PEM text of `cert`. */
  pem: string;
}

export interface SvidCerts {
  dir: string;
  rootA: CertFiles;
  intermediateA: CertFiles;
  rootB: CertFiles;
  intermediateB: CertFiles;
  /** Bundle files (PEM, one root each), as spiffe-helper writes them. */
  bundleA: string;
  bundleB: string;
  good: CertFiles; // spiffe://a.test/workload, signed by rootA
  goodViaIntermediate: CertFiles; // spiffe://a.test/via-intermediate, signed by intermediateA
  goodB: CertFiles; // spiffe://b.test/workload, signed by rootB
  twoUris: CertFiles;
  noUri: CertFiles;
  notSpiffe: CertFiles;
  leafIsCa: CertFiles;
  keyCertSign: CertFiles;
  expired: CertFiles;
  signedByOtherDomain: CertFiles; // spiffe://a.test/intruder, signed by rootB
  server: CertFiles; // spiffe://a.test/peerauth-server, also IP:127.0.0.1 and DNS:localhost for curl
  /** A server SVID as SPIRE issues it: one URI SAN (spiffe://a.test/peerauth-server), no DNS or IP name. */
  serverUriOnly: CertFiles;
  /**
   * Attacks that only full RFC 5280 path validation refuses, each chain a file (leaf first) with its key:
   * - nameConstrained: an upstream root shared by both domains' bundles (`sharedBundle`) signs an a.test
   *   intermediate whose URI name constraints allow only a.test; it mints spiffe://b.test/admin;
   * - criticalLeaf / criticalIntermediate: an unknown critical extension on the leaf / the intermediate;
   * - pathLen: root A → intermediate with pathlen:0 → another CA → the leaf;
   * - badSignature: a.test's good leaf with one byte of its signature flipped.
   */
  attacks: Record<
    'nameConstrained' | 'criticalLeaf' | 'criticalIntermediate' | 'pathLen' | 'badSignature',
    { cert: string; key: string }
  >;
  /** One PEM file holding the shared upstream root that `attacks.nameConstrained` chains to. */
  sharedBundle: string;
  /**
   * A chain no bundle vouches for, made to be costly: a leaf for spiffe://a.test/crafted under `count`
   * intermediates that all share one name and one `rsaBits` RSA key, so each could have signed each other.
   */
  crafted(count: number, rsaBits: number, keyFile?: string): { cert: string; key: string };
  /** Another CA signed by `issuer`, with `ext` added to the CA extensions. */
  issueCa(name: string, issuer: CertFiles, ext?: string): CertFiles;
  /** Another leaf into `dir`: `san` as openssl writes it ("URI:spiffe://a.test/x,IP:127.0.0.1"); `extra` lines of extensions. */
  issue(name: string, issuer: CertFiles, san: string, extra?: string): CertFiles;
  /** Another self-signed root (a trust domain's next authority, for bundle rotation). */
  newRoot(name: string, trustDomain: string): CertFiles;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const LEAF_EXT =
  'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment,keyAgreement\nextendedKeyUsage=serverAuth,clientAuth\n';
const CA_EXT =
  'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n';

/** curl's arguments to present `leaf` (default: the good one) and trust domain A's root for the server. */
export function curlSvidArgs(certs: SvidCerts, leaf: CertFiles = certs.good): string[] {
  return ['--cacert', certs.bundleA, '--cert', leaf.cert, '--key', leaf.key];
}

/** Generate every certificate into a fresh temporary directory; call cleanup() when done. */
export function createSvidCerts(): SvidCerts {
  const dir = mkdtempSync(join(tmpdir(), 'peerauth-svid-'));
  let serial = 1;
  const files = (name: string): CertFiles => ({
    cert: join(dir, `${name}.pem`),
    key: join(dir, `${name}.key`),
    get pem() {
      return readFileSync(join(dir, `${name}.pem`), 'utf8');
    },
  });
  const csr = (name: string, subject: string) =>
    openssl(
      [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        subject,
      ],
      dir,
    );
  const root = (name: string, cn: string, uri: string) => {
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.pem`,
        '-days',
        '30',
        '-subj',
        `/O=peerauth test/CN=${cn}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
        '-addext',
        `subjectAltName=URI:${uri}`,
      ],
      dir,
    );
    return files(name);
  };
  const sign = (name: string, subject: string, issuer: CertFiles, ext: string) => {
    csr(name, subject);
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        issuer.cert,
        '-CAkey',
        issuer.key,
        '-set_serial',
        String(serial++),
        '-days',
        '7',
        '-out',
        `${name}.pem`,
        '-extfile',
        `${name}.ext`,
      ],
      dir,
    );
    return files(name);
  };
  const leaf = (name: string, issuer: CertFiles, san: string, ext = LEAF_EXT) =>
    sign(name, `/O=peerauth test/CN=${name}`, issuer, `${ext}${san ? `subjectAltName=${san}\n` : ''}`);

  const ca = (name: string, issuer: CertFiles, ext = '') =>
    sign(
      name,
      `/O=peerauth test/CN=${name}`,
      issuer,
      // An ext with its own basicConstraints (a pathlen) replaces the default one.
      `${ext.includes('basicConstraints') ? CA_EXT.replace(/^basicConstraints.*\n/, '') : CA_EXT}${ext}`,
    );
  const chain = (name: string, parts: CertFiles[]) => {
    const file = join(dir, `${name}-chain.pem`);
    writeFileSync(file, parts.map((p) => p.pem).join(''));
    return { cert: file, key: parts[0]!.key };
  };

  const rootA = root('root-a', 'root A', `spiffe://${DOMAIN_A}`);
  const rootB = root('root-b', 'root B', `spiffe://${DOMAIN_B}`);
  const intermediateA = sign(
    'intermediate-a',
    '/O=peerauth test/CN=intermediate A',
    rootA,
    `${CA_EXT}subjectAltName=URI:spiffe://${DOMAIN_A}\n`,
  );
  const intermediateB = sign(
    'intermediate-b',
    '/O=peerauth test/CN=intermediate B',
    rootB,
    `${CA_EXT}subjectAltName=URI:spiffe://${DOMAIN_B}\n`,
  );

  // The expired leaf: `openssl ca` with explicit dates in the past.
  csr('expired', '/O=peerauth test/CN=expired');
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(
    join(dir, 'ca.cnf'),
    `[ca]\ndefault_ca=a\n[a]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\ncopy_extensions=none\n[p]\ncommonName=supplied\n[ext]\n${LEAF_EXT}subjectAltName=URI:spiffe://${DOMAIN_A}/expired\n`,
  );
  writeFileSync(join(dir, 'serial'), '1000\n');
  openssl(
    [
      'ca',
      '-batch',
      '-config',
      'ca.cnf',
      '-cert',
      rootA.cert,
      '-keyfile',
      rootA.key,
      '-in',
      'expired.csr',
      '-out',
      'expired.pem',
      '-startdate',
      '20200101000000Z',
      '-enddate',
      '20200102000000Z',
      '-extensions',
      'ext',
      '-notext',
    ],
    dir,
  );

  const bundleA = join(dir, 'bundle-a.pem');
  const bundleB = join(dir, 'bundle-b.pem');
  writeFileSync(bundleA, rootA.pem);
  writeFileSync(bundleB, rootB.pem);

  const good = leaf('good', rootA, `URI:spiffe://${DOMAIN_A}/workload`);

  const upstream = root('upstream', 'shared upstream', 'spiffe://upstream.test');
  const constrained = ca('constrained-a', upstream, `nameConstraints=critical,permitted;URI:${DOMAIN_A}\n`);
  const minted = leaf('minted-b-admin', constrained, `URI:spiffe://${DOMAIN_B}/admin`);
  const sharedBundle = join(dir, 'bundle-shared.pem');
  writeFileSync(sharedBundle, upstream.pem);
  const criticalLeaf = leaf(
    'critical-leaf',
    rootA,
    `URI:spiffe://${DOMAIN_A}/critical-leaf`,
    `${LEAF_EXT}1.3.6.1.4.1.55555.1=critical,ASN1:NULL\n`,
  );
  const criticalCa = ca('critical-ca', rootA, '1.3.6.1.4.1.55555.2=critical,ASN1:NULL\n');
  const underCriticalCa = leaf('under-critical-ca', criticalCa, `URI:spiffe://${DOMAIN_A}/under-critical-ca`);
  const pathLenZero = ca('pathlen-zero', rootA, 'basicConstraints=critical,CA:TRUE,pathlen:0\n');
  const belowPathLen = ca('below-pathlen', pathLenZero);
  const pathLenLeaf = leaf('pathlen-leaf', belowPathLen, `URI:spiffe://${DOMAIN_A}/pathlen`);
  // The signature is the last BIT STRING of the DER: flipping the final byte breaks it and nothing else.
  const der = Buffer.from(good.pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
  der.writeUInt8(der.readUInt8(der.length - 1) ^ 0x01, der.length - 1);
  const badSignature = join(dir, 'bad-signature.pem');
  writeFileSync(
    badSignature,
    `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`,
  );

  return {
    dir,
    rootA,
    intermediateA,
    rootB,
    intermediateB,
    bundleA,
    bundleB,
    good,
    goodViaIntermediate: leaf(
      'good-via-intermediate',
      intermediateA,
      `URI:spiffe://${DOMAIN_A}/via-intermediate`,
    ),
    goodB: leaf('good-b', rootB, `URI:spiffe://${DOMAIN_B}/workload`),
    twoUris: leaf('two-uris', rootA, `URI:spiffe://${DOMAIN_A}/one,URI:spiffe://${DOMAIN_A}/two`),
    noUri: leaf('no-uri', rootA, 'DNS:no-uri.a.test'),
    notSpiffe: leaf('not-spiffe', rootA, 'URI:https://a.test/workload'),
    leafIsCa: leaf(
      'leaf-is-ca',
      rootA,
      `URI:spiffe://${DOMAIN_A}/leaf-is-ca`,
      'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n',
    ),
    keyCertSign: leaf(
      'key-cert-sign',
      rootA,
      `URI:spiffe://${DOMAIN_A}/key-cert-sign`,
      'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyCertSign\n',
    ),
    expired: files('expired'),
    signedByOtherDomain: leaf('signed-by-other-domain', rootB, `URI:spiffe://${DOMAIN_A}/intruder`),
    server: leaf('server', rootA, `URI:spiffe://${DOMAIN_A}/peerauth-server,IP:127.0.0.1,DNS:localhost`),
    serverUriOnly: leaf('server-uri-only', rootA, `URI:spiffe://${DOMAIN_A}/peerauth-server`),
    attacks: {
      nameConstrained: chain('name-constrained', [minted, constrained]),
      criticalLeaf: { cert: criticalLeaf.cert, key: criticalLeaf.key },
      criticalIntermediate: chain('critical-intermediate', [underCriticalCa, criticalCa]),
      pathLen: chain('pathlen', [pathLenLeaf, belowPathLen, pathLenZero]),
      badSignature: { cert: badSignature, key: good.key },
    },
    sharedBundle,
    issue: (name, issuer, san, extra = '') => leaf(name, issuer, san, `${LEAF_EXT}${extra}`),
    issueCa: (name, issuer, ext) => ca(name, issuer, ext),
    crafted: (count, rsaBits, keyFile) => {
      const key = keyFile ?? join(dir, `crafted-${rsaBits}.key`);
      if (!keyFile) openssl(['genrsa', '-out', key, String(rsaBits)], dir);
      openssl(
        ['req', '-x509', '-key', key, '-out', 'crafted-0.pem', '-days', '7', '-subj', '/CN=crafted'],
        dir,
      );
      openssl(['req', '-new', '-key', key, '-out', 'crafted.csr', '-subj', '/CN=crafted'], dir);
      writeFileSync(join(dir, 'crafted.ext'), CA_EXT);
      const self = files('crafted-0');
      const parts: CertFiles[] = [];
      for (let i = 1; i <= count; i++) {
        openssl(
          [
            'x509',
            '-req',
            '-in',
            'crafted.csr',
            '-CA',
            self.cert,
            '-CAkey',
            key,
            '-set_serial',
            String(serial++),
            '-days',
            '7',
            '-out',
            `crafted-${i}.pem`,
            '-extfile',
            'crafted.ext',
          ],
          dir,
        );
        parts.push(files(`crafted-${i}`));
      }
      const craftedLeaf = leaf('crafted-leaf', { ...self, key }, `URI:spiffe://${DOMAIN_A}/crafted`);
      return chain('crafted', [craftedLeaf, ...parts]);
    },
    newRoot: (name, trustDomain) => root(name, name, `spiffe://${trustDomain}`),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
