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

export interface EtcdConnection {
  endpoints: string[];
  /** PEM material, e.g. `etcd-ca.crt`, `apiserver-etcd-client.crt`/`.key` from vCluster's `<name>-certs` Secret. */
  tls?: { ca: Buffer; cert?: Buffer; key?: Buffer };
}

/** An etcd client for the dump or a restore; unusable TLS material fails at once, naming the endpoints. */
export function connectEtcd(connection: EtcdConnection, endpoints: string): Etcd3 {
  const { tls } = connection;
  try {
    return new Etcd3({
      hosts: connection.endpoints,
      credentials: tls && { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key },
      grpcOptions: {
        // A page of 1000 objects easily passes grpc-js's 4 MiB default; etcd's Go client allows math.MaxInt32.
        'grpc.max_receive_message_length': 2 ** 31 - 1,
        // HTTP/2's 64 KiB default window makes etcd wait for this (busy) event loop ~16 times per 1 MiB page.
        'grpc-node.flow_control_window': 16 * 1024 * 1024,
      },
    });
  } catch (err) {
    // grpc rejects unusable TLS material (a certificate without its key, unparsable PEM) before dialing.
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
