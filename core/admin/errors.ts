// Errors of admin operations, shaped for the API ({ error: { code, message, field } }) and the CLI.
export type AdminErrorCode = 'invalid' | 'not_found' | 'conflict' | 'precondition_failed' | 'unavailable';

export class AdminError extends Error {
  constructor(
    readonly code: AdminErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}
