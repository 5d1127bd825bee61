import { runConformance } from './suite.js';
import { redisTarget } from './redis-target.js';

// Needs redis-server on 127.0.0.1:6379; fails (not skips) when it is down.
runConformance(redisTarget);
