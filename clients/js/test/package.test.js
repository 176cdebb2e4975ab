'use strict';
// The npm package juggernautd-client (clients/js), as it ships: `npm pack` builds it from
// public/application.js, the tarball holds exactly the intended files, its package.json
// points at files it holds and carries the repository's VERSION, TypeScript compiles the
// usage files against the packed declarations (and rejects every wrong use in
// errors.mts), the declarations name every public method of application.js (and no
// other), and Node loads both builds by the package's name.
// Run by `make test-js-client` (part of `make test`).

const { test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const harness = require('../../../tests/integration/lib/harness.js');
const pkgBuild = require('../build.js');

const PKG = pkgBuild.PKG_DIR;
const REPO = pkgBuild.REPO;
const TSC = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)
  ? [process.execPath, process.env.npm_execpath] : ['npm'];
const SHIPPED = ['LICENSE', 'README.md', 'dist/juggernaut.js', 'dist/juggernaut.mjs',
  'index.d.mts', 'index.d.ts', 'package.json'];
const VERSION = fs.readFileSync(path.join(REPO, 'VERSION'), 'utf8').trim();

function run(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), Object.assign({ encoding: 'utf8', timeout: 120000 }, opts));
  if (r.error) throw r.error;
  return r;
}

function npm(args, cwd) {
  const r = run([...NPM, ...args], { cwd, env: Object.assign({}, process.env, { npm_config_loglevel: 'error' }) });
  assert.equal(r.status, 0, `npm ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

let work;        // a consumer project: node_modules/juggernautd-client is the unpacked tarball
let installed;   // that directory
let packed;      // npm pack --json's entry for the tarball

before(() => {
  work = harness.tempDir('jg-clientjs-');
  const out = npm(['pack', '--json', '--pack-destination', work], PKG);
  packed = JSON.parse(out.slice(out.indexOf('[')))[0];
  installed = path.join(work, 'node_modules', 'juggernautd-client');
  fs.mkdirSync(installed, { recursive: true });
  const t = run(['tar', '-xzf', path.join(work, packed.filename), '-C', installed, '--strip-components=1']);
  assert.equal(t.status, 0, t.stderr);
});

test('the build is current and the classic build is the served /application.js, byte for byte', () => {
  assert.deepEqual(pkgBuild.stale(), [], 'npm pack ran the build (prepack)');
  const served = fs.readFileSync(pkgBuild.SOURCE);
  assert.ok(fs.readFileSync(path.join(installed, 'dist', 'juggernaut.js')).equals(served),
    'dist/juggernaut.js = public/application.js');
  const esm = fs.readFileSync(path.join(installed, 'dist', 'juggernaut.mjs'), 'utf8');
  assert.ok(esm.includes(served.toString('utf8')), 'the ES module build wraps public/application.js unchanged');
  assert.match(esm, /\nexport default Juggernaut;\nexport \{ Juggernaut \};\n$/);
  assert.equal(fs.readFileSync(path.join(installed, 'LICENSE'), 'utf8'),
    fs.readFileSync(path.join(REPO, 'LICENSE'), 'utf8'));
});

test('package.json carries the repository VERSION, and the build refuses another', () => {
  assert.equal(JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8')).version, VERSION);
  // a copy of the package whose version disagrees: build.js must fail and write nothing
  const copy = harness.tempDir('jg-clientjs-ver-');
  const js = path.join(copy, 'clients', 'js');
  fs.mkdirSync(path.join(copy, 'public'), { recursive: true });
  fs.mkdirSync(js, { recursive: true });
  fs.copyFileSync(pkgBuild.SOURCE, path.join(copy, 'public', 'application.js'));
  fs.copyFileSync(path.join(REPO, 'LICENSE'), path.join(copy, 'LICENSE'));
  fs.copyFileSync(path.join(PKG, 'build.js'), path.join(js, 'build.js'));
  fs.writeFileSync(path.join(copy, 'VERSION'), '9.9.9\n');
  fs.copyFileSync(path.join(PKG, 'package.json'), path.join(js, 'package.json'));
  const r = run([process.execPath, path.join(js, 'build.js')]);
  assert.equal(r.status, 1, `build.js with VERSION 9.9.9 exited ${r.status}`);
  assert.match(r.stderr, new RegExp(`version ${VERSION.replace(/\./g, '\\.')}, VERSION says 9\\.9\\.9`));
  assert.equal(fs.existsSync(path.join(js, 'dist')), false, 'nothing written');
  // and agrees once they match
  fs.writeFileSync(path.join(copy, 'VERSION'), `${VERSION}\n`);
  assert.equal(run([process.execPath, path.join(js, 'build.js')]).status, 0);
  assert.ok(fs.existsSync(path.join(js, 'dist', 'juggernaut.mjs')));
});

test('npm pack --dry-run lists exactly the intended files, and the tarball holds them', () => {
  const out = npm(['pack', '--dry-run', '--json'], PKG);
  const dry = JSON.parse(out.slice(out.indexOf('[')))[0];
  assert.equal(dry.name, 'juggernautd-client');
  assert.equal(dry.version, VERSION);
  assert.deepEqual(dry.files.map((f) => f.path).sort(), SHIPPED);
  assert.deepEqual(dry.bundled, []);
  assert.deepEqual(packed.files.map((f) => f.path).sort(), SHIPPED);
  const listed = run(['tar', '-tzf', path.join(work, packed.filename)]).stdout.trim().split('\n')
    .map((p) => p.replace(/^package\//, '')).sort();
  assert.deepEqual(listed, SHIPPED);
});

test('the packed package.json is valid and every entry point it names is in the package', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'juggernautd-client');
  assert.equal(pkg.version, VERSION);
  assert.equal(pkg.license, 'MIT');
  assert.equal(pkg.dependencies, undefined, 'no runtime dependencies');
  assert.equal(pkg.devDependencies, undefined);
  const targets = [pkg.main, pkg.module, pkg.types];
  (function walk(node) {
    if (typeof node === 'string') targets.push(node);
    else for (const v of Object.values(node)) walk(v);
  })(pkg.exports);
  assert.equal(pkg.exports['.'].import.default, './dist/juggernaut.mjs');
  assert.equal(pkg.exports['.'].require.default, './dist/juggernaut.js');
  assert.equal(pkg.main, './dist/juggernaut.js');
  assert.equal(pkg.module, './dist/juggernaut.mjs');
  for (const t of targets) {
    assert.ok(SHIPPED.includes(path.posix.normalize(t)), `${t} is shipped`);
  }
});

test('Node loads the ES module build by name (import) and the classic one (require)', () => {
  const esm = run([process.execPath, '--input-type=module', '-e', `
    import Juggernaut, { Juggernaut as Named } from "juggernautd-client";
    const byPath = await import("./node_modules/juggernautd-client/dist/juggernaut.mjs");
    console.log(JSON.stringify({ type: typeof Juggernaut, same: Juggernaut === Named,
      mjs: byPath.default === Juggernaut, message: typeof Juggernaut.Message,
      subscribe: typeof Juggernaut.prototype.subscribe, gap: typeof Juggernaut.prototype.ongap,
      packet: Juggernaut.protocol.encodePacket(3, '{"type":"event"}'),
      global: typeof globalThis.Juggernaut }));`], { cwd: work });
  assert.equal(esm.status, 0, esm.stderr);
  assert.deepEqual(JSON.parse(esm.stdout), { type: 'function', same: true, mjs: true,
    message: 'function', subscribe: 'function', gap: 'function', packet: '3:::{"type":"event"}',
    global: 'undefined' });

  const cjs = run([process.execPath, '-e', `
    const J = require("juggernautd-client");
    console.log(JSON.stringify({ type: typeof J, file: require.resolve("juggernautd-client").split("/").pop(),
      message: typeof J.Message, payload: J.protocol.decodePayload("\\ufffd3\\ufffd1::\\ufffd3\\ufffd2::") }));`],
  { cwd: work });
  assert.equal(cjs.status, 0, cjs.stderr);
  assert.deepEqual(JSON.parse(cjs.stdout), { type: 'function', file: 'juggernaut.js', message: 'function',
    payload: ['1::', '2::'] });
});

// tsc over FILES (copied into the consumer project) with the package resolved by name
function tsc(files, options = {}) {
  const config = {
    compilerOptions: Object.assign({
      module: 'nodenext', moduleResolution: 'nodenext', target: 'es2020', lib: ['es2020', 'dom'],
      strict: true, noEmit: true, types: [], skipLibCheck: false, noUnusedLocals: false,
    }, options),
    files: Object.keys(files),
  };
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(work, name), text);
  const tsconfig = path.join(work, `tsconfig.${Object.keys(files).join('+')}.json`);
  fs.writeFileSync(tsconfig, JSON.stringify(config));
  return run([process.execPath, TSC, '-p', tsconfig, '--pretty', 'false'], { cwd: work });
}

const source = (name) => fs.readFileSync(path.join(PKG, 'test', name), 'utf8');

test('tsc --noEmit accepts the usage files against the packed declarations (ESM and CommonJS)', () => {
  // Node's resolution (import and require conditions), then a bundler's (ESM only)
  const runs = [[{}, ['usage.mts', 'usage.cts']], [{ module: 'esnext', moduleResolution: 'bundler' }, ['usage.mts']]];
  for (const [options, names] of runs) {
    const r = tsc(Object.fromEntries(names.map((n) => [n, source(n)])), options);
    assert.equal(r.status, 0, `tsc ${JSON.stringify(options)}:\n${r.stdout}${r.stderr}`);
  }
});

test('tsc rejects each wrong use in errors.mts, and nothing else there', () => {
  const text = source('errors.mts');
  const lines = text.split('\n');
  const expected = [];
  lines.forEach((l, i) => { if (/^\s*\/\/ @ts-expect-error/.test(l)) expected.push(i + 2); });
  assert.ok(expected.length >= 10, `errors.mts has ${expected.length} wrong uses`);
  // with the directives: every one of them meets its error (an unused one fails tsc)
  const ok = tsc({ 'errors.mts': text });
  assert.equal(ok.status, 0, `${ok.stdout}${ok.stderr}`);
  // without them (line numbers kept): tsc fails, on exactly those lines
  const bare = tsc({ 'errors_bare.mts': text.replace(/\/\/ @ts-expect-error/g, '// (wrong)') });
  assert.notEqual(bare.status, 0, 'tsc must fail on the wrong uses');
  const errorLines = [...new Set([...bare.stdout.matchAll(/^errors_bare\.mts\((\d+),\d+\): error TS\d+/gm)]
    .map((m) => Number(m[1])))].sort((a, b) => a - b);
  assert.deepEqual(errorLines, expected, bare.stdout);
  assert.doesNotMatch(bare.stdout, /^(?!errors_bare\.mts)\S+\(\d+,\d+\): error/m, 'no error in the declarations');
});

// The methods application.js uses only itself (its handlers of the socket's events, the
// subscribe/meta plumbing): not part of the declared API.
const INTERNAL = ['sendSubscribe', 'subscribeRequest', 'loadStream', 'saveStream', 'forgetStream',
  'sendMeta', 'onconnect', 'ondisconnect', 'onmessage', 'onpresence', 'ongap', 'onlost'];

test('index.d.ts declares every public method and static of the client, and nothing it lacks', () => {
  const ts = require(path.join(REPO, 'node_modules', 'typescript'));
  const file = path.join(installed, 'index.d.ts');
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2020, true);
  const cls = sf.statements.find((s) => ts.isClassDeclaration(s) && s.name.text === 'Juggernaut');
  assert.ok(cls, 'index.d.ts declares class Juggernaut');
  const isStatic = (m) => (ts.getModifiers(m) || []).some((k) => k.kind === ts.SyntaxKind.StaticKeyword);
  const named = (m) => m.name && m.name.text;
  const declaredMethods = [...new Set(cls.members.filter((m) => ts.isMethodDeclaration(m) && !isStatic(m))
    .map(named))].sort();
  const declaredStatics = cls.members.filter(isStatic).map(named).sort();

  const Juggernaut = require(path.join(installed, 'dist', 'juggernaut.js'));
  const runtime = Object.keys(Juggernaut.prototype).filter((k) => typeof Juggernaut.prototype[k] === 'function');
  for (const k of INTERNAL) assert.ok(runtime.includes(k), `${k} is still in application.js (update INTERNAL)`);
  assert.deepEqual(declaredMethods, runtime.filter((k) => !INTERNAL.includes(k)).sort());
  assert.deepEqual(declaredStatics, Object.keys(Juggernaut).sort());
});
