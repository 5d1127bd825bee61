/** The mqtt:// conformance target: the shared Mosquitto on loopback (fails, not skips, when it is down). */
import { probe, session, type Target } from './targets.js';

export const MQTT_HOST = '127.0.0.1';
export const MQTT_PORT = 1883;

export const mqttTarget: Target = {
  backend: 'mqtt',
  async open(cleanup) {
    await probe(MQTT_HOST, MQTT_PORT, 1000, 'mosquitto');
    return session(cleanup, `mqtt://${MQTT_HOST}:${MQTT_PORT}`);
  },
};
