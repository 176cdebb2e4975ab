'use strict';
// Issue 14: scripts/check-deps.sh (make check-deps, run by make test) keeps the architecture
// one-way (docs/ARCHITECTURE.md). It passes on the repository's src/, and fails, naming the
// file and the rule, on a copy of src/ broken in each way it guards against.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const h = require('./lib/harness');

const SCRIPT = path.join(h.REPO, 'scripts', 'check-deps.sh');

function run(src) {
  const r = spawnSync('sh', [SCRIPT], { env: Object.assign({}, process.env, src ? { SRC: src } : {}), encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

/* A copy of src/ to break; removed after the test. */
function copyOfSrc(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jg-deps-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.cpSync(path.join(h.REPO, 'src'), dir, { recursive: true });
  return dir;
}

function addInclude(file, header) {
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, text.replace(/#include "/, `#include "${header}"\n#include "`));
}

test('the repository passes: includes one way, no circle, no file over 600 lines', () => {
  const r = run(null);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /6 layers, includes one way, no circle/);
});

test('an upward include fails: core/ naming the transport layer', (t) => {
  const src = copyOfSrc(t);
  addInclude(path.join(src, 'core', 'session.c'), 'transport/conn.h');
  const r = run(src);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /core\/session\.c includes "transport\/conn\.h": core\/ may not include from transport\/ \(a layer above it\)/);
});

test('a sideways include fails: transport/ and cluster/ meet only in app/', (t) => {
  const src = copyOfSrc(t);
  addInclude(path.join(src, 'cluster', 'cluster.c'), 'transport/http.h');
  const r = run(src);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /cluster\/cluster\.c includes "transport\/http\.h": cluster\/ and transport\/ are siblings/);
});

test('an include circle inside one layer fails, naming the modules', (t) => {
  const src = copyOfSrc(t);
  // channel.c includes session.h already; session.c including channel.h closes a circle
  addInclude(path.join(src, 'core', 'session.c'), 'core/channel.h');
  const r = run(src);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /include circle/);
  assert.match(r.out, /core\/session/);
  assert.match(r.out, /core\/channel/);
});

test('a header named without its layer folder fails, and so does a file over 600 lines', (t) => {
  const src = copyOfSrc(t);
  addInclude(path.join(src, 'core', 'pubsub.c'), 'session.h');
  fs.appendFileSync(path.join(src, 'core', 'pktq.c'), '\n'.repeat(700));
  const r = run(src);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /core\/pubsub\.c includes "session\.h": name it with its layer folder/);
  assert.match(r.out, /core\/pktq\.c has \d+ lines \(at most 600/);
});
