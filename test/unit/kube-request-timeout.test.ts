// The host-cluster client's request limit (lib/kube/request-timeout): an API server that accepts the connection and
// never answers fails the call after the limit instead of holding it forever.
import { strict as assert } from 'node:assert';
import * as k8s from '@kubernetes/client-node';
import { limitKubeRequests } from '../../lib/kube/request-timeout';
import { withSilentServer } from '../harness/silent-server';

describe('host-cluster request timeout', () => {
  it('a silent API server fails the request after the limit', () =>
    withSilentServer(async (server, sockets) => {
      const kube = new k8s.KubeConfig();
      kube.loadFromOptions({
        clusters: [{ name: 'silent', server, skipTLSVerify: true }],
        users: [{ name: 'nobody' }],
        contexts: [{ name: 'silent', cluster: 'silent', user: 'nobody' }],
        currentContext: 'silent',
      });
      const core = limitKubeRequests(kube, 500).makeApiClient(k8s.CoreV1Api);
      const started = Date.now();
      await assert.rejects(core.readNamespacedSecret({ name: 's', namespace: 'n' }), /abort/i);
      const took = Date.now() - started;
      assert.ok(took >= 450 && took < 5_000, `failed after ${took} ms`);
      assert.equal(sockets.length, 1, 'the request reached the server');
    }));
});
