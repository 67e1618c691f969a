// Typed refusals from the membership layer; the API maps each kind to the original's status
// (api/refusals.ts).
export type MeshErrorKind =
  | 'registration_to_self' // 421 in the original
  | 'invalid' // 400: a payload that is not the shape we expect
  | 'unknown_sender' // 404: the sender must register first
  | 'conflict'; // 400: e.g. a known node changing its address

export class MeshError extends Error {
  constructor(
    readonly kind: MeshErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'MeshError';
  }
}
