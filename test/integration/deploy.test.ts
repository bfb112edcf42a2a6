// The deployment artifacts: docker-compose.yml (validated by the pinned `docker-compose config`, which needs no
// daemon, and its structure checked), the Dockerfile (what the image copies and installs is what the worker and CLI import), and
// every manifest under deploy/ accepted by the real kube-apiserver (server-side dry run).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { parsePolicy } from '../../lib/policy';
import { etcdBinary } from '../../scripts/servers/etcd';
import { toolPath, versions } from '../../scripts/servers/process';
import { testEnv } from '../harness/env';
import { adminKube } from '../harness/temporal';

const ROOT = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface ComposeService {
  image?: string;
  build?: { context: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: Array<{ type: string; source: string; target: string }>;
  ports?: Array<{ host_ip?: string; target: number; published: string }>;
  healthcheck?: { test: string[] };
  restart?: string;
}

/** The passwords compose insists on (it has no defaults for them). */
const COMPOSE_SECRETS = { POSTGRES_PASSWORD: 'pg-deploy-test', MINIO_ROOT_PASSWORD: 'minio-deploy-test' };

/** `docker-compose config` of `file` (the binary scripts/install-servers.sh builds), with `env`: status, output. */
function composeConfig(file: string, env: Record<string, string> = COMPOSE_SECRETS, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const bare = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(POSTGRES_PASSWORD|MINIO_ROOT_|VCSNAP_BIND_ADDRESS)/.test(key)));
  return spawnSync(toolPath('docker-compose', 'DOCKER_COMPOSE_VERSION'), ['-f', file, 'config', ...args], { encoding: 'utf8', cwd: ROOT, env: { ...bare, ...env } });
}

/** The services as compose resolves them (interpolated, normalised) with the passwords set. */
function composeServices(env: Record<string, string> = COMPOSE_SECRETS): Record<string, ComposeService> {
  const result = composeConfig(join(ROOT, 'docker-compose.yml'), env, '--format', 'json');
  assert.equal(result.status, 0, result.stderr);
  return (JSON.parse(result.stdout) as { services: Record<string, ComposeService> }).services;
}

/** Every file reachable from `entry` through relative imports, and every package it imports at run time. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [resolve(ROOT, entry)];
  const runtimeImport = /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?'([^']+)'|(?:require|import)\('([^']+)'\)/gm;
  for (let file = pending.pop(); file; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(runtimeImport)) {
      const specifier = match[1] ?? match[2];
      if (specifier.startsWith('.')) {
        const base = resolve(dirname(file), specifier);
        const found = [`${base}.ts`, `${base}.js`, join(base, 'index.ts'), base].find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
        assert.ok(found, `${relative(ROOT, file)} imports ${specifier}, which does not resolve`);
        if (found.endsWith('.ts') || found.endsWith('.js')) pending.push(found);
      } else if (!specifier.startsWith('node:') && !builtinModules.includes(specifier)) {
        packages.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]);
      }
    }
  }
  return { files, packages };
}

describe('deployment artifacts', function () {
  describe('docker-compose.yml', function () {
    const services = composeServices();

    it('is valid for `docker-compose config`, which rejects a broken file', () => {
      const result = composeConfig(join(ROOT, 'docker-compose.yml'), COMPOSE_SECRETS, '--quiet');
      assert.equal(result.status, 0, result.stderr);
      const broken = join(testEnv().runDir, 'docker-compose.broken.yml');
      writeFileSync(broken, read('docker-compose.yml').replace(/^services:$/m, 'services:\n  bad:\n    image: busybox\n    ports: [{ target: "not-a-port" }]'));
      const rejected = composeConfig(broken, COMPOSE_SECRETS, '--quiet');
      assert.notEqual(rejected.status, 0, 'a service with a non-numeric port must be rejected');
      assert.match(rejected.stderr, /services\.bad\.ports/);
    });

    it('has no default passwords: without each one compose refuses, naming the variable to set', () => {
      for (const missing of Object.keys(COMPOSE_SECRETS)) {
        const env = Object.fromEntries(Object.entries(COMPOSE_SECRETS).filter(([key]) => key !== missing));
        const refused = composeConfig(join(ROOT, 'docker-compose.yml'), env, '--quiet');
        assert.notEqual(refused.status, 0, `compose started without ${missing}`);
        assert.match(refused.stderr, new RegExp(`required variable ${missing} is missing a value: set ${missing} \\(`));
      }
    });

    it('publishes ports on 127.0.0.1 only, unless VCSNAP_BIND_ADDRESS opts out; every long-running service has a healthcheck', () => {
      const published = (all: Record<string, ComposeService>) => Object.values(all).flatMap((service) => service.ports ?? []);
      assert.ok(published(services).length >= 6);
      for (const port of published(services)) assert.equal(port.host_ip, '127.0.0.1', `port ${port.published} is published beyond loopback`);
      for (const port of published(composeServices({ ...COMPOSE_SECRETS, VCSNAP_BIND_ADDRESS: '0.0.0.0' }))) assert.equal(port.host_ip, '0.0.0.0');
      for (const [name, service] of Object.entries(services)) {
        if (service.restart === 'unless-stopped' || service.restart === 'always' || name === 'postgresql') assert.ok(service.healthcheck, `${name} has no healthcheck`);
      }
      assert.ok(services['vcsnap-worker'].healthcheck?.test.join(' ').includes('/readyz'), "the worker's healthcheck is its readiness probe");
    });

    it('has Temporal (PostgreSQL, Temporal images, Web UI), MinIO, the worker from the Dockerfile and a one-shot setup', () => {
      const images = Object.fromEntries(Object.entries(services).map(([name, service]) => [name, service.image ?? '']));
      assert.match(images.postgresql, /^postgres:\d+$/);
      assert.match(images['temporal-schema'], /^temporalio\/admin-tools:\d+\.\d+\.\d+$/);
      assert.match(images.temporal, /^temporalio\/server:\d+\.\d+\.\d+$/);
      assert.match(images['temporal-ui'], /^temporalio\/ui:\d+\.\d+\.\d+$/);
      assert.match(images.minio, /minio\/minio:RELEASE\./);
      for (const name of ['vcsnap-setup', 'vcsnap-worker']) {
        assert.equal(services[name].build?.context, ROOT, `${name} is built from the repository's Dockerfile`);
        assert.equal(images[name], images['vcsnap-worker']);
      }
      assert.deepEqual(services['vcsnap-setup'].command, ['vcsnap', 'setup']);
      assert.equal(services['vcsnap-worker'].command ?? undefined, undefined, "the worker runs the image's CMD");

      const temporalEnv = services.temporal.environment ?? {};
      assert.equal(temporalEnv.DB, 'postgres12');
      assert.ok(services[temporalEnv.POSTGRES_SEEDS], 'POSTGRES_SEEDS names the PostgreSQL service');
      assert.equal(temporalEnv.POSTGRES_PWD, services.postgresql.environment?.POSTGRES_PASSWORD);
      assert.equal(services['temporal-ui'].environment?.TEMPORAL_ADDRESS, 'temporal:7233');
      assert.ok(services.temporal.ports?.some((port) => port.target === 7233 && port.published === '7233'));
    });

    it('starts in a valid order: dependencies exist, are healthy or finished one-shots, and form no cycle', () => {
      for (const [name, service] of Object.entries(services)) {
        for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
          const target = services[dependency];
          assert.ok(target, `${name} depends on unknown service ${dependency}`);
          if (condition === 'service_healthy') assert.ok(target.healthcheck, `${name} waits for ${dependency} to be healthy, but it has no healthcheck`);
          else if (condition === 'service_completed_successfully') assert.ok(!['always', 'unless-stopped'].includes(target.restart ?? ''), `${dependency} must be a one-shot`);
          else assert.equal(condition, 'service_started');
        }
      }
      const order: string[] = [];
      const visit = (name: string, path: string[]) => {
        assert.ok(!path.includes(name), `dependency cycle: ${[...path, name].join(' -> ')}`);
        if (order.includes(name)) return;
        for (const dependency of Object.keys(services[name].depends_on ?? {})) visit(dependency, [...path, name]);
        order.push(name);
      };
      for (const name of Object.keys(services)) visit(name, []);
      assert.ok(order.indexOf('vcsnap-setup') > order.indexOf('temporal-namespace') && order.indexOf('temporal-namespace') > order.indexOf('temporal'));
      assert.ok(order.indexOf('vcsnap-worker') > order.indexOf('vcsnap-setup') && order.indexOf('vcsnap-worker') > order.indexOf('minio-setup'));
    });

    it('wires the worker to Temporal, MinIO and its metrics ports; mounted files exist', () => {
      const worker = services['vcsnap-worker'];
      const env = worker.environment ?? {};
      const [temporalHost] = env.TEMPORAL_ADDRESS.split(':');
      assert.ok(services[temporalHost], 'TEMPORAL_ADDRESS names the Temporal service');
      assert.equal(env.AWS_ACCESS_KEY_ID, services.minio.environment?.MINIO_ROOT_USER);
      assert.equal(env.AWS_SECRET_ACCESS_KEY, services.minio.environment?.MINIO_ROOT_PASSWORD);
      for (const port of [env.VCSNAP_METRICS_PORT, env.VCSNAP_PRODUCT_METRICS_PORT]) assert.ok(worker.ports?.some((p) => String(p.target) === port && p.published === port), `port ${port}`);
      for (const [name, service] of Object.entries(services)) {
        for (const { type, source, target } of service.volumes ?? []) {
          if (type !== 'bind') continue;
          assert.ok(existsSync(source), `${name} mounts ${source}, which does not exist`);
          const script = service.entrypoint?.find((arg) => arg.startsWith(`${target}/`));
          if (script) assert.ok(existsSync(join(source, script.slice(target.length))), `${name} runs ${script}, which is not in ${source}`);
        }
      }
    });

    it('ships an example policy that targets the bucket minio-setup creates, through the MinIO service', () => {
      const parsed = parsePolicy(read('deploy/compose/config/vcluster.yaml'), { name: 'demo', namespace: 'team-a' });
      assert.ok(parsed.ok && parsed.policy, JSON.stringify(parsed));
      const storage = parsed.policy.storage;
      assert.equal(storage.type, 's3');
      assert.ok(services['minio-setup'].entrypoint?.includes(`local/${storage.type === 's3' ? storage.bucket : ''}`));
      assert.equal(storage.type === 's3' && storage.endpoint, 'http://minio:9000');
    });
  });

  describe('Dockerfile', function () {
    const dockerfile = read('Dockerfile');

    it('compiles in a build stage and runs node on dist/ with production dependencies only, non-root', () => {
      const stages = dockerfile.split(/^FROM /m).slice(1);
      assert.equal(stages.length, 2, 'a build stage and a runtime stage');
      for (const stage of stages) assert.match(stage, /^node:20[\w.-]*( AS \w+)?$/m);
      const [build, runtime] = stages;
      assert.match(build, /^RUN npm run build$/m);
      assert.match(runtime, /npm ci --omit=dev/);
      assert.match(runtime, /^COPY --from=build \/src\/dist \.\/dist$/m);
      assert.match(runtime, /VCSNAP_WORKFLOW_BUNDLE=\/app\/dist\/workflow-bundle\.js/);
      assert.match(runtime, /^USER node$/m);
      assert.match(runtime, /^CMD \["node", "dist\/worker\/main\.js"\]$/m);
      assert.doesNotMatch(runtime, /tsx/);
      const ignored = read('.dockerignore').split('\n');
      for (const entry of ['node_modules', '.vcsnap', '.git', 'dist']) assert.ok(ignored.includes(entry), `.dockerignore leaves out ${entry}`);
    });

    it('the build stage copies every file the worker, the CLI and the bundle build import, and those import only runtime dependencies', () => {
      const build = dockerfile.split(/^FROM /m)[1];
      const copied = [...build.matchAll(/^COPY (\S+)/gm)].map((m) => m[1]);
      const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string> };
      for (const entry of ['worker/main.ts', 'client/cli/main.ts', 'client/index.ts', 'worker/build-workflow-bundle.ts', 'workflows/index.ts']) {
        const { files, packages } = importGraph(entry);
        for (const file of files) {
          const path = relative(ROOT, file);
          assert.ok(copied.some((source) => path === source || path.startsWith(`${source}/`)), `${entry} needs ${path}, which the build stage does not copy`);
        }
        for (const name of packages) assert.ok(pkg.dependencies[name], `${entry} imports ${name}, which npm ci --omit=dev does not install`);
      }
    });

    it('ships the pinned etcd (scripts/versions.env) where VCSNAP_DRILL_ETCD points, and the worker pod has a writable /tmp for the drills’ scratch data', () => {
      const runtime = dockerfile.split(/^FROM /m)[2];
      // etcd's release image (etcd-io/etcd's Dockerfile) keeps its binaries in /usr/local/bin; a static Go binary.
      const copy = /^COPY --from=gcr\.io\/etcd-development\/etcd:(v[\d.]+) \/usr\/local\/bin\/etcd (\S+)$/m.exec(runtime);
      assert.ok(copy, 'the runtime stage copies etcd from its release image');
      const pinned = versions().ETCD_VERSION;
      assert.equal(copy[1], pinned, 'the image ships the etcd version the tests run');
      assert.match(runtime, new RegExp(`VCSNAP_DRILL_ETCD=${copy[2]!.replace(/[/.]/g, '\\$&')}\\b`));
      // The binary the tests' drills start is that same release.
      const version = spawnSync(etcdBinary(), ['--version'], { encoding: 'utf8' }).stdout;
      assert.match(version, new RegExp(`^etcd Version: ${pinned.slice(1).replace(/\./g, '\\.')}$`, 'm'));
      // Scratch etcd data goes under os.tmpdir(): the worker's root filesystem is read-only, /tmp an emptyDir.
      const deployment = parseAllDocuments(read('deploy/deployment.yaml')).map((doc) => doc.toJS() as k8s.V1Deployment).find((o) => o?.kind === 'Deployment')!;
      const pod = deployment.spec!.template.spec!;
      assert.equal(pod.containers[0]!.securityContext?.readOnlyRootFilesystem, true);
      const tmp = pod.containers[0]!.volumeMounts?.find((m) => m.mountPath === '/tmp');
      assert.ok(tmp && pod.volumes?.find((v) => v.name === tmp.name)?.emptyDir, '/tmp is a writable emptyDir');
    });

    it('production dependencies hold no build or test tool (npm ls --omit=dev)', () => {
      const listed = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8' });
      const packages = new Set(listed.stdout.split('\n').filter(Boolean).map((path) => relative(join(ROOT, 'node_modules'), path)));
      assert.ok(packages.has('@temporalio/worker'), `npm ls --omit=dev listed ${packages.size} packages: ${listed.stderr}`);
      for (const tool of ['tsx', '@temporalio/testing', 'mocha', 'typescript', 'eslint']) assert.ok(!packages.has(tool), `${tool} is a production dependency`);
    });
  });

  describe('deploy/ manifests', function () {
    const files = readdirSync(join(ROOT, 'deploy')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    const objects = files.flatMap((file) => parseAllDocuments(read(`deploy/${file}`)).map((doc) => doc.toJS() as k8s.KubernetesObject));

    it('kustomization.yaml lists every manifest', () => {
      const kustomization = parseYaml(read('deploy/kustomization.yaml')) as { resources: string[] };
      assert.deepEqual([...kustomization.resources].sort(), [...files].sort());
    });

    it('the worker runs as the ServiceAccount the ClusterRoleBinding grants, with the image compose builds', () => {
      const deployment = objects.find((o) => o.kind === 'Deployment') as k8s.V1Deployment;
      const binding = objects.find((o) => o.kind === 'ClusterRoleBinding') as k8s.V1ClusterRoleBinding;
      const pod = deployment.spec!.template.spec!;
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: pod.serviceAccountName, namespace: deployment.metadata!.namespace }]);
      const container = pod.containers[0];
      assert.equal(container.image, composeServices()['vcsnap-worker'].image);
      const env = Object.fromEntries((container.env ?? []).filter((e) => e.value).map((e) => [e.name, e.value]));
      const ports = Object.fromEntries((container.ports ?? []).map((p) => [p.name, String(p.containerPort)]));
      assert.equal(ports.metrics, env.VCSNAP_PRODUCT_METRICS_PORT);
      assert.equal(ports['sdk-metrics'], env.VCSNAP_METRICS_PORT);
    });

    it('every object is accepted by the real kube-apiserver (server-side dry run)', async () => {
      const api = k8s.KubernetesObjectApi.makeApiClient(adminKube());
      // Namespaced objects are validated against an existing namespace; the dry run below creates nothing.
      for (const namespace of objects.filter((o) => o.kind === 'Namespace')) {
        await api.create(namespace).catch((err: unknown) => {
          if ((err as { code?: number }).code !== 409) throw err;
        });
      }
      for (const object of objects) {
        await api.create(object, undefined, 'All').catch((err: unknown) => {
          if ((err as { code?: number }).code === 409) return; // already there (created by another test of this run)
          throw new Error(`${object.kind} ${object.metadata?.name}: ${String((err as { body?: unknown }).body ?? err)}`);
        });
      }
    });
  });
});
