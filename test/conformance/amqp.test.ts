import { runConformance } from './suite.js';
import { amqpTarget } from './amqp-target.js';

// Needs RabbitMQ on 127.0.0.1:5672 (guest/guest); fails (not skips) when it is down.
runConformance(amqpTarget);
