"""The Redis job store's Lua scripts: each store operation is one script, so it runs as
one atomic step on the server and two claimers can never take the same job.

Every script gets the same first five arguments (prefix, the injected clock's "now" or
"" for the server's time, the TTLs of a finished job's record and of its PNGs, how long
events are kept), then its own (`A`). Times are floats written in full (Python's
`repr`, Lua's `%.17g`), never with Lua's `tostring`, which would round them to 14 digits.

Keys, under the prefix:
- `jobs`: a stream with one entry per unfinished job and the consumer group `workers`.
  An entry's place in the group's pending list says who holds the job: consumer
  `w:<worker id>` while it runs, `queued` while it waits for another attempt; its delivery
  count is the job's attempt counter. A finished job's entry is acknowledged and deleted.
- `job:<id>`: a hash with the job's fields; it expires `job_ttl` after the job finishes.
- `result:<id>`: a list of PNGs (grid first); `source:<id>`: an img2img job's starting
  image. Both expire `png_ttl` after the job finishes.
- `queue` and `queue:<batch key>`: sorted sets of the queued jobs, scored by the time
  they were queued; members are `<12-digit enqueue number>:<id>`, so jobs queued at the
  same instant keep their enqueue order.
- `leases`: a sorted set of the running jobs' ids scored by lease expiry (clock time).
- `fair:guilds`: a set of the servers with queued jobs; `fair:users:<guild>` a set of
  that server's members with queued jobs; `fair:queue:<guild>:<user>` a sorted set of one
  member's queued jobs (members and scores as in `queue`); `fair:served` a hash of the
  sequence number (`fair:seq`) of the last claim for each server (`g:<guild>`) and each
  member (`u:<guild>:<user>`). They give claims their fair order (core/store/fairness.py).
- `events`: a stream with ids `0-<seq>`, pruned by age as new events arrive.
- `finished`: a hash counting the jobs that ever finished, by state (for metrics).
"""

PRELUDE = r"""
local P, NOW, JOB_TTL, PNG_TTL, RETENTION = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local A = {unpack(ARGV, 6)}  -- the script's own arguments
if NOW == '' then  -- no injected clock: the server's, the one clock every host shares
  local time = redis.call('TIME')
  NOW = time[1] .. '.' .. string.format('%06d', tonumber(time[2]))
end
local GROUP, QUEUED_CONSUMER = 'workers', 'queued'
local JOBS, QUEUE, LEASES, EVENTS = P .. 'jobs', P .. 'queue', P .. 'leases', P .. 'events'

local function jkey(id) return P .. 'job:' .. id end
-- NOW plus `seconds`, written with all 17 digits so it reads back as the same float.
local function later(seconds) return string.format('%.17g', tonumber(NOW) + tonumber(seconds)) end
local function id_of(member) return string.sub(member, 14) end

local function event(id, kind, step, total)
  redis.call('XADD', EVENTS, '0-*', 'job', id, 'kind', kind, 'at', NOW,
    'step', step or '0', 'total', total or '0')
  -- Drop up to two events older than the retention: the stream never outgrows it.
  local cutoff = tonumber(NOW) - tonumber(RETENTION)
  for _, old in ipairs(redis.call('XRANGE', EVENTS, '-', '+', 'COUNT', 2)) do
    if tonumber(old[2][6]) >= cutoff then break end
    redis.call('XDEL', EVENTS, old[1])
  end
end

-- The consumer holding the job's stream entry, and its delivery count (the attempts).
local function pending(entry)
  local found = redis.call('XPENDING', JOBS, GROUP, entry, entry, 1)[1]
  if found then return found[2], found[4] end
  return nil, 0
end

-- Consumers holding nothing are removed, so the group lists only workers with jobs.
local function forget_if_idle(consumer)
  if #redis.call('XPENDING', JOBS, GROUP, '-', '+', 1, consumer) == 0 then
    redis.call('XGROUP', 'DELCONSUMER', JOBS, GROUP, consumer)
  end
end

-- Hands the entry to `consumer`, setting its delivery count to `attempts`.
local function move(entry, consumer, attempts)
  local from = pending(entry)
  redis.call('XCLAIM', JOBS, GROUP, consumer, 0, entry, 'RETRYCOUNT', attempts, 'FORCE', 'JUSTID')
  if from and from ~= consumer then forget_if_idle(from) end
end

-- The job's stream entry if `worker` holds its lease right now, else nil.
local function owned(id, worker)
  local entry = redis.call('HGET', jkey(id), 'entry')
  if entry and pending(entry) == 'w:' .. worker then return entry end
  return nil
end

-- The job as a JSON object (the hash, plus owner, attempts and lease while it lives), or
-- false when there is no such job. One string parses far faster than a field list.
local function job(id)
  local flat = redis.call('HGETALL', jkey(id))
  if #flat == 0 then return false end
  local fields = {}
  for i = 1, #flat, 2 do fields[flat[i]] = flat[i + 1] end
  if fields.state == 'queued' or fields.state == 'running' then
    local consumer, attempts = pending(fields.entry)
    fields.attempts = tostring(attempts)
    if fields.state == 'running' then
      fields.lease_owner = string.sub(consumer, 3)
      fields.lease_expires = redis.call('ZSCORE', LEASES, id) or nil
    end
  end
  return cjson.encode(fields)
end

local function set_error(k, err)
  if err then redis.call('HSET', k, 'error', err) else redis.call('HDEL', k, 'error') end
end

local FAIR_GUILDS, SERVED = P .. 'fair:guilds', P .. 'fair:served'
local function fair_users(g) return P .. 'fair:users:' .. g end
local function fair_queue(g, u) return P .. 'fair:queue:' .. g .. ':' .. u end
local function owner(member)
  return unpack(redis.call('HMGET', jkey(id_of(member)), 'guild_id', 'user_id'))
end

local function queue_add(member, key, score)
  redis.call('ZADD', QUEUE, score, member)
  redis.call('ZADD', QUEUE .. ':' .. key, score, member)
  local g, u = owner(member)
  redis.call('ZADD', fair_queue(g, u), score, member)
  redis.call('SADD', fair_users(g), u)
  redis.call('SADD', FAIR_GUILDS, g)
end

local function queue_remove(member, key)
  redis.call('ZREM', QUEUE, member)
  redis.call('ZREM', QUEUE .. ':' .. key, member)
  local g, u = owner(member)
  if redis.call('ZREM', fair_queue(g, u), member) == 1
      and redis.call('EXISTS', fair_queue(g, u)) == 0 then
    redis.call('SREM', fair_users(g), u)
    if redis.call('EXISTS', fair_users(g)) == 0 then redis.call('SREM', FAIR_GUILDS, g) end
  end
end

local function finish(id, state, err)
  local k = jkey(id)
  local entry, member, key = unpack(redis.call('HMGET', k, 'entry', 'member', 'batch_key'))
  local consumer, attempts = pending(entry)
  -- The entry leaves the pending list, and its delivery count with it: keep the count.
  redis.call('HSET', k, 'state', state, 'finished_at', NOW, 'attempts', attempts)
  set_error(k, err)
  queue_remove(member, key)
  redis.call('ZREM', LEASES, id)
  redis.call('XACK', JOBS, GROUP, entry)
  redis.call('XDEL', JOBS, entry)
  if consumer then forget_if_idle(consumer) end
  redis.call('EXPIRE', k, JOB_TTL)
  redis.call('EXPIRE', P .. 'result:' .. id, PNG_TTL)
  redis.call('EXPIRE', P .. 'source:' .. id, PNG_TTL)
  redis.call('HINCRBY', P .. 'finished', state, 1)
  event(id, state)
end

-- Queues the job again: at the back after a failed attempt (`to_back`), in its old place
-- when a stopping worker gave it back. `attempts` becomes its delivery count.
local function requeue(id, err, to_back, attempts)
  local k = jkey(id)
  local entry, member, key, queued_at =
    unpack(redis.call('HMGET', k, 'entry', 'member', 'batch_key', 'queued_at'))
  if to_back then queued_at = NOW end
  redis.call('HSET', k, 'state', 'queued', 'step', '0', 'queued_at', queued_at)
  set_error(k, err)
  redis.call('ZREM', LEASES, id)
  move(entry, QUEUED_CONSUMER, attempts)
  queue_add(member, key, queued_at)
  event(id, 'requeued')
end
"""

# The fair order's helpers (core/store/fairness.py), for the scripts that need them.
FAIR = r"""
local function served(field) return tonumber(redis.call('HGET', SERVED, field) or '0') end

-- Lexicographic `a < b` for lists of the same length and kinds.
local function before(a, b)
  for i = 1, #a do
    if a[i] ~= b[i] then return a[i] < b[i] end
  end
  return false
end

local function candidate(member, score)
  local id = id_of(member)
  local g, u, images, key =
    unpack(redis.call('HMGET', jkey(id), 'guild_id', 'user_id', 'images', 'batch_key'))
  return {member = member, score = tonumber(score), g = g, u = u,
    images = tonumber(images), key = key}
end

-- The 64 oldest queued jobs of batch `key`, but `first`.
local function batch_candidates(key, first)
  local found, flat = {}, redis.call('ZRANGE', QUEUE .. ':' .. key, 0, 63, 'WITHSCORES')
  for i = 1, #flat, 2 do
    if flat[i] ~= first then table.insert(found, candidate(flat[i], flat[i + 1])) end
  end
  return found
end

-- Removes and returns the fair pick among `cands` with at most `left` images (nil: any):
-- the server served longest ago (then the oldest job), its member likewise, then that
-- member's oldest job; the server and the member are marked served.
local function take_fair(cands, left)
  local guild_oldest, member_oldest = {}, {}
  local function fits(c) return not left or c.images <= left end
  for _, c in ipairs(cands) do
    if fits(c) then
      local own, m = {c.score, c.member}, c.g .. ':' .. c.u
      if not guild_oldest[c.g] or before(own, guild_oldest[c.g]) then guild_oldest[c.g] = own end
      if not member_oldest[m] or before(own, member_oldest[m]) then member_oldest[m] = own end
    end
  end
  local best, best_order = nil, nil
  for i, c in ipairs(cands) do
    if fits(c) then
      local m = c.g .. ':' .. c.u
      local go, mo = guild_oldest[c.g], member_oldest[m]
      local order = {served('g:' .. c.g), go[1], go[2], served('u:' .. m), mo[1], mo[2],
        c.score, c.member}
      if not best or before(order, best_order) then best, best_order = i, order end
    end
  end
  if not best then return nil end
  local picked = table.remove(cands, best)
  local seq = redis.call('INCR', P .. 'fair:seq')
  redis.call('HSET', SERVED, 'g:' .. picked.g, seq, 'u:' .. picked.g .. ':' .. picked.u, seq)
  return picked
end

-- Jobs claimed before the `rank`-th job of flow `mine` if flows take turns.
local function ahead(rank, mine, others)
  local total = rank
  for _, other in ipairs(others) do
    local turns = rank
    if before(other.order, mine.order) then turns = rank + 1 end
    total = total + math.min(turns, other.waiting)
  end
  return total
end
"""

ENQUEUE = r"""
local id, key, images, source = A[1], A[2], A[3], A[4]
local k = jkey(id)
if redis.call('EXISTS', k) == 0 then
  if source ~= '' then redis.call('SET', P .. 'source:' .. id, source) end
  local member = string.format('%012d:%s', redis.call('INCR', P .. 'enqueued'), id)
  local entry = redis.call('XADD', JOBS, '*', 'job', id)
  redis.call('HSET', k, unpack(A, 5))
  redis.call('HSET', k, 'state', 'queued', 'created_at', NOW, 'queued_at', NOW,
    'member', member, 'entry', entry, 'batch_key', key, 'images', images,
    'step', '0', 'total_steps', '0', 'gpu_seconds', '0', 'cancel_requested', '0')
  queue_add(member, key, NOW)
  event(id, 'queued')
end
return job(id)
"""

CLAIM = r"""
local worker, max_images, lease_expires, gave_up = A[1], tonumber(A[2]), later(A[3]), A[4]

-- Leases that ran out: the job is canceled if that was asked,
-- failed once its attempts are used up, else queued again at the back.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', LEASES, '-inf', '(' .. NOW)) do
  local entry, max_attempts, cancel =
    unpack(redis.call('HMGET', jkey(id), 'entry', 'max_attempts', 'cancel_requested'))
  local _, attempts = pending(entry)
  if cancel == '1' then
    finish(id, 'canceled', false)
  elseif attempts >= tonumber(max_attempts) then
    finish(id, 'failed', gave_up)
  else
    requeue(id, false, true, attempts)
  end
end

-- The next job: a fair pick among each waiting member's oldest job.
local heads = {}
for _, g in ipairs(redis.call('SMEMBERS', FAIR_GUILDS)) do
  for _, u in ipairs(redis.call('SMEMBERS', fair_users(g))) do
    local head = redis.call('ZRANGE', fair_queue(g, u), 0, 0, 'WITHSCORES')
    table.insert(heads, candidate(head[1], head[2]))
  end
end
local first = take_fair(heads, nil)
if not first then return {} end
local key = first.key

-- Companions: fair picks among the 64 oldest jobs with the same batch key, while
-- their images fit.
local chosen, left, others = {first.member}, max_images - first.images, {}
for _, found in ipairs(batch_candidates(key, first.member)) do table.insert(others, found) end
while left > 0 do
  local companion = take_fair(others, left)
  if not companion then break end
  table.insert(chosen, companion.member)
  left = left - companion.images
end

local claimed = {}
for _, member in ipairs(chosen) do
  local id = id_of(member)
  local entry = redis.call('HGET', jkey(id), 'entry')
  local _, attempts = pending(entry)
  redis.call('HSET', jkey(id), 'state', 'running', 'started_at', NOW, 'step', '0')
  queue_remove(member, key)
  redis.call('ZADD', LEASES, lease_expires, id)
  move(entry, 'w:' .. worker, attempts + 1)
  event(id, 'started')
  table.insert(claimed, job(id))
end
return claimed
"""

HEARTBEAT = r"""
local id, worker, step, total, lease_expires = A[1], A[2], A[3], A[4], later(A[5])
if not owned(id, worker) then return 'lost' end
local k = jkey(id)
redis.call('ZADD', LEASES, lease_expires, id)
local old_step, old_total, cancel =
  unpack(redis.call('HMGET', k, 'step', 'total_steps', 'cancel_requested'))
if old_step ~= step or old_total ~= total then
  redis.call('HSET', k, 'step', step, 'total_steps', total)
  event(id, 'progress', step, total)
end
if cancel == '1' then return 'cancel' end
return 'held'
"""

COMPLETE = r"""
local id, worker, gpu_seconds = A[1], A[2], A[3]
if not owned(id, worker) then return 0 end
local rk = P .. 'result:' .. id
redis.call('DEL', rk)
redis.call('RPUSH', rk, unpack(A, 4))
redis.call('HSET', jkey(id), 'gpu_seconds', gpu_seconds)
finish(id, 'done', false)
return 1
"""

FAIL = r"""
local id, worker, err, retry = A[1], A[2], A[3], A[4] == '1'
local entry = owned(id, worker)
if not entry then return 0 end
local max_attempts, cancel =
  unpack(redis.call('HMGET', jkey(id), 'max_attempts', 'cancel_requested'))
local _, attempts = pending(entry)
if cancel == '1' then
  finish(id, 'canceled', false)
elseif retry and attempts < tonumber(max_attempts) then
  requeue(id, err, true, attempts)
else
  finish(id, 'failed', err)
end
return 1
"""

RELEASE = r"""
local id, worker = A[1], A[2]
local entry = owned(id, worker)
if not entry then return 0 end
local _, attempts = pending(entry)
requeue(id, false, false, attempts - 1)
return 1
"""

CANCEL = r"""
local id = A[1]
local state = redis.call('HGET', jkey(id), 'state')
if state == 'queued' then
  finish(id, 'canceled', false)
elseif state == 'running' then
  redis.call('HSET', jkey(id), 'cancel_requested', '1')
end
return job(id)
"""

GET = r"""
return job(A[1])
"""

POSITION = r"""
local member, state = unpack(redis.call('HMGET', jkey(A[1]), 'member', 'state'))
if state ~= 'queued' then return -1 end
local g, u = owner(member)
local rank = redis.call('ZRANK', fair_queue(g, u), member)

-- Every server and, in this job's server, every member with queued jobs, as flows.
local guilds, members, my_guild, my_member = {}, {}, nil, nil
for _, h in ipairs(redis.call('SMEMBERS', FAIR_GUILDS)) do
  local oldest, waiting = nil, 0
  for _, v in ipairs(redis.call('SMEMBERS', fair_users(h))) do
    local q = fair_queue(h, v)
    local head = redis.call('ZRANGE', q, 0, 0, 'WITHSCORES')
    local n = redis.call('ZCARD', q)
    local head_order = {tonumber(head[2]), head[1]}
    if not oldest or before(head_order, oldest) then oldest = head_order end
    waiting = waiting + n
    if h == g then
      local flow = {order = {served('u:' .. h .. ':' .. v), head_order[1], head_order[2]}, waiting = n}
      if v == u then my_member = flow else table.insert(members, flow) end
    end
  end
  local flow = {order = {served('g:' .. h), oldest[1], oldest[2]}, waiting = waiting}
  if h == g then my_guild = flow else table.insert(guilds, flow) end
end
return ahead(ahead(rank, my_member, members), my_guild, guilds)
"""

SCRIPTS = {
    "enqueue": ENQUEUE,
    "claim": FAIR + CLAIM,
    "heartbeat": HEARTBEAT,
    "complete": COMPLETE,
    "fail": FAIL,
    "release": RELEASE,
    "cancel": CANCEL,
    "get": GET,
    "position": FAIR + POSITION,
}
