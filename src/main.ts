// The bundle's entry point (bin/kube-ovn-offload): each path is a chunk of its own, loaded
// only when this process takes it.
import { start } from './start.js';

start({
  cli: () => import('./cli/main.js'),
  version: () => import('./cni/version.js'),
  plugin: () => import('./plugin/run.js'),
});
