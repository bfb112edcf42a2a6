// The etcd client every reader and writer here uses, and the failures etcd calls share (contracts/errors).
import type { ApplicationFailure } from '@temporalio/common';
import {
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  GRPCUnauthenticatedError,
  GRPCUnavailableError,
} from 'etcd3';
import { failure, type ErrorType } from '../../contracts/errors';
import { ETCD_GRPC_OPTIONS } from './range';

export interface EtcdConnection {
  endpoints: string[];
  /** PEM material, e.g. `etcd-ca.crt`, `apiserver-etcd-client.crt`/`.key` from vCluster's `<name>-certs` Secret. */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
}

/** An etcd client for a restore; unusable TLS material fails at once, naming the endpoints. */
export function connectEtcd(connection: EtcdConnection, endpoints: string): Etcd3 {
  const { tls } = connection;
  return withUsableTls(
    () =>
      new Etcd3({
        hosts: connection.endpoints,
        credentials: tls && { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key },
        grpcOptions: ETCD_GRPC_OPTIONS,
      }),
    endpoints,
  );
}

/** Opens a client; grpc rejects unusable TLS material (a certificate without its key, unparsable PEM) before dialing. */
export function withUsableTls<T>(open: () => T, endpoints: string): T {
  try {
    return open();
  } catch (err) {
    throw etcdFailureOf(err, 'EtcdBadCredentials', `TLS material for etcd at ${endpoints} is unusable`);
  }
}

const TLS_FAILURE = /certificate|altnames|alert|ssl|self[- ]signed|PEM routines|wrong version number|decrypt/i;

/**
 * The failures every etcd client here shares: no answer in time, no connection, rejected TLS or credentials (final).
 * Anything else is left to the caller (`undefined`), which knows whether it was reading or writing.
 */
export function commonEtcdFailure(err: unknown, endpoints: string, timeoutMs: number): ApplicationFailure | undefined {
  const cause = err instanceof Error ? err : new Error(String(err));
  if (cause instanceof GRPCDeadlineExceededError) {
    return failure('EtcdUnreachable', `etcd at ${endpoints} is unreachable: no answer within ${timeoutMs / 1000}s`, cause);
  }
  if (
    cause instanceof GRPCUnauthenticatedError ||
    cause instanceof EtcdAuthenticationFailedError ||
    cause instanceof EtcdPermissionDeniedError ||
    TLS_FAILURE.test(cause.message)
  ) {
    return etcdFailureOf(cause, 'EtcdBadCredentials', `etcd at ${endpoints} rejected the TLS material or credentials`);
  }
  if (cause instanceof GRPCUnavailableError) return etcdFailureOf(cause, 'EtcdUnreachable', `etcd at ${endpoints} is unreachable`);
  return undefined;
}

/** A failure of `type` whose message ends with the cause's. */
export function etcdFailureOf(err: unknown, type: ErrorType, message: string): ApplicationFailure {
  const cause = err instanceof Error ? err : new Error(String(err));
  return failure(type, `${message}: ${cause.message}`, cause);
}
