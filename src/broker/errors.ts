/**
 * An API error with its deliberate HTTP status; the app turns it into `{"error": message}`.
 */
export class ApiError extends Error {
  readonly status: 400 | 401 | 404 | 405 | 409 | 413 | 415 | 500 | 503;

  constructor(status: ApiError["status"], message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** Shorthand for a 400. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, message);
}

/** Shorthand for a 404. */
export function notFound(message: string): ApiError {
  return new ApiError(404, message);
}
