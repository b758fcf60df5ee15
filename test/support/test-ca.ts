/**
 * A throw-away CA and a server certificate for 127.0.0.1, made with the system openssl, for the
 * fake API server's HTTPS: thick Multus (v4.0.2 `multus-daemon`) only knows client-go's
 * rest.InClusterConfig, which always dials https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
 * and verifies the server against the service account's ca.crt.
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TestCa {
  /** The CA certificate (PEM): what goes to /var/run/secrets/kubernetes.io/serviceaccount/ca.crt. */
  caPem: string;
  caPath: string;
  /** The server certificate (SANs IP:127.0.0.1 and DNS:localhost) and its key, PEM files. */
  certPath: string;
  keyPath: string;
}

// Our own config, so the extensions do not depend on the host's openssl.cnf. Go's verifier
// (client-go) wants the SAN; serverAuth and CA:TRUE are what a real cluster CA would set.
const CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
`;

/** Writes ca.crt, ca.key, server.crt and server.key into `dir` (which the caller removes). */
export async function makeTestCa(dir: string): Promise<TestCa> {
  const cnf = join(dir, 'openssl.cnf');
  const caPath = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  const certPath = join(dir, 'server.crt');
  const keyPath = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  await writeFile(cnf, CONFIG);
  // P-256 keys: as good for the test as RSA, and generated in milliseconds.
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const openssl = (args: string[]) => execa('openssl', args, { timeout: 30_000, stdin: 'ignore' });
  await openssl(['req', '-x509', '-new', ...newKey, '-days', '2', '-subj', '/CN=kube-ovn-offload test CA', '-config', cnf, '-extensions', 'ca', '-keyout', caKey, '-out', caPath]);
  await openssl(['req', '-new', ...newKey, '-subj', '/CN=kube-apiserver', '-config', cnf, '-keyout', keyPath, '-out', csr]);
  await openssl(['x509', '-req', '-in', csr, '-CA', caPath, '-CAkey', caKey, '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2', '-extfile', cnf, '-extensions', 'server', '-out', certPath]);
  return { caPem: await readFile(caPath, 'utf8'), caPath, certPath, keyPath };
}
