// What a caught value says, for a log field or a one-line user message (never a stack trace).
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
