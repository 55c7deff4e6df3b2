// Errors of admin operations, shaped for the API ({ error: { code, message, field } }) and the CLI.
export type AdminErrorCode =
  | 'invalid'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'precondition_failed'
  | 'too_large'
  | 'unavailable'
  | 'internal';

/** The HTTP status of each code. */
export const ERROR_STATUS: Readonly<Record<AdminErrorCode, number>> = {
  invalid: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  precondition_failed: 412,
  too_large: 413,
  internal: 500,
  unavailable: 503,
};

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
