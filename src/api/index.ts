/** Public surface of the Attune API adapter. */
export { ApiClient, DEFAULT_API_TIMEOUT_MS, encodePathSegments, resolveApiBaseUrl, type ApiClientOptions, type ApiRequest, type ApiResponse } from './client';
export { ApiError, isRetryableApiError, kindForStatus, type ApiErrorKind } from './errors';
export { completeArtifactFile, sealLogStream, uploadArtifactFile, type FileUpload } from './internal-files';
export { putLogSegment } from './log-segments';
export { INSECURE_DEFAULT_JWT_SECRET, signHs256, WorkerTokenProvider, type WorkerTokenClaims } from './worker-token';
