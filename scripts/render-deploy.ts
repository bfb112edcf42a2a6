// deploy/ (kustomize) is the Helm chart rendered: the chart is the one source of truth for the manifests and the
// RBAC. `npm run render-deploy` rewrites the files; test/integration/helm.test.ts fails when they drift.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { toolPath } from './servers/process';

const ROOT = join(__dirname, '..');
export const CHART = join(ROOT, 'deploy', 'helm', 'vcsnap');

/** The namespaced kustomization's example: the one served namespace its patches name. */
const NAMESPACED_EXAMPLE = ['team-a'];

export function helm(...args: string[]): string {
  return execFileSync(toolPath('helm', 'HELM_VERSION'), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `helm template` of the chart as release `vcsnap` in namespace `vcsnap`, one entry per template file. */
export function renderChart(...set: string[]): Map<string, string> {
  const output = helm('template', 'vcsnap', CHART, '--namespace', 'vcsnap', ...set.flatMap((value) => ['--set', value]));
  const files = new Map<string, string>();
  for (const part of output.split(/^---\n/m)) {
    const source = /^# Source: vcsnap\/templates\/(.+)$/m.exec(part);
    if (!source) continue;
    const body = part.replace(/^# Source: .*\n/m, '');
    files.set(source[1], `${files.get(source[1]) ?? ''}${files.has(source[1]) ? '---\n' : ''}${body}`);
  }
  return files;
}

/** deploy/'s rendered files, relative to deploy/, and their content. */
export function renderedDeploy(): Map<string, string> {
  const header = (template: string) => `# Rendered from deploy/helm/vcsnap/templates/${template} by \`npm run render-deploy\`: edit the chart, not this file.\n`;
  const out = new Map<string, string>();
  for (const [template, body] of renderChart()) out.set(template, header(template) + body);
  const namespaced = renderChart('rbac.scope=namespaced', `rbac.namespaces={${NAMESPACED_EXAMPLE.join(',')}}`);
  out.set('namespaced/rbac.yaml', header('rbac.yaml') + namespaced.get('rbac.yaml')!);
  return out;
}

if (require.main === module) {
  for (const [file, content] of renderedDeploy()) {
    const path = join(ROOT, 'deploy', file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    console.log(`wrote deploy/${file}`);
  }
}
