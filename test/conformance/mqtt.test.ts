import { runConformance } from './suite.js';
import { mqttTarget } from './mqtt-target.js';

// Needs Mosquitto (MQTT 5) on 127.0.0.1:1883; fails (not skips) when it is down.
runConformance(mqttTarget);
