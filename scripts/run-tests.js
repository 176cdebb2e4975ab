#!/usr/bin/env node
'use strict';
// Runs the black-box suite (tests/integration/*.test.js) and, if present, the browser
// suite (tests/browser/*.test.js) with Node's test runner against a real juggernautd.
//
//   node scripts/run-tests.js [--only integration|browser] [--concurrency N]
//                             [--timeout MS] [FILE...]
//
// Environment: JUGGERNAUTD_BIN (binary under test, default build/release/juggernautd),
// JUGGERNAUTD_REFERENCE=1 (run against the original Node server instead; see
// tests/integration/lib/harness.js), TEST_CONCURRENCY, TEST_TIMEOUT_MS.
// Exits non-zero if any test fails.

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const repo = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
let only = null;
let concurrency = Number(process.env.TEST_CONCURRENCY || 2);
// Node 20 applies --test-timeout to each test FILE as a whole (the files set their own
// per-test timeouts), so this is a hang guard, not a per-test budget.
let timeout = Number(process.env.TEST_TIMEOUT_MS || 300000);
const files = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--only') only = args[++i];
  else if (a === '--concurrency') concurrency = Number(args[++i]);
  else if (a === '--timeout') timeout = Number(args[++i]);
  else if (a === '-h' || a === '--help') {
    process.stdout.write('usage: node scripts/run-tests.js [--only integration|browser] [--concurrency N] [--timeout MS] [FILE...]\n');
    process.exit(0);
  } else files.push(path.resolve(a));
}

function list(dir) {
  const d = path.join(repo, 'tests', dir);
  if (!fs.existsSync(d)) return [];
  return fs.readdirSync(d).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join(d, f));
}

if (!files.length) {
  if (!only || only === 'integration') files.push(...list('integration'));
  if (!only || only === 'browser') files.push(...list('browser'));
}
if (!files.length) {
  process.stderr.write('run-tests: no test files found\n');
  process.exit(1);
}

const env = Object.assign({}, process.env);
if (env.JUGGERNAUTD_BIN) env.JUGGERNAUTD_BIN = path.resolve(env.JUGGERNAUTD_BIN);
const bin = env.JUGGERNAUTD_BIN || path.join(repo, 'build', 'release', 'juggernautd');
if (env.JUGGERNAUTD_REFERENCE === '1') {
  process.stdout.write('run-tests: against the ORIGINAL Juggernaut 2.1.1 (reference mode)\n');
} else if (!fs.existsSync(bin)) {
  process.stderr.write(`run-tests: ${bin} does not exist; build it first (make) or set JUGGERNAUTD_BIN\n`);
  process.exit(1);
} else {
  process.stdout.write(`run-tests: juggernautd = ${bin}\n`);
}

// Node 20's runner prints the spec report on a TTY and TAP otherwise; ask for the spec
// reporter explicitly so logs stay readable in CI. It ends with the summary
// (tests/pass/fail/...) and repeats every failure.
const nodeArgs = [
  '--test',
  `--test-concurrency=${concurrency}`,
  `--test-timeout=${timeout}`,
  '--test-reporter=spec',
  ...files.map((f) => path.relative(repo, f)),
];
process.stdout.write(`run-tests: node ${nodeArgs.join(' ')}\n`);
const started = Date.now();
const child = spawn(process.execPath, nodeArgs, { cwd: repo, env, stdio: 'inherit' });

// Forward termination to the runner so its test processes clean up their daemons.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { try { child.kill(sig); } catch (e) { /* gone */ } });
}

child.on('exit', (code, signal) => {
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (signal) {
    process.stderr.write(`run-tests: test runner killed by ${signal} after ${secs} s\n`);
    process.exit(1);
  }
  process.stdout.write(`run-tests: ${code === 0 ? 'PASS' : 'FAIL'} (${files.length} files, ${secs} s)\n`);
  process.exit(code === 0 ? 0 : 1);
});
