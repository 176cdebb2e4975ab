#!lua name=juggernaut
--[[
juggernaut.lua: the Redis Functions of juggernautd's cluster mode (Redis >= 7.0). Every
instance loads this library at start (FUNCTION LOAD REPLACE); publishers may call
jg_publish themselves:

    FCALL jg_publish 0 '{"channels":["chat"],"data":"hello"}'    -> the message's seq

Each function runs atomically, so the sequence, the log, the history, the session records and
presence never disagree. The key layout is documented in the README ("Cluster mode: Redis
keys"). Numbers travel as strings: Lua's numbers are doubles and print 1e15 as "1e+15".
]]

local PUB_SEQUENCED = 'juggernaut:sequenced'
local MAX_HISTORY_REPLY = 1000
local PACK_MAX = 1000          -- messages per jg_sequence_packed (cluster_seq.c's BATCH_MAX)

local function num(n)
  return string.format('%d', n)   -- Lua 5.1 formats %d as a C long: exact to 2^53
end

-- The last sequence number. A missing counter (first start, or a Redis that lost its data)
-- starts from the current time in microseconds, so numbers never go backwards for clients
-- that remember one.
local function last_seq()
  local cur = redis.call('GET', 'jg:seq')
  if not cur then
    local t = redis.call('TIME')
    cur = num(tonumber(t[1]) * 1000000 + tonumber(t[2]))
    redis.call('SET', 'jg:seq', cur)
  end
  return cur
end

-- The next sequence number.
local function next_seq()
  last_seq()
  return num(redis.call('INCR', 'jg:seq'))
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The "history" config text "<prefix> <count> <age>;..." as a list of {prefix, count, age}.
local function history_rules(text)
  local rules = {}
  for rule in string.gmatch(text or '', '[^;]+') do
    local prefix, c, a = string.match(rule, '^%s*(%S+)%s+(%d+)%s+(%d+)%s*$')
    if prefix then
      rules[#rules + 1] = { prefix, tonumber(c), tonumber(a) }
    end
  end
  return rules
end

-- History rule for CHANNEL (RULES: history_rules or the config text): count, age (s).
-- "*" matches every channel; the longest matching prefix wins.
local function history_rule(rules, channel)
  if type(rules) ~= 'table' then
    rules = history_rules(rules)
  end
  local best_len, count, age = -1, 0, 0
  for _, r in ipairs(rules) do
    local prefix = r[1]
    local plen = (prefix == '*') and 0 or #prefix
    if plen > best_len and (prefix == '*' or string.sub(channel, 1, plen) == prefix) then
      best_len, count, age = plen, r[2], r[3]
    end
  end
  return count, age
end

-- The history writes of one call, gathered per channel and written at its end
-- (history_flush). A list per channel, not a stream: a new stream costs Redis a 4 KB node
-- and ~16 us, and a chat has many channels with a few messages each. Each item is
-- "<seq> <t-ms> <p> <json>", P the seq of the channel's previous message, so the oldest
-- item still held tells exactly what was trimmed before it (the floor of a "since").
--
-- Per channel and call that is one RPUSH, plus an LTRIM once the list is full and a
-- PEXPIREAT when the list is new or its TTL is due: the TTL is 1.25 x the age and renewed
-- once a quarter of the age has passed (readers drop items older than the age), so a busy
-- channel does not pay an EXPIRE per call. The channels' newest seqs (for P, and the floor
-- once a list has expired whole) and when their TTLs run out live in one hash per day,
-- read and written once per call for all its channels (jg:history-lasts, below): a key per
-- channel cost Redis a SET per channel and call.
local function history_new(rules, rules_at)
  return { text = rules or '', rules_at = rules_at, rules = history_rules(rules), rule = {}, per_channel = {},
           channels = {} }
end

local function history_add(h, channel, seq, text)
  local r = h.rule[channel]
  if r == nil then
    local count, age = history_rule(h.rules, channel)
    r = count > 0 and { count, age } or false
    h.rule[channel] = r
  end
  if not r then
    return
  end
  local l = h.per_channel[channel]
  if not l then
    l = {}
    h.per_channel[channel] = l
    h.channels[#h.channels + 1] = channel
  elseif l[#l - 1] == seq then
    return   -- the channel twice in one message
  end
  l[#l + 1] = seq
  l[#l + 1] = text
end

-- jg:history-lasts:<day> (day: unix time / 86400): field a channel, value "<seq> <until-ms>",
-- its newest seq and when its list's TTL runs out. Written to today's hash, read from
-- today's and yesterday's, so a channel is known one to two days after its last message.
-- jg:history-lasts-from:<day>: the seq before the first message of that day's hash, so a
-- channel missing from both hashes had no message after yesterday's (the horizon).
-- jg:config's history-at: "<seq> <history rules>", the seq before the rules last changed: a
-- channel may have had messages the lasts do not know of (its history was off) before it.
local LASTS_DAY_S = 86400

local function lasts_day(t_ms)
  return math.floor(t_ms / 1000 / LASTS_DAY_S)
end

-- HMGET of FIELDS from KEY in chunks (unpack's stack): a table with the same indices.
local function hmget_chunks(key, fields)
  if #fields <= 500 then
    return redis.call('HMGET', key, unpack(fields))
  end
  local out = {}
  for i = 1, #fields, 500 do
    local part = redis.call('HMGET', key, unpack(fields, i, math.min(i + 499, #fields)))
    for k = 1, #part do
      out[i + k - 1] = part[k]
    end
  end
  return out
end

-- The newest seq of CHANNEL as history_flush recorded it, or nil; T_MS: now.
local function history_lasts_get(channel, t_ms)
  local day = lasts_day(t_ms)
  local v = redis.call('HGET', 'jg:history-lasts:' .. day, channel) or
      redis.call('HGET', 'jg:history-lasts:' .. (day - 1), channel)
  return v and string.match(v, '^(%d+) ')
end

-- The highest seq a channel that keeps history and is missing from the lasts hashes may
-- have had a message at (nil when no history was written for two days).
local function history_horizon(t_ms)
  local day = lasts_day(t_ms)
  local from = redis.call('GET', 'jg:history-lasts-from:' .. (day - 1)) or
      redis.call('GET', 'jg:history-lasts-from:' .. day)
  local reset = string.match(redis.call('HGET', 'jg:config', 'history-at') or '', '^(%d+) ')
  if from and reset and tonumber(reset) > tonumber(from) then
    return reset
  end
  return from
end

-- The seq of a history list item (nil if it is not one).
local function item_seq(item)
  return item and string.match(item, '^(%d+) ')
end

local function history_flush(h)
  local channels = h.channels
  if #channels == 0 then
    return
  end
  local now = now_ms()
  local now_s = num(now)
  local day = lasts_day(now)
  local today = 'jg:history-lasts:' .. day
  local lasts = hmget_chunks(today, channels)
  local missing = {}
  for i = 1, #channels do
    if not lasts[i] then
      missing[#missing + 1] = channels[i]
    end
  end
  local before_call = num(tonumber(h.per_channel[channels[1]][1]) - 1)
  if #missing == #channels then   -- perhaps today's first call
    redis.call('SET', 'jg:history-lasts-from:' .. day, before_call, 'NX', 'EX', 3 * LASTS_DAY_S)
  end
  local _, rules = string.match(h.rules_at or '', '^(%d+) (.*)$')
  if rules ~= h.text then
    redis.call('HSET', 'jg:config', 'history-at', before_call .. ' ' .. h.text)
  end
  local horizon
  if #missing > 0 then
    local older = hmget_chunks('jg:history-lasts:' .. (day - 1), missing)
    local k = 0
    for i = 1, #channels do
      if not lasts[i] then
        k = k + 1
        lasts[i] = older[k]
      end
    end
    horizon = history_horizon(now) or before_call
  end
  local kv = {}
  for ci, channel in ipairs(channels) do
    local l, rule = h.per_channel[channel], h.rule[channel]
    local count, age = rule[1], rule[2]
    local key = 'jg:history-list:' .. channel
    local prev, until_s
    local last = lasts[ci]
    if last then   -- "<seq> <until-ms>": a plain find, not a pattern (it runs per channel)
      local sp = string.find(last, ' ', 1, true)
      if sp then
        prev, until_s = string.sub(last, 1, sp - 1), string.sub(last, sp + 1)
      end
    end
    -- unknown: no message after the horizon (or a list that outlived its lasts, fixed below)
    prev = prev or horizon
    local len, n = 0, #l / 2
    if n == 1 then   -- the usual case: one message on the channel in this call
      len = redis.call('RPUSH', key, l[1] .. ' ' .. now_s .. ' ' .. prev .. ' ' .. l[2])
    else
      local items = {}
      for i = 1, #l, 2 do
        items[#items + 1] = l[i] .. ' ' .. now_s .. ' ' .. prev .. ' ' .. l[i + 1]
        prev = l[i]
        if #items == 500 or i + 1 == #l then   -- unpack's stack: 500 at a time
          len = redis.call('RPUSH', key, unpack(items))
          items = {}
        end
      end
    end
    if not lasts[ci] and len > n then
      -- the list outlived what the lasts know of it: its own last item is the predecessor
      local before = item_seq(redis.call('LINDEX', key, -n - 1))
      local first = redis.call('LINDEX', key, -n)
      if before then
        redis.call('LSET', key, -n, (string.gsub(first, '^(%d+ %d+ )%d+ ', '%1' .. before .. ' ', 1)))
      end
    end
    if len > count then
      redis.call('LTRIM', key, -count, -1)
    end
    -- a new list, or one that would expire within the age (the age may have grown)
    if age > 0 and (len == n or not until_s or tonumber(until_s) - now < age * 1000) then
      until_s = num(now + age * 1250)
      redis.call('PEXPIREAT', key, until_s)
    end
    kv[#kv + 1] = channel
    kv[#kv + 1] = l[#l - 1] .. ' ' .. (until_s or '0')
  end
  local added = 0
  for i = 1, #kv, 1000 do
    added = added + redis.call('HSET', today, unpack(kv, i, math.min(i + 999, #kv)))
  end
  if added > 0 then
    redis.call('EXPIREAT', today, num((day + 2) * LASTS_DAY_S))
  end
end

-- jg:log keeps the last LOG_SIZE seqs, whether an entry holds one message or a packed batch.
-- Exact MINID, not "~": that trims whole nodes of 100 entries, 100,000 messages when packed.
local function log_add(log_size, last, fields)
  local floor = math.max(0, tonumber(last) - (tonumber(log_size) or 10000) + 1)
  redis.call('XADD', 'jg:log', 'MINID', num(floor), last .. '-0', unpack(fields))
end

-- The targets of a published message, like juggernaut.c: "channels" if truthy, else
-- "channel"; a string is one channel, an array its string elements.
local function targets(msg)
  local t = msg.channels
  if t == nil or t == false or t == cjson.null or t == '' or t == 0 then
    t = msg.channel
  end
  local out = {}
  if type(t) == 'string' then
    out[1] = t
  elseif type(t) == 'table' then
    for _, c in ipairs(t) do
      if type(c) == 'string' then
        out[#out + 1] = c
      end
    end
  end
  return out
end

-- Sequences one message of kind K ("L" legacy, "D" direct, "P" presence): its own log
-- entry, history (not for presence, gathered in H) and its own message on the internal
-- channel every instance delivers from. CFG is HMGET jg:config log-size history.
local function sequence_with(cfg, h, kind, text, channels)
  local seq = next_seq()
  log_add(cfg[1], seq, { 'k', kind, 'm', text })
  if kind ~= 'P' then
    for _, ch in ipairs(channels) do
      history_add(h, ch, seq, text)
    end
  end
  redis.call('PUBLISH', PUB_SEQUENCED, seq .. ' ' .. kind .. ' ' .. text)
  return seq
end

local function sequence(kind, text, channels)
  local cfg = redis.call('HMGET', 'jg:config', 'log-size', 'history', 'history-at')
  local h = history_new(cfg[2], cfg[3])
  local seq = sequence_with(cfg, h, kind, text, channels)
  history_flush(h)
  return seq
end

local function decode_object(text)
  local ok, msg = pcall(cjson.decode, text)
  if not ok or type(msg) ~= 'table' then
    return nil
  end
  return msg
end

-- FCALL jg_publish 0 <json>: publish without a leader. Returns the seq.
local function jg_publish(keys, args)
  local text = args[1]
  local msg = text and decode_object(text)
  if not msg then
    return redis.error_reply('ERR jg_publish: the message must be a JSON object')
  end
  return sequence('D', text, targets(msg))
end

-- FCALL jg_sequence 0 <leader-id> <json> <channel>...: the leader sequences a message
-- received on "juggernaut". Fenced: an instance that lost the lease cannot sequence.
local function jg_sequence(keys, args)
  if redis.call('GET', 'jg:leader') ~= args[1] then
    return redis.error_reply('NOTLEADER')
  end
  local channels = {}
  for i = 3, #args do
    channels[#channels + 1] = args[i]
  end
  return sequence('L', args[2], channels)
end

-- The arguments of a batch, (<json> <nchannels> <channel>...) x N from index 3: true if
-- well formed, checked before anything is written.
local function batch_ok(args, n)
  local i = 3
  for _ = 1, n do
    local nch = tonumber(args[i + 1])
    if not args[i] or not nch or nch < 0 or i + 1 + nch > #args then
      return false
    end
    i = i + 2 + nch
  end
  return i == #args + 1
end

-- A batch call NAME's fence (only the leader sequences) and arguments: their count N
-- (MIN..MAX), or nil and the error to return.
local function batch_args(args, name, min, max)
  if redis.call('GET', 'jg:leader') ~= args[1] then
    return nil, redis.error_reply('NOTLEADER')
  end
  local n = tonumber(args[2]) or -1
  if n < min or n > (max or n) or not batch_ok(args, n) then
    return nil, redis.error_reply('ERR ' .. name .. ': malformed arguments')
  end
  return n
end

-- FCALL jg_sequence_batch 0 <leader-id> <n> (<json> <nchannels> <channel>...) x n: the
-- leader sequences the messages a loop turn brought, in order, in one call, each with its
-- own log entry and internal message (what instances before packed batches read). Fenced
-- like jg_sequence. Returns the last seq.
local function jg_sequence_batch(keys, args)
  local n, err = batch_args(args, 'jg_sequence_batch', 0)
  if not n then
    return err
  end
  local cfg = redis.call('HMGET', 'jg:config', 'log-size', 'history', 'history-at')
  local h = history_new(cfg[2], cfg[3])
  local i, last = 3, nil
  for _ = 1, n do
    local nch = tonumber(args[i + 1])
    local channels = {}
    for k = 1, nch do
      channels[k] = args[i + 1 + k]
    end
    last = sequence_with(cfg, h, 'L', args[i], channels)
    i = i + 2 + nch
  end
  history_flush(h)
  return last
end

-- FCALL jg_sequence_packed 0 <leader-id> <n> (<json> <nchannels> <channel>...) x n: like
-- jg_sequence_batch, but the N messages (consecutive seqs) share one log entry, id the
-- last seq, field "b", and one internal message, both the packed text
--     "B <first-seq> <n>\n" then per message "L<bytes>:<json>"
-- While an instance that cannot read packed batches is alive (it beats without a wire
-- version: jg:wire1-seen), it falls back to jg_sequence_batch. At most PACK_MAX messages,
-- so a reader of the log knows an entry covers no seq below its id - PACK_MAX.
local function jg_sequence_packed(keys, args)
  local n, err = batch_args(args, 'jg_sequence_packed', 1, PACK_MAX)
  if not n then
    return err
  end
  if redis.call('EXISTS', 'jg:wire1-seen') == 1 then
    return jg_sequence_batch(keys, args)
  end
  local cfg = redis.call('HMGET', 'jg:config', 'log-size', 'history', 'history-at')
  local h = history_new(cfg[2], cfg[3])
  last_seq()
  local last = redis.call('INCRBY', 'jg:seq', n)
  local seq = last - n
  local out = { 'B ', num(seq + 1), ' ', tostring(n), '\n' }
  local i = 3
  for _ = 1, n do
    local text, nch = args[i], tonumber(args[i + 1])
    seq = seq + 1
    local s = num(seq)
    for k = 1, nch do
      history_add(h, args[i + 1 + k], s, text)
    end
    out[#out + 1] = string.format('L%d:', #text)   -- not the %.14g of a number's concatenation
    out[#out + 1] = text
    i = i + 2 + nch
  end
  local packed = table.concat(out)
  log_add(cfg[1], num(last), { 'b', packed })
  history_flush(h)
  redis.call('PUBLISH', PUB_SEQUENCED, packed)
  return num(last)
end

-- When an instance began listening on "juggernaut" (ms), from its jg_beat state: 0 for a
-- mature one, a huge number for one not listening yet.
local function listening_since(state)
  if state == 'mature' then
    return 0
  end
  return tonumber(state and string.match(state, '^young:(%d+)$')) or 1e18
end

-- FCALL jg_lease 0 <id> <ms> <young 0|1> [<listening-since-ms>]: takes or renews the leader
-- lease. Returns 1 if ID holds it. A YOUNG instance (subscribed too recently to have heard
-- every message still waiting to be sequenced) takes a free lease only if no live instance
-- has been listening longer: a mature one, or a young one that subscribed earlier (it
-- heard more of what the last leader left unsequenced; ties go to the smaller id).
local function jg_lease(keys, args)
  local cur = redis.call('GET', 'jg:leader')
  if not cur and args[3] == '1' then
    local mine = tonumber(args[4]) or 1e18
    for _, id in ipairs(redis.call('SMEMBERS', 'jg:instances')) do
      if id ~= args[1] then
        local state = redis.call('GET', 'jg:instance:' .. id)
        if state then
          local theirs = listening_since(state)
          if theirs < mine or (theirs == mine and id < args[1]) then
            return 0
          end
        end
      end
    end
  end
  if not cur then
    redis.call('SET', 'jg:leader', args[1], 'PX', args[2])
    return 1
  end
  if cur == args[1] then
    redis.call('PEXPIRE', 'jg:leader', args[2])
    return 1
  end
  return 0
end

-- FCALL jg_release 0 <id>: gives the lease up (shutdown), so another instance takes over
-- at its next renewal instead of after the lease runs out.
local function jg_release(keys, args)
  if redis.call('GET', 'jg:leader') == args[1] then
    redis.call('DEL', 'jg:leader')
    return 1
  end
  return 0
end

-- FCALL jg_beat 0 <id> <ms> <config-log-size> <config-history> <young[:since-ms]|mature>
-- [<spent-s> [<wire>]]: instance heartbeat; "mature" once it has been subscribed for 3 x
-- leader-lease, before that "young:<when it subscribed, ms>" (jg_lease prefers whoever
-- listened longest). SPENT-S: how long a signed sid stays valid (handshake-expiry + clock skew).
-- WIRE: what the instance reads on juggernaut:sequenced and jg:log; 2 = packed batches too.
-- An instance without it (an older version) keeps jg:wire1-seen alive: no packed batches.
local function jg_beat(keys, args)
  redis.call('SET', 'jg:instance:' .. args[1], args[5] or 'young', 'PX', args[2])
  if (tonumber(args[7]) or 1) < 2 then
    redis.call('SET', 'jg:wire1-seen', args[1], 'PX', args[2])
  end
  redis.call('SADD', 'jg:instances', args[1])
  redis.call('HSET', 'jg:config', 'log-size', args[3], 'history', args[4])
  if args[6] then
    redis.call('HSET', 'jg:config', 'spent-ttl', args[6])
  end
  return 1
end

---- presence ---------------------------------------------------------------------------

local function identity(sid, meta)
  if meta == 'null' then
    return 'sid:' .. sid
  end
  return meta
end

local function presence_message(what, chjson, meta)
  return '{"channels":[' .. chjson .. '],"presence":"' .. what .. '","meta":' .. meta .. '}'
end

-- Subscriptions that asked for "presence" on CHANNEL (jg:presence-watch:<channel>): join
-- and leave messages are sequenced only while there is one. The presence hash is kept
-- either way (snapshots, GET /presence), so a chat where nobody watches presence pays no
-- message per subscribe.
local function watched(channel)
  return (tonumber(redis.call('GET', 'jg:presence-watch:' .. channel)) or 0) > 0
end

local function watch(channel, delta)
  local key = 'jg:presence-watch:' .. channel
  if redis.call('INCRBY', key, delta) <= 0 then
    redis.call('DEL', key)
  end
end

local function presence_join(channel, chjson, sid, meta)
  if redis.call('HSETNX', 'jg:presence:' .. channel, sid, meta) == 0 then
    return
  end
  if redis.call('HINCRBY', 'jg:presence-count:' .. channel, identity(sid, meta), 1) == 1 and watched(channel) then
    sequence('P', presence_message('join', chjson, meta), {})
  end
end

local function presence_leave(channel, chjson, sid)
  local meta = redis.call('HGET', 'jg:presence:' .. channel, sid)
  if not meta then
    return
  end
  redis.call('HDEL', 'jg:presence:' .. channel, sid)
  local ckey = 'jg:presence-count:' .. channel
  local id = identity(sid, meta)
  if redis.call('HINCRBY', ckey, id, -1) <= 0 then
    redis.call('HDEL', ckey, id)
    if watched(channel) then
      sequence('P', presence_message('leave', chjson, meta), {})
    end
  end
end

-- Up to MAX entries {sid, meta, ...} of jg:presence:<channel>, and how many there are in
-- all: a subscribe with "presence" (or GET /presence) on a channel with 100,000 members
-- reads what one answer may carry, not the whole hash (HSCAN, a batch at a time).
local function presence_read(channel, max)
  local key = 'jg:presence:' .. channel
  local total = redis.call('HLEN', key)
  if total <= max then
    return redis.call('HGETALL', key), total
  end
  local out, cursor = {}, '0'
  repeat
    local r = redis.call('HSCAN', key, cursor, 'COUNT', math.min(max - #out / 2, 1000))
    cursor = r[1]
    for i = 1, #r[2], 2 do
      if #out / 2 >= max then break end
      out[#out + 1] = r[2][i]
      out[#out + 1] = r[2][i + 1]
    end
  until cursor == '0' or #out / 2 >= max
  return out, total
end

-- FCALL jg_presence 0 <channel> <max>: {total, sid1, meta1, ...} (at most MAX pairs).
local function jg_presence(keys, args)
  local p, total = presence_read(args[1], tonumber(args[2]) or 1000)
  local out = { total }
  for _, v in ipairs(p) do
    out[#out + 1] = v
  end
  return out
end

---- sessions ---------------------------------------------------------------------------
-- jg:session:<sid> holds owner, meta (JSON text, absent = none), cursor (last seq the client
-- confirmed), pend_t/pend_to/pend_ok (the last polling answer: its request's t, its highest
-- seq, whether it was written), connected (1 once "1::" went out), and one field per
-- channel, sub:<channel> = "<sub-seq> <presence 0|1> <channel as JSON>".

local function skey(sid)
  return 'jg:session:' .. sid
end

-- The value of FIELD in ALL, an HGETALL reply (nil if absent).
local function record_field(all, field)
  for i = 1, #all, 2 do
    if all[i] == field then
      return all[i + 1]
    end
  end
end

-- jg:spent:<sid>: the session ended. A signed sid is accepted by any instance for
-- handshake-expiry after its issue; once its session ended it must not come back to life
-- (a third party replaying it would get a new session under the victim's id): first use
-- wins. Kept as long as the signature is valid (jg:config spent-ttl, set by jg_beat).
local function spent_key(sid)
  return 'jg:spent:' .. sid
end

local function mark_spent(sid)
  if #sid ~= 38 then
    return   -- a plain sid (no cluster-secret) is never adopted: nothing to guard
  end
  local ttl = tonumber(redis.call('HGET', 'jg:config', 'spent-ttl')) or 120
  redis.call('SET', spent_key(sid), '1', 'EX', math.max(1, math.floor(ttl)))
end

-- The juggernaut:(un)subscribe event, byte for byte as juggernaut.c writes it.
local function channel_event(chjson, meta, sid)
  local m = ''
  if meta then
    m = ',"meta":' .. meta
  end
  return '{"channel":' .. chjson .. m .. ',"session_id":"' .. sid .. '"}'
end

local function notify(owner, me, text)
  if owner and owner ~= me then
    redis.call('PUBLISH', 'juggernaut:instance:' .. owner, text)
  end
end

-- FCALL jg_session_open 0 <sid> <owner> <ttl-ms> <adopt 0|1>: a handshake without cluster-secret (or, ADOPT,
-- a request for a sid another instance issued whose record was not there yet) creates the
-- record. A handshake never overwrites: an instance that already has the sid (the client
-- was faster than this call) keeps it. An adoption takes the record over, since the
-- adopting instance is the one serving the client.
local function jg_session_open(keys, args)
  local sid, owner = args[1], args[2]
  if redis.call('EXISTS', spent_key(sid)) == 1 then
    return -1   -- its session ended: not again (first use wins)
  end
  if args[4] == '1' then
    local old = redis.call('HGET', skey(sid), 'owner')
    if old and old ~= owner then
      redis.call('HSET', skey(sid), 'owner', owner)
      redis.call('SREM', 'jg:instance:' .. old .. ':sessions', sid)
      redis.call('SADD', 'jg:instance:' .. owner .. ':sessions', sid)
      notify(old, owner, 'drop ' .. sid .. ' ' .. redis.call('HINCRBY', skey(sid), 'gen', 1))
      redis.call('PEXPIRE', skey(sid), args[3])
      return 1
    end
  end
  if redis.call('HSETNX', skey(sid), 'owner', owner) == 0 then
    return 0
  end
  -- an adoption comes with the session's first transport request, which connects it ("1::")
  redis.call('HSET', skey(sid), 'cursor', '0', 'connected', args[4] == '1' and '1' or '0')
  redis.call('PEXPIRE', skey(sid), args[3])
  redis.call('SADD', 'jg:instance:' .. owner .. ':sessions', sid)
  return 1
end

-- FCALL jg_claim 0 <sid> <me> <t> <ttl-ms> <connects 0|1> [<polling 0|1> [<create 0|1> [<have 0|1>]]]: the request of a poll
-- (T = its "t" parameter) or a POST (T = "") arrived at ME. POLLING: the request is
-- xhr/jsonp-polling, whose client comes back through any instance: "seen" keeps the time,
-- so the session outlives a dead owner until close-timeout after it (jg_reap). Confirms the last polling answer when this GET is a new
-- one (a byte-identical retry of the request whose answer was lost is not), makes ME the
-- owner (telling the old one to let go) and returns the whole record, or nil if there is no
-- such session (CREATE: a session handshaken at ME, whose record is written now), or the
-- status SPENT if it ended (jg:spent). The reply is the HGETALL list (as it was before CONNECTS marked it
-- connected) plus "old_owner" <previous owner>; when ME owned it already and HAVE (a copy of
-- the session), only cursor, gen, connected, old_owner and "short" 1.
local function jg_claim(keys, args)
  local sid, me, t = args[1], args[2], args[3]
  local key = skey(sid)
  local old = redis.call('HGET', key, 'owner')
  local created = false
  if not old then
    if redis.call('EXISTS', spent_key(sid)) == 1 then
      return redis.status_reply('SPENT')   -- ended: an unknown session, not to be adopted
    end
    if args[7] ~= '1' then
      return nil
    end
    -- CREATE: the first request of a session handshaken at ME, or of a signed sid another
    -- instance issued (adopted); its record starts here
    redis.call('HSET', key, 'owner', me, 'cursor', '0', 'connected', '0')
    redis.call('SADD', 'jg:instance:' .. me .. ':sessions', sid)
    old = me
    created = true
  end
  if t ~= '' then
    local r = redis.call('HMGET', key, 'pend_t', 'pend_to', 'pend_ok', 'cursor')
    if r[1] and (r[1] ~= t or r[3] == '1') then
      local to, cursor = tonumber(r[2]) or 0, tonumber(r[4]) or 0
      if to > cursor then
        redis.call('HSET', key, 'cursor', r[2])
      end
      redis.call('HDEL', key, 'pend_t', 'pend_to', 'pend_ok')
    end
  end
  -- every claim gets a generation: a notice "drop" names the one that superseded the
  -- old owner, so an instance can tell a stale notice from a claim that overtook its own
  local gen = redis.call('HINCRBY', key, 'gen', 1)
  if old ~= me then
    redis.call('HSET', key, 'owner', me)
    redis.call('SREM', 'jg:instance:' .. old .. ':sessions', sid)
    redis.call('SADD', 'jg:instance:' .. me .. ':sessions', sid)
    notify(old, me, 'drop ' .. sid .. ' ' .. gen)
  end
  if args[6] == '1' then
    redis.call('HSET', key, 'seen', num(now_ms()))
  end
  redis.call('PEXPIRE', key, args[4])
  if old == me and args[8] == '1' then
    -- ME serves it already and has its copy (the usual poll): the scalars it needs, not
    -- every sub:<channel> field (up to max-subscriptions of them) on every poll
    local r = redis.call('HMGET', key, 'cursor', 'gen', 'connected')
    if args[5] == '1' then
      redis.call('HSET', key, 'connected', '1')
    end
    return { 'cursor', r[1] or '0', 'gen', r[2] or '0', 'connected', r[3] or '0', 'old_owner', me, 'short', '1' }
  end
  local all = redis.call('HGETALL', key)
  all[#all + 1] = 'old_owner'
  all[#all + 1] = old
  if created then
    all[#all + 1] = 'created'
    all[#all + 1] = '1'
  end
  if args[5] == '1' then
    redis.call('HSET', key, 'connected', '1')
  end
  return all
end

-- FCALL jg_pend 0 <sid> <me> <t> <to>: records, before it is written, the polling answer to
-- the request T carrying messages up to seq TO. Fenced: 0 if ME no longer owns the session,
-- -1 if there is no record (Redis lost its data).
local function jg_pend(keys, args)
  local key = skey(args[1])
  local owner = redis.call('HGET', key, 'owner')
  if not owner then
    return -1
  end
  if owner ~= args[2] then
    return 0
  end
  redis.call('HSET', key, 'pend_t', args[3], 'pend_to', args[4], 'pend_ok', '0')
  return 1
end

-- FCALL jg_touch 0 <sid> <me> <cursor> <ttl-ms>: a streaming session's delivery cursor and
-- the record's lifetime. 0 if ME no longer owns it.
local function jg_touch(keys, args)
  local key = skey(args[1])
  if redis.call('HGET', key, 'owner') ~= args[2] then
    return 0
  end
  local cursor = tonumber(redis.call('HGET', key, 'cursor')) or 0
  if (tonumber(args[3]) or 0) > cursor then
    redis.call('HSET', key, 'cursor', args[3])
  end
  redis.call('PEXPIRE', key, args[4])
  return 1
end

-- FCALL jg_subscribe 0 <sid> <me> <channel> <chjson> <presence 0|1> [<from>]: records the subscription, publishes
-- juggernaut:subscribe and joins presence. Returns {sub-seq, new (0|1)}. If another
-- instance owns the session now, it is told to subscribe its copy.
local function jg_subscribe(keys, args)
  local sid, me, channel, chjson, presence = args[1], args[2], args[3], args[4], args[5]
  local key = skey(sid)
  local r = redis.call('HMGET', key, 'owner', 'meta', 'sub:' .. channel)
  if not r[1] then
    return { '0', 0 }
  end
  -- never 0, even before the first message: an instance taking the session over reads a
  -- subscription at 0 (with no cursor) as nothing to replay, and would skip the first ones
  local cur = last_seq()
  if r[3] then
    return { cur, 0 }
  end
  -- FROM: where the instance's copy began delivering (its last applied seq when the client
  -- subscribed). Messages after it reach the copy live, so the record must start there
  -- too, or a copy that moves before delivering them would leave them to nobody.
  local from = tonumber(args[6]) or 0
  if from > 0 and from < (tonumber(cur) or 0) then
    cur = args[6]
  end
  redis.call('HSET', key, 'sub:' .. channel, cur .. ' ' .. presence .. ' ' .. chjson)
  redis.call('PUBLISH', 'juggernaut:subscribe', channel_event(chjson, r[2], sid))
  if presence == '1' then
    watch(channel, 1)
  end
  presence_join(channel, chjson, sid, r[2] or 'null')
  notify(r[1], me, 'sub ' .. sid .. ' ' .. cur .. ' ' .. presence .. ' ' .. channel)
  return { cur, 1 }
end

-- KEY: the session record to delete the subscription from (nil when the whole record goes).
local function drop_sub(sid, key, channel, field_value, meta)
  local presence, chjson = string.match(field_value, '^%S+ (%S+) (.*)$')
  if key then
    redis.call('HDEL', key, 'sub:' .. channel)
  end
  redis.call('PUBLISH', 'juggernaut:unsubscribe', channel_event(chjson, meta, sid))
  presence_leave(channel, chjson, sid)
  if presence == '1' then
    watch(channel, -1)
  end
end

-- FCALL jg_unsubscribe 0 <sid> <me> <channel>: returns 1 if the session was subscribed.
local function jg_unsubscribe(keys, args)
  local sid, me, channel = args[1], args[2], args[3]
  local key = skey(sid)
  local r = redis.call('HMGET', key, 'owner', 'meta', 'sub:' .. channel)
  if not r[3] then
    return 0
  end
  drop_sub(sid, key, channel, r[3], r[2])
  notify(r[1], me, 'unsub ' .. sid .. ' ' .. channel)
  return 1
end

-- FCALL jg_meta 0 <sid> <me> <meta-json | "">: the session's meta ("" = none).
local function jg_meta(keys, args)
  local sid, me = args[1], args[2]
  local key = skey(sid)
  local owner = redis.call('HGET', key, 'owner')
  if not owner then
    return 0
  end
  if args[3] == '' then
    redis.call('HDEL', key, 'meta')
  else
    redis.call('HSET', key, 'meta', args[3])
  end
  notify(owner, me, 'meta ' .. sid .. ' ' .. args[3])
  return 1
end

-- Ends SID: one juggernaut:unsubscribe per channel, presence left, record deleted. ALL: its
-- record (HGETALL), when the caller has read it.
local function end_session(sid, owner, all)
  local key = skey(sid)
  all = all or redis.call('HGETALL', key)
  local meta = record_field(all, 'meta')
  for i = 1, #all, 2 do
    local channel = string.match(all[i], '^sub:(.*)$')
    if channel then
      drop_sub(sid, nil, channel, all[i + 1], meta)
    end
  end
  redis.call('DEL', key)
  redis.call('SREM', 'jg:instance:' .. owner .. ':sessions', sid)
  mark_spent(sid)
end

-- FCALL jg_end 0 <sid> <me>: ME ends the session; nothing happens (0) if it moved.
local function jg_end(keys, args)
  local all = redis.call('HGETALL', skey(args[1]))
  if record_field(all, 'owner') ~= args[2] then
    redis.call('SREM', 'jg:instance:' .. args[2] .. ':sessions', args[1])
    return 0
  end
  end_session(args[1], args[2], all)
  return 1
end

-- FCALL jg_reap 0 <id> [<close-ms> <budget>]: if instance ID's heartbeat is gone, ends the
-- sessions it still owns (their events and presence leaves, which it never sent) and, once
-- none is left, forgets it. A polling session whose last request ("seen") is younger than
-- CLOSE-MS is left alone: its client comes back through another instance within
-- close-timeout and takes it over; it is ended by a later call if it does not. At most
-- BUDGET sessions are looked at per call (SSCAN, the cursor kept in jg:reap-cursor:<id>),
-- so neither Redis nor the caller stalls on a big instance. Atomic, so the survivors that
-- all try it end each session once. Returns {ended, more}: MORE is 1 when the budget ran
-- out before the end of a pass (call again now), or -1 as ENDED if ID is alive.
local function jg_reap(keys, args)
  local id = args[1]
  if redis.call('EXISTS', 'jg:instance:' .. id) == 1 then
    return { -1, 0 }
  end
  local close_ms = tonumber(args[2]) or 0
  local budget = tonumber(args[3]) or 1000
  local set = 'jg:instance:' .. id .. ':sessions'
  local ckey = 'jg:reap-cursor:' .. id
  local cursor = redis.call('GET', ckey) or '0'
  local now = now_ms()
  local n, looked = 0, 0
  repeat
    local r = redis.call('SSCAN', set, cursor, 'COUNT', budget - looked)
    cursor = r[1]
    for _, sid in ipairs(r[2]) do
      looked = looked + 1
      local rec = redis.call('HMGET', skey(sid), 'owner', 'seen')
      if rec[1] ~= id then
        redis.call('SREM', set, sid)   -- moved to another instance, or gone
      elseif not rec[2] or now - (tonumber(rec[2]) or 0) >= close_ms then
        end_session(sid, id)
        n = n + 1
      end
    end
  until cursor == '0' or looked >= budget
  if cursor ~= '0' then
    redis.call('SET', ckey, cursor, 'PX', 60000)
    return { n, 1 }
  end
  redis.call('DEL', ckey)
  if redis.call('SCARD', set) == 0 then
    redis.call('DEL', set)
    redis.call('SREM', 'jg:instances', id)
  end
  return { n, 0 }
end

-- FCALL jg_reap_dead 0 <me> [<close-ms> <budget>]: jg_reap for every known instance but ME
-- whose heartbeat is gone, within one BUDGET in all. Returns {ended, more}.
local function jg_reap_dead(keys, args)
  local n, more = 0, 0
  local budget = tonumber(args[3]) or 1000
  for _, id in ipairs(redis.call('SMEMBERS', 'jg:instances')) do
    if id ~= args[1] then
      local r = jg_reap(keys, { id, args[2], tostring(budget) })
      if r[1] > 0 then
        n = n + r[1]
      end
      if r[2] == 1 then
        more = 1
        break
      end
    end
  end
  return { n, more }
end

---- history and presence reads ---------------------------------------------------------

-- One item of a history list: seq, t (ms), p (the channel's previous seq), json.
local function history_item(item)
  local seq, t, p, at = string.match(item, '^(%d+) (%d+) (%d+) ()')
  return seq, tonumber(t), p, string.sub(item, at or 1)
end

-- Entries {seq, t, text} of the history stream a version before lists wrote
-- (jg:history:<channel>, fields m and t), XRANGE FROM..TO (XREVRANGE if REV, still
-- returned oldest first), at most MAX.
local function stream_entries(channel, from, to, max, rev)
  local key = 'jg:history:' .. channel
  local r = rev and redis.call('XREVRANGE', key, to, from, 'COUNT', max) or
      redis.call('XRANGE', key, from, to, 'COUNT', max)
  local out = {}
  for k = 1, #r do
    local e = r[rev and #r + 1 - k or k]
    local f, text, t = e[2], nil, nil
    for i = 1, #f, 2 do
      if f[i] == 'm' then text = f[i + 1] elseif f[i] == 't' then t = tonumber(f[i + 1]) end
    end
    if text then
      out[#out + 1] = { string.match(e[1], '^(%d+)'), t, text }
    end
  end
  return out
end

-- History of CHANNEL after seq SINCE, oldest first ({seq, t, text}, at most
-- MAX_HISTORY_REPLY), true if some of what followed SINCE is gone, and the floor it was
-- judged by (the highest seq trimmed). SEQ_NOW: jg:seq. USE_HORIZON: the channel keeps
-- history, so if the lasts do not know it, it had no message after their horizon.
local function history_since(channel, since, seq_now, use_horizon)
  local s = tonumber(since)
  local items = redis.call('LRANGE', 'jg:history-list:' .. channel, 0, -1)
  local out, floor = {}, nil
  if #items > 0 then
    local _, _, p = history_item(items[1])
    floor = p and tonumber(p)   -- everything up to the oldest item's predecessor was trimmed...
  end
  if not floor or s < floor then
    -- ...unless a version before lists still holds it in a stream (floor: its meta hash)
    local m = redis.call('HMGET', 'jg:history-meta:' .. channel, 'floor', 'last')
    if redis.call('EXISTS', 'jg:history:' .. channel) == 1 then
      out = stream_entries(channel, '(' .. since .. '-0', floor and (num(floor) .. '-0') or '+', MAX_HISTORY_REPLY)
      floor = tonumber(m[1]) or 0
    elseif not floor then
      -- the list expired whole, or there never was one: the channel's newest seq is the floor
      local now = now_ms()
      local last = tonumber(history_lasts_get(channel, now))
      if not last then
        -- versions before the lasts kept it in a key of their own; the horizon bounds it
        for _, v in ipairs({ redis.call('GET', 'jg:history-last:' .. channel) or '0', m[2] or '0',
                             use_horizon and history_horizon(now) or '0' }) do
          if tonumber(v) > 0 then
            last = math.max(last or 0, tonumber(v))
          end
        end
      end
      if last then
        floor = last
      elseif s < tonumber(seq_now) then
        floor = tonumber(seq_now)   -- nothing known about this channel: cannot vouch for it
      else
        floor = 0
      end
    end
  end
  for _, item in ipairs(items) do
    if #out >= MAX_HISTORY_REPLY then
      break
    end
    local seq, t, _, text = history_item(item)
    if seq and tonumber(seq) > s then
      out[#out + 1] = { seq, t, text }
    end
  end
  return out, s < floor, floor
end

-- The last COUNT messages of CHANNEL's history ({seq, t, text}, oldest first).
local function history_last(channel, count)
  local n = math.min(count, MAX_HISTORY_REPLY)
  local items = redis.call('LRANGE', 'jg:history-list:' .. channel, -n, -1)
  local out = {}
  if #items < n and redis.call('EXISTS', 'jg:history:' .. channel) == 1 then
    local to = '+'
    if #items > 0 then
      local _, _, p = history_item(items[1])
      to = (p or '0') .. '-0'
    end
    out = stream_entries(channel, '-', to, n - #items, true)
  end
  for _, item in ipairs(items) do
    local seq, t, _, text = history_item(item)
    if seq then
      out[#out + 1] = { seq, t, text }
    end
  end
  return out
end

-- FCALL jg_history 0 <channel> [<since> [<limit>]]: the channel's history after seq SINCE (0:
-- all of it), oldest first, at most LIMIT (and 1,000) messages, for publishers and tools
-- (the Ruby client's Juggernaut.history), whatever the storage: {floor, seq1, json1, ...}.
-- FLOOR is the highest seq at or below which messages may be gone: a SINCE below it has lost
-- messages or cannot be vouched for (0: none trimmed, or a channel nothing is known of).
local function jg_history(keys, args)
  local channel, since = args[1], args[2] or '0'
  if not channel or not string.match(since, '^%d+$') then
    return redis.error_reply('ERR jg_history: <channel> [<since seq> [<limit>]]')
  end
  local limit = math.min(tonumber(args[3]) or MAX_HISTORY_REPLY, MAX_HISTORY_REPLY)
  local entries, _, floor = history_since(channel, since, '0', false)
  local out = { num(floor) }
  for i = 1, math.min(#entries, limit) do
    out[#out + 1] = entries[i][1]
    out[#out + 1] = entries[i][3]
  end
  return out
end

-- FCALL jg_backfill 0 <channel> <since | ""> <count | 0> <presence 0|1> <max-age-s> [<max-presence>]:
-- what a subscribe asked to catch up on, consistent with one point of the sequence.
-- Returns {seq-now, trimmed (0|1), {seq, text}..., presence {sid, meta}...} as
-- {seq-now, trimmed, nhist, s1, m1, ..., npres, sid1, meta1, ..., presence-total} (npres at
-- most MAX-PRESENCE; presence-total only when presence was asked for).
local function jg_backfill(keys, args)
  local channel, since, count, want_presence = args[1], args[2], tonumber(args[3]) or 0, args[4] == '1'
  local out = { redis.call('GET', 'jg:seq') or '0', 0, 0 }
  local cfg = redis.call('HGET', 'jg:config', 'history')
  local keeps, age = history_rule(cfg, channel)
  local oldest_ok = (age > 0) and (now_ms() - age * 1000) or 0
  local entries = {}
  if since ~= '' then
    local trimmed
    entries, trimmed = history_since(channel, since, out[1], keeps > 0)
    if trimmed then
      out[2] = 1
    end
  elseif count > 0 then
    entries = history_last(channel, count)
  end
  local n = 0
  for _, e in ipairs(entries) do
    if e[2] and e[2] < oldest_ok then
      out[2] = 1   -- too old by age: it counts as trimmed
    else
      out[#out + 1] = e[1]
      out[#out + 1] = e[3]
      n = n + 1
    end
  end
  out[3] = n
  if want_presence then
    local p, total = presence_read(channel, tonumber(args[6]) or 1000)
    out[#out + 1] = #p / 2
    for _, v in ipairs(p) do
      out[#out + 1] = v
    end
    out[#out + 1] = total
  else
    out[#out + 1] = 0
  end
  return out
end

redis.register_function('jg_publish', jg_publish)
redis.register_function('jg_sequence', jg_sequence)
redis.register_function('jg_sequence_batch', jg_sequence_batch)
redis.register_function('jg_sequence_packed', jg_sequence_packed)
redis.register_function('jg_lease', jg_lease)
redis.register_function('jg_beat', jg_beat)
redis.register_function('jg_release', jg_release)
redis.register_function('jg_session_open', jg_session_open)
redis.register_function('jg_claim', jg_claim)
redis.register_function('jg_pend', jg_pend)
redis.register_function('jg_touch', jg_touch)
redis.register_function('jg_subscribe', jg_subscribe)
redis.register_function('jg_unsubscribe', jg_unsubscribe)
redis.register_function('jg_meta', jg_meta)
redis.register_function('jg_end', jg_end)
redis.register_function('jg_reap', jg_reap)
redis.register_function('jg_reap_dead', jg_reap_dead)
redis.register_function('jg_backfill', jg_backfill)
redis.register_function('jg_history', jg_history)
redis.register_function('jg_presence', jg_presence)
