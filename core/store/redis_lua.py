"""The Redis job store's Lua scripts: each store operation is one script, so it runs as
one atomic step on the server and two claimers can never take the same job.

Every script gets the same first four arguments (prefix, the injected clock's "now" or
"" for the server's time, how many whole seconds a finished job is kept, how long events
are kept), then its own (`A`). Times are floats written in full (Python's
`repr`, Lua's `%.17g`), never with Lua's `tostring`, which would round them to 14 digits.

Keys, under the prefix:
- `jobs`: a stream with one entry per unfinished job and the consumer group `workers`.
  An entry's place in the group's pending list says who holds the job: consumer
  `w:<worker id>` while it runs, `queued` while it waits for another attempt; its delivery
  count is the job's attempt counter. A finished job's entry is acknowledged and deleted.
- `job:<id>`: a hash with the job's fields; `result:<id>`: a list of PNGs (grid first);
  `source:<id>`: an img2img job's starting image. All three get the same lifetime, the
  retention (`KEEP`), in the script that finishes the job, so they expire together.
- `preview:<id>`: a hash (step, image) with a running job's newest preview; deleted when
  the job finishes or is queued again, and expiring `KEEP` after it was written.
- `finished:at`: a sorted set of finished job ids by when they finished. A purge (and
  every finishing job, two at a time) deletes the keys of those past the retention by
  the store's clock, so an injected clock purges as the server's TTLs would.
- `asset:<name>`: named blobs shared between processes (CLIP's vocabulary); no TTL.
- `queue`: a sorted set of every queued job, oldest first; `queue:u:<guild>:<user>`,
  `queue:u:<guild>:<user>:<batch key>` and `queue:u:<guild>:<user>:m:<model>` the same
  for one member (and one batch, or one model: a worker claims only its models'). Scores
  are the times jobs were queued; members are `<enqueue number>:<images>:<steps>:<id>`
  (the number 12 digits wide), so jobs queued at the same instant keep their enqueue
  order and a scan needs no other lookup.
- `guilds`, `users:<guild>`: sets of the servers, and of each server's members, with
  queued jobs; `served`, `served:guilds`, `served:users`: when each was last served
  (a counter), for the fair turns of core/store/fairness.py.
- `leases`: a sorted set of the running jobs' ids scored by lease expiry.
- `jobs:<guild>` and `jobs:<guild>:<user>`: every job by creation time, for listings.
- `events`: a stream with ids `0-<seq>`, pruned by age as new events arrive.
- `workers`: a sorted set of worker ids by when each was last seen; `worker:models`: a
  hash of the models each holds (comma-separated).
- `models:indexed`: set once every queued job is in its model's queue (jobs queued
  before there were models are added by the first claim that finds it missing).
- `speeds`: GPU seconds per image-step of the latest finished jobs.
- `finished`: a hash counting the jobs that ever finished, by state (for metrics).
"""

PRELUDE = r"""
local P, NOW, KEEP, RETENTION = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local A = {unpack(ARGV, 5)}  -- the script's own arguments
if NOW == '' then  -- no injected clock: the server's, the one clock every host shares
  local time = redis.call('TIME')
  NOW = time[1] .. '.' .. string.format('%06d', tonumber(time[2]))
end
local GROUP, QUEUED_CONSUMER = 'workers', 'queued'
local JOBS, QUEUE, LEASES, EVENTS = P .. 'jobs', P .. 'queue', P .. 'leases', P .. 'events'
local FINISHED_AT = P .. 'finished:at'
local ENDED = {done = true, failed = true, canceled = true}

local function jkey(id) return P .. 'job:' .. id end
-- NOW plus `seconds`, written with all 17 digits so it reads back as the same float.
local function later(seconds) return string.format('%.17g', tonumber(NOW) + tonumber(seconds)) end

-- A queue member's parts: enqueue number, images, steps, job id.
local function parts(member)
  local order, images, steps, id = string.match(member, '^(%d+):(%d+):(%d+):(.*)$')
  return tonumber(order), tonumber(images), tonumber(steps), id
end
local function id_of(member) return select(4, parts(member)) end

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

local function member_queue(guild, user) return QUEUE .. ':u:' .. guild .. ':' .. user end

local function model_queue(guild, user, model)
  return member_queue(guild, user) .. ':m:' .. model
end

-- The job's queue member and the sorted sets it is queued in. A job without a model
-- was queued before there were models: Stable Diffusion 1.4's.
local function queues(id)
  local member, guild, user, key, model = unpack(redis.call('HMGET', jkey(id),
    'member', 'guild_id', 'user_id', 'batch_key', 'model'))
  local mine = member_queue(guild, user)
  return member, guild, user, {QUEUE, mine, mine .. ':' .. key,
    model_queue(guild, user, model or 'sd14')}
end

local function queue_add(id, score)
  local member, guild, user, sets = queues(id)
  for _, set in ipairs(sets) do redis.call('ZADD', set, score, member) end
  redis.call('SADD', P .. 'users:' .. guild, user)
  redis.call('SADD', P .. 'guilds', guild)
end

local function queue_remove(id)
  local member, guild, user, sets = queues(id)
  for _, set in ipairs(sets) do redis.call('ZREM', set, member) end
  if redis.call('ZCARD', sets[2]) == 0 then
    redis.call('SREM', P .. 'users:' .. guild, user)
    if redis.call('SCARD', P .. 'users:' .. guild) == 0 then
      redis.call('SREM', P .. 'guilds', guild)
    end
  end
end

-- Deletes up to `limit` finished jobs past the retention by the store's clock (their keys
-- have usually expired already, by the server's); returns how many. A job that is not
-- finished (an id enqueued again after its old record expired) is only forgotten here.
local function purge_finished(limit)
  local cutoff = '(' .. later(-tonumber(KEEP))
  local old = redis.call('ZRANGEBYSCORE', FINISHED_AT, '-inf', cutoff, 'LIMIT', 0, limit)
  for _, id in ipairs(old) do
    local state = redis.call('HGET', jkey(id), 'state')
    if not state or ENDED[state] then
      redis.call('DEL', jkey(id), P .. 'result:' .. id, P .. 'source:' .. id, P .. 'preview:' .. id)
    end
    redis.call('ZREM', FINISHED_AT, id)
  end
  return #old
end

local function finish(id, state, err)
  local k = jkey(id)
  local entry = redis.call('HGET', k, 'entry')
  local consumer, attempts = pending(entry)
  -- The entry leaves the pending list, and its delivery count with it: keep the count.
  redis.call('HSET', k, 'state', state, 'finished_at', NOW, 'attempts', attempts)
  set_error(k, err)
  queue_remove(id)
  redis.call('ZREM', LEASES, id)
  redis.call('XACK', JOBS, GROUP, entry)
  redis.call('XDEL', JOBS, entry)
  if consumer then forget_if_idle(consumer) end
  -- One lifetime for everything kept for the job, set in this one step.
  for _, key in ipairs({k, P .. 'result:' .. id, P .. 'source:' .. id}) do
    redis.call('EXPIRE', key, KEEP)
  end
  redis.call('DEL', P .. 'preview:' .. id)
  redis.call('ZADD', FINISHED_AT, NOW, id)
  purge_finished(2)
  redis.call('HINCRBY', P .. 'finished', state, 1)
  event(id, state)
end

-- Queues the job again: at the back after a failed attempt (`to_back`), in its old place
-- when a stopping worker gave it back. `attempts` becomes its delivery count.
local function requeue(id, err, to_back, attempts)
  local k = jkey(id)
  local entry, queued_at = unpack(redis.call('HMGET', k, 'entry', 'queued_at'))
  if to_back then queued_at = NOW end
  redis.call('HSET', k, 'state', 'queued', 'step', '0', 'queued_at', queued_at)
  set_error(k, err)
  redis.call('ZREM', LEASES, id)
  move(entry, QUEUED_CONSUMER, attempts)
  queue_add(id, queued_at)
  redis.call('DEL', P .. 'preview:' .. id)
  event(id, 'requeued')
end
"""

ENQUEUE = r"""
local id, key, images, steps, source, model = A[1], A[2], A[3], A[4], A[5], A[6]
local k = jkey(id)
if redis.call('EXISTS', k) == 0 then
  local number = redis.call('INCR', P .. 'enqueued')
  local member = string.format('%012d:%d:%d:%s', number, images, steps, id)
  local entry = redis.call('XADD', JOBS, '*', 'job', id)
  if source ~= '' then redis.call('SET', P .. 'source:' .. id, source) end
  redis.call('HSET', k, unpack(A, 7))
  redis.call('HSET', k, 'state', 'queued', 'created_at', NOW, 'queued_at', NOW,
    'member', member, 'entry', entry, 'batch_key', key, 'model', model,
    'images', images, 'steps', steps,
    'step', '0', 'total_steps', '0', 'gpu_seconds', '0', 'cancel_requested', '0')
  queue_add(id, NOW)
  local guild, user = unpack(redis.call('HMGET', k, 'guild_id', 'user_id'))
  -- Listings: finished jobs expire KEEP after they finish; twice that is surely gone.
  for _, list in ipairs({P .. 'jobs:' .. guild, P .. 'jobs:' .. guild .. ':' .. user}) do
    redis.call('ZADD', list, NOW, member)
    redis.call('ZREMRANGEBYSCORE', list, '-inf', '(' .. later(-2 * tonumber(KEEP)))
  end
  event(id, 'queued')
end
return job(id)
"""

CLAIM = r"""
local worker, max_images, lease_expires, gave_up = A[1], tonumber(A[2]), later(A[3]), A[4]
-- A[5] == '1': only jobs of the models A[6], A[7], ... (the worker's); '0': any job.
local models = nil
if A[5] == '1' then models = {unpack(A, 6)} end

-- Jobs queued before there were models join their model's queue, once.
if redis.call('EXISTS', P .. 'models:indexed') == 0 then
  local queued = redis.call('ZRANGE', QUEUE, 0, -1, 'WITHSCORES')
  for i = 1, #queued, 2 do
    local id = id_of(queued[i])
    local guild, user, model =
      unpack(redis.call('HMGET', jkey(id), 'guild_id', 'user_id', 'model'))
    if not model then redis.call('HSET', jkey(id), 'model', 'sd14') end
    redis.call('ZADD', model_queue(guild, user, model or 'sd14'), queued[i + 1], queued[i])
  end
  redis.call('SET', P .. 'models:indexed', '1')
end

-- Leases that ran out: the job is canceled if that was asked, failed once its attempts
-- are used up, else queued again at the back.
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

-- Whether flow a (served, queued time, enqueue number) goes before flow b.
local function before(a, b)
  for i = 1, 3 do
    if a[i] ~= b[i] then return a[i] < b[i] end
  end
  return false
end

-- A member's oldest queued job (of batch `key` with at most `left` images, if given).
local function oldest_in(set, left)
  local found = redis.call('ZRANGE', set, 0, left and 63 or 0, 'WITHSCORES')
  for i = 1, #found, 2 do
    local order, images = parts(found[i])
    if not left or images <= left then return found[i], tonumber(found[i + 1]), order end
  end
  return nil
end

-- A member's oldest queued job: of batch `key` with at most `left` images if given (a
-- batch is one model's), else of the worker's `models` if it named them, else any.
local function oldest(guild, user, key, left)
  if key or not models then
    return oldest_in(member_queue(guild, user) .. (key and (':' .. key) or ''), left)
  end
  local best, best_score, best_order
  for _, model in ipairs(models) do
    local member, score, order = oldest_in(model_queue(guild, user, model), nil)
    if member and (not best or score < best_score
        or (score == best_score and order < best_order)) then
      best, best_score, best_order = member, score, order
    end
  end
  return best, best_score, best_order
end

-- Fair turns (core/store/fairness.py): the server served longest ago, its member served
-- longest ago, that member's oldest job; ties go to the oldest job. Marks both served.
local function pick(key, left)
  local served_guilds, served_users = P .. 'served:guilds', P .. 'served:users'
  local best_guild, best_flow, best_members
  for _, guild in ipairs(redis.call('SMEMBERS', P .. 'guilds')) do
    local members, oldest_job = {}, nil
    for _, user in ipairs(redis.call('SMEMBERS', P .. 'users:' .. guild)) do
      local member, score, order = oldest(guild, user, key, left)
      if member then
        local seq = tonumber(redis.call('HGET', served_users, guild .. ':' .. user) or 0)
        table.insert(members, {user = user, member = member, flow = {seq, score, order}})
        if not oldest_job or before({0, score, order}, oldest_job) then
          oldest_job = {0, score, order}
        end
      end
    end
    if oldest_job then
      oldest_job[1] = tonumber(redis.call('HGET', served_guilds, guild) or 0)
      if not best_flow or before(oldest_job, best_flow) then
        best_guild, best_flow, best_members = guild, oldest_job, members
      end
    end
  end
  if not best_guild then return nil end
  local choice = best_members[1]
  for _, candidate in ipairs(best_members) do
    if before(candidate.flow, choice.flow) then choice = candidate end
  end
  local seq = redis.call('INCR', P .. 'served')
  redis.call('HSET', served_guilds, best_guild, seq)
  redis.call('HSET', served_users, best_guild .. ':' .. choice.user, seq)
  return choice.member
end

local function start(member)
  local id = id_of(member)
  local entry = redis.call('HGET', jkey(id), 'entry')
  local _, attempts = pending(entry)
  redis.call('HSET', jkey(id), 'state', 'running', 'started_at', NOW, 'step', '0')
  queue_remove(id)
  redis.call('ZADD', LEASES, lease_expires, id)
  move(entry, 'w:' .. worker, attempts + 1)
  event(id, 'started')
  return job(id)
end

if models and #models == 0 then return {} end  -- a worker that holds no model
local first = pick(nil, nil)
if not first then return {} end
local key = redis.call('HGET', jkey(id_of(first)), 'batch_key')
local claimed = {start(first)}
local left = max_images - select(2, parts(first))
while left > 0 do
  local companion = pick(key, left)
  if not companion then break end
  table.insert(claimed, start(companion))
  left = left - select(2, parts(companion))
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

SET_PREVIEW = r"""
local id, worker, step, image = A[1], A[2], A[3], A[4]
if not owned(id, worker) then return 0 end
local k = P .. 'preview:' .. id
redis.call('HSET', k, 'step', step, 'image', image)
redis.call('EXPIRE', k, KEEP)
return 1
"""

PREVIEW = r"""
local id = A[1]
if redis.call('HGET', jkey(id), 'state') ~= 'running' then return false end
local found = redis.call('HMGET', P .. 'preview:' .. id, 'step', 'image')
if not found[1] then return false end
return found
"""

COMPLETE = r"""
local id, worker, gpu_seconds, speed_sample = A[1], A[2], A[3], tonumber(A[4])
if not owned(id, worker) then return 0 end
local rk = P .. 'result:' .. id
redis.call('DEL', rk)
redis.call('RPUSH', rk, unpack(A, 5))
local images, steps = unpack(redis.call('HMGET', jkey(id), 'images', 'steps'))
if tonumber(gpu_seconds) > 0 then
  local speed = tonumber(gpu_seconds) / (tonumber(images) * tonumber(steps))
  redis.call('LPUSH', P .. 'speeds', string.format('%.17g', speed))
  redis.call('LTRIM', P .. 'speeds', 0, speed_sample - 1)
end
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

# What fair positions and the work ahead are computed from (in Python, by
# core/store/fairness.py): the job's rank among its member's queued jobs, every member's
# flow, every server's turn. With A[2] == '1' also, for each member, the image-steps of
# its queued jobs from the front (as many as the job's server has queued: no more can be
# ahead of it from any one member), and what is left of the running jobs.
FLOWS = r"""
local id, with_work = A[1], A[2] == '1'
local state, guild, user, member =
  unpack(redis.call('HMGET', jkey(id), 'state', 'guild_id', 'user_id', 'member'))
if state ~= 'queued' then return false end
local cap = 0
if with_work then
  for _, u in ipairs(redis.call('SMEMBERS', P .. 'users:' .. guild)) do
    cap = cap + redis.call('ZCARD', member_queue(guild, u))
  end
end
local members, guilds = {}, {}
for _, g in ipairs(redis.call('SMEMBERS', P .. 'guilds')) do
  table.insert(guilds, {g, tonumber(redis.call('HGET', P .. 'served:guilds', g) or 0)})
  for _, u in ipairs(redis.call('SMEMBERS', P .. 'users:' .. g)) do
    local set = member_queue(g, u)
    local head = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
    local seq = tonumber(redis.call('HGET', P .. 'served:users', g .. ':' .. u) or 0)
    local flow = {g, u, seq, head[2], parts(head[1]), redis.call('ZCARD', set)}
    if with_work then
      local works = {}
      for _, queued in ipairs(redis.call('ZRANGE', set, 0, cap - 1)) do
        local _, images, steps = parts(queued)
        table.insert(works, images * steps)
      end
      table.insert(flow, works)
    end
    table.insert(members, flow)
  end
end
local running = 0
if with_work then
  for _, leased in ipairs(redis.call('ZRANGE', LEASES, 0, -1)) do
    local images, steps, step =
      unpack(redis.call('HMGET', jkey(leased), 'images', 'steps', 'step'))
    running = running + tonumber(images) * math.max(tonumber(steps) - tonumber(step), 0)
  end
end
local rank = redis.call('ZRANK', member_queue(guild, user), member)
return cjson.encode({guild = guild, user = user, rank = rank, members = members,
  guilds = guilds, running = running})
"""

STATS = r"""
local guild, worker_timeout = A[1], A[2]
local queued, running = 0, 0
if guild == '' then
  queued, running = redis.call('ZCARD', QUEUE), redis.call('ZCARD', LEASES)
else
  for _, user in ipairs(redis.call('SMEMBERS', P .. 'users:' .. guild)) do
    queued = queued + redis.call('ZCARD', member_queue(guild, user))
  end
  for _, id in ipairs(redis.call('ZRANGE', LEASES, 0, -1)) do
    if redis.call('HGET', jkey(id), 'guild_id') == guild then running = running + 1 end
  end
end
local since = '(' .. later(-tonumber(worker_timeout))
local workers = redis.call('ZCOUNT', P .. 'workers', since, '+inf')
return {queued, running, workers, redis.call('LRANGE', P .. 'speeds', 0, -1)}
"""

JOBS_OF = r"""
local guild, user, limit = A[1], A[2], tonumber(A[3])
local wanted = {}
for i = 4, #A do wanted[A[i]] = true end
local list = P .. 'jobs:' .. guild .. (user ~= '' and (':' .. user) or '')
local found = {}
for _, member in ipairs(redis.call('ZREVRANGE', list, 0, 999)) do
  local id = id_of(member)
  local state = redis.call('HGET', jkey(id), 'state')
  if not state then
    redis.call('ZREM', list, member)  -- finished long ago: its record expired
  elseif wanted[state] then
    table.insert(found, job(id))
    if #found >= limit then break end
  end
end
return found
"""

PURGE = r"""
return purge_finished(tonumber(A[1]))
"""

PURGE_IMAGES = r"""
local id = A[1]
if not ENDED[redis.call('HGET', jkey(id), 'state')] then return 0 end
redis.call('DEL', P .. 'result:' .. id, P .. 'source:' .. id, P .. 'preview:' .. id)
return 1
"""

WORKER_SEEN = r"""
local workers, held = P .. 'workers', P .. 'worker:models'
redis.call('ZADD', workers, NOW, A[1])
redis.call('HSET', held, A[1], A[2])
local gone = redis.call('ZRANGEBYSCORE', workers, '-inf', '(' .. later(-tonumber(RETENTION)))
for _, worker in ipairs(gone) do
  redis.call('ZREM', workers, worker)
  redis.call('HDEL', held, worker)
end
return 1
"""

# The models of the workers seen since A[1] seconds ago, one string per worker.
MODELS_ONLINE = r"""
local since = '(' .. later(-tonumber(A[1]))
local found = {}
for _, worker in ipairs(redis.call('ZRANGEBYSCORE', P .. 'workers', since, '+inf')) do
  table.insert(found, redis.call('HGET', P .. 'worker:models', worker) or '')
end
return found
"""

SCRIPTS = {
    "enqueue": ENQUEUE,
    "claim": CLAIM,
    "heartbeat": HEARTBEAT,
    "set_preview": SET_PREVIEW,
    "preview": PREVIEW,
    "complete": COMPLETE,
    "fail": FAIL,
    "release": RELEASE,
    "cancel": CANCEL,
    "get": GET,
    "flows": FLOWS,
    "stats": STATS,
    "jobs": JOBS_OF,
    "worker_seen": WORKER_SEEN,
    "models_online": MODELS_ONLINE,
    "purge": PURGE,
    "purge_images": PURGE_IMAGES,
}
