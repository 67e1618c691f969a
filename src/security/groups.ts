// Groups in a node's identity (issue: access control by group). A group is written into the
// node certificate as a URI subject alternative name, `urn:tunmesh:group:<name>`:
//   - a SAN is the standard place for what a certificate vouches for; every X.509 tool
//     (`openssl x509 -text`, `tunmesh certs show`, node's X509Certificate) shows it, and TLS
//     verification already covers it (the CA signed it); no private extension to parse;
//   - SPIFFE puts identities in URI SANs the same way;
//   - it leaves IP and DNS SANs (identity binding, hostname checks) untouched.
// Only the CA's holder can assign a group; a peer's groups come from its verified certificate
// (mutual TLS), never from anything the peer merely claims.

/** The URI prefix of a group SAN. */
export const GROUP_URI_PREFIX = 'urn:tunmesh:group:';

/** A group name: lowercase letters, digits, '.', '_' and '-', 1..63 characters, starting with a letter or digit. */
export const GROUP_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** The groups among a certificate's URI SANs (node's `subjectaltname` text or plain URIs). */
export function groupsOfUris(uris: readonly string[]): string[] {
  const groups = new Set<string>();
  for (const uri of uris) {
    if (!uri.startsWith(GROUP_URI_PREFIX)) continue;
    const name = uri.slice(GROUP_URI_PREFIX.length);
    if (GROUP_NAME.test(name)) groups.add(name);
  }
  return [...groups].sort();
}
