// What `tunmesh certs` refuses: weak or malformed parameters, unusable input files, files it
// would overwrite. One line each, shown as is to the operator (exit code 2, like config errors).

export class CertsError extends Error {
  override readonly name = 'CertsError';
}
