// Opens what every control plane starts from, single-process or primary of workers: the config
// state, the applied store, mirror defaults, this process's own addresses and the Kubernetes feed.

import type { ConfigIssue } from '../config/issues.js';
import { DEFAULT_MIRROR, type MirrorDefaults } from '../translate/mirror-policies.js';
import type { KubernetesSource } from '../kubernetes/kube-source.js';
import { AppliedStore } from './applied-store.js';
import { ConfigState } from './config-state.js';
import { selfAddresses } from './self-addresses.js';
import { StartupError } from './startup-error.js';
import type { UmbraOptions } from './umbra.js';

export interface ControlPlaneSources {
  readonly state: ConfigState;
  readonly store: AppliedStore;
  /** Problems found reading the applied store; reported with the first load's if it fails. */
  readonly storeIssues: readonly ConfigIssue[];
  readonly mirrorDefaults: MirrorDefaults;
  /** Filled in once the listener is bound (port 0 is only known then); loads refuse self-mirrors. */
  readonly self: ReturnType<typeof selfAddresses>;
  readonly kube: KubernetesSource | undefined;
}

export async function openControlPlaneSources(
  o: UmbraOptions,
  log: (line: string) => void,
): Promise<ControlPlaneSources> {
  const store = new AppliedStore(o.stateDir);
  const storeIssues = store.load();
  const restored = store.all();
  // Say what comes back from an earlier run, and from where: nothing applied is ever loaded silently.
  log(
    restored.length > 0
      ? `umbra: restored ${restored.length} applied resource${restored.length === 1 ? '' : 's'} from ${store.file}: ${restored
          .map((r) => `${r.kind.toLowerCase()}/${r.metadata.namespace}/${r.metadata.name}`)
          .join(', ')}`
      : `umbra: no applied resources stored in ${o.stateDir}`,
  );
  let kube: KubernetesSource | undefined;
  try {
    // Loaded only with --kubernetes: @kubernetes/client-node costs ~75 MiB of RSS and ~0.5 s of start-up.
    kube = o.kubernetes
      ? await (
          await import('../kubernetes/start.js')
        ).startKubernetesSource(o.kubernetes, o.namespace ?? 'default', log)
      : undefined;
  } catch (e) {
    throw new StartupError(`kubernetes: ${(e as Error).message}`, []);
  }
  return {
    state: new ConfigState(),
    store,
    storeIssues,
    mirrorDefaults: { ...DEFAULT_MIRROR, ...o.mirror },
    self: selfAddresses(o.listen.host, o.listen.port),
    kube,
  };
}
