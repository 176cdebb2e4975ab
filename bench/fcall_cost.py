#!/usr/bin/env python3
"""bench/fcall_cost.py: what the leader's sequencing call costs Redis per message, alone.

    python3 bench/fcall_cost.py PORT [LUA] [CHANNELS] [CALLS]

Against a Redis of your own on PORT (it is FLUSHALLed: never a Redis with data), loads LUA
(default redis/juggernaut.lua), then sends CALLS (default 200) FCALL jg_sequence_packed of
1,000 messages each, spread round-robin over CHANNELS channels (default 10,000: every
message of a call on a channel of its own), as the leader would, and prints INFO
commandstats per message: the FCALL's total (Lua and every command it ran) and each
command inside it. `history "* 100 3600"`, the shipped default. Compare two libraries by
running both a few times, interleaved, and taking the minimum: the VM is noisy.
"""
import socket
import sys

port = int(sys.argv[1])
lib = open(sys.argv[2] if len(sys.argv) > 2 else 'redis/juggernaut.lua').read()
nch = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
calls = int(sys.argv[4]) if len(sys.argv) > 4 else 200
PER_CALL = 1000

s = socket.create_connection(('127.0.0.1', port))
f = s.makefile('rb')


def enc(*args):
    out = [b'*%d\r\n' % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += [b'$%d\r\n' % len(a), a, b'\r\n']
    return b''.join(out)


def reply():
    line = f.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b'$':
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if kind == b'*':
        return [reply() for _ in range(int(rest))]
    if kind == b'-':
        sys.exit('redis: ' + rest.decode())
    return rest


def cmd(*args):
    s.sendall(enc(*args))
    return reply()


cmd('FLUSHALL')
cmd('FUNCTION', 'LOAD', 'REPLACE', lib)
cmd('HSET', 'jg:config', 'history', '* 100 3600', 'log-size', '10000')
cmd('SET', 'jg:leader', 'bench')
k = 0
batches = []
for _ in range(calls):
    args = ['FCALL', 'jg_sequence_packed', '0', 'bench', str(PER_CALL)]
    for _ in range(PER_CALL):
        ch = 'ch-%d' % (k % nch)
        k += 1
        args += ['{"channels":["%s"],"data":"%d 123 %s"}' % (ch, k, 'x' * 52), '1', ch]
    batches.append(enc(*args))
cmd('CONFIG', 'RESETSTAT')
for b in batches:
    s.sendall(b)
    reply()
stats = cmd('INFO', 'commandstats').decode()
msgs = calls * PER_CALL
for line in stats.split('\r\n'):
    if not line.startswith('cmdstat_'):
        continue
    name, fields = line[len('cmdstat_'):].split(':', 1)
    d = dict(x.split('=') for x in fields.split(','))
    if name in ('config|resetstat',):
        continue
    print('%-12s %8.3f us/message  (%s calls)' % (name, int(d['usec']) / msgs, d['calls']))
