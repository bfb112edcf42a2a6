// Tenant reach (lib/kube/secrets): which etcd endpoints a cluster's config may name.
import { strict as assert } from 'node:assert';
import { endpointOutOfScope } from '../../lib/kube/secrets';

describe('etcd endpoints within the tenant (lib/kube/secrets endpointOutOfScope)', () => {
  it("refuses another namespace's Service unless shared; allows its own, shared ones, addresses and other hosts", () => {
    const scope = { namespace: 'team-a', sharedNamespaces: ['platform-*'] };
    assert.match(endpointOutOfScope('https://demo-etcd.team-b:2379', scope) ?? '', /Service in namespace team-b, outside the cluster's namespace team-a/);
    assert.match(endpointOutOfScope('demo-etcd.team-b.svc.cluster.local:2379', scope) ?? '', /team-b/);
    for (const allowed of ['https://demo-etcd.team-a:2379', 'https://etcd.platform-db.svc:2379', 'http://127.0.0.1:2379', 'https://10.0.0.7:2379', 'https://etcd.example.com:2379']) {
      assert.equal(endpointOutOfScope(allowed, scope), undefined, allowed);
    }
  });
});
