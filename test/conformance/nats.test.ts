import { runConformance } from './suite.js';
import { natsTarget } from './targets.js';

// Needs nats-server on 127.0.0.1:4222; fails (not skips) when it is down.
runConformance(natsTarget);
