'use strict';
// Reference mode only (JUGGERNAUTD_REFERENCE=1): preloaded into the ORIGINAL Juggernaut
// 2.1.1 after the reference's shim.js. Applies socket.io 0.8.7 settings equivalent to the
// test's daemon config (JSON in JUGGERNAUT_REF_SETTINGS: heartbeat interval/timeout,
// close timeout, polling duration, transports, origins), so timing tests can check their
// expectations against the original with short timers.
const path = require('path');
let settings = {};
try { settings = JSON.parse(process.env.JUGGERNAUT_REF_SETTINGS || '{}'); } catch (e) { settings = {}; }
if (Object.keys(settings).length) {
  const jugDir = path.dirname(require.resolve('juggernaut/package.json', { paths: [process.cwd()] }));
  const sio = require(require.resolve('socket.io', { paths: [jugDir] }));
  const origListen = sio.listen;
  sio.listen = function () {
    const manager = origListen.apply(this, arguments);
    for (const [k, v] of Object.entries(settings)) manager.set(k, v);
    return manager;
  };
}
