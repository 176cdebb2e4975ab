#!/usr/bin/env node
// usage: node bench/xhr_rtt.js JUGGERNAUTD_PORT REDIS_PORT  (run from the repository root)
// Round trip of one xhr-polling delivery: PUBLISH on Redis -> the held GET's answer arrives.
const http = require('http'); const Redis = require('ioredis');
const port = +process.argv[2], rport = +process.argv[3], N = 100;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function req(method, path, body) { return new Promise((res, rej) => { const r = http.request({ host: '127.0.0.1', port, path, method, agent }, (x) => { let b = ''; x.on('data', d => b += d); x.on('end', () => res(b)); }); r.on('error', rej); if (body) r.write(body); r.end(); }); }
(async () => {
  const pub = new Redis({ port: rport, host: '127.0.0.1' });
  const sid = (await req('GET', '/socket.io/1/?t=1')).split(':')[0];
  await req('GET', `/socket.io/1/xhr-polling/${sid}?t=2`);   // 1::
  const post = new http.Agent({ keepAlive: true, maxSockets: 1 });
  await new Promise(r => { const x = http.request({ host: '127.0.0.1', port, path: `/socket.io/1/xhr-polling/${sid}?t=3`, method: 'POST', agent: post }, (y) => { y.resume(); y.on('end', r); }); x.end('3:::{"type":"subscribe","channel":"rtt"}'); });
  const times = [];
  for (let i = 0; i < N; i++) {
    const got = req('GET', `/socket.io/1/xhr-polling/${sid}?t=${10 + i}`);
    await new Promise(r => setTimeout(r, 5));       // let the GET be held
    const t0 = process.hrtime.bigint();
    await pub.publish('juggernaut', JSON.stringify({ channels: ['rtt'], data: 'm' + i }));
    const body = await got;
    const t1 = process.hrtime.bigint();
    if (!body.includes('"m' + i + '"')) throw new Error('unexpected ' + body);
    times.push(Number(t1 - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(`xhr-polling delivery round trip over ${N}: median ${times[N / 2].toFixed(3)} ms, p90 ${times[Math.floor(N * 0.9)].toFixed(3)} ms, max ${times[N - 1].toFixed(3)} ms`);
  pub.disconnect(); agent.destroy(); post.destroy();
})();
