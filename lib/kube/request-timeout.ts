// A time limit on every host-cluster request: @kubernetes/client-node sets none, so an API server that accepts a
// connection and never answers would hold an activity until its own timeout. The generated clients ask the
// KubeConfig to authenticate each request; that hook also gives the request a signal that aborts it after the limit
// (a plain, retryable error the activity's retry policy handles). Short calls only: nothing here watches or streams.
import type * as k8s from '@kubernetes/client-node';

/** A minute: Secrets, PVCs and snapshot objects answer in milliseconds; a list of thousands in seconds. */
export const KUBE_REQUEST_TIMEOUT_MS = 60_000;

type AuthContext = Parameters<k8s.KubeConfig['applySecurityAuthentication']>[0];

/** `kube`, its requests limited to `timeoutMs` each (a request with a signal of its own keeps that one). */
export function limitKubeRequests(kube: k8s.KubeConfig, timeoutMs = KUBE_REQUEST_TIMEOUT_MS): k8s.KubeConfig {
  const authenticate = kube.applySecurityAuthentication.bind(kube);
  kube.applySecurityAuthentication = async (context: AuthContext) => {
    await authenticate(context);
    if (!context.getSignal()) context.setSignal(AbortSignal.timeout(timeoutMs));
  };
  return kube;
}
