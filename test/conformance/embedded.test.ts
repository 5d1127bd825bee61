import { runConformance } from './suite.js';
import { embeddedTarget } from './targets.js';

runConformance(embeddedTarget);
