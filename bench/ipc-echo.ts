/** Echo child for the process.send round-trip benchmark: sends every message back. */
process.on('message', (m) => process.send!(m));
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
