/// The two Lua scripts RedisBroker runs on Redis (loaded once per connection with `SCRIPT LOAD`,
/// called with `EVALSHA`). Scripts run atomically, which gives three properties at once:
///
/// - **One id order for all channels.** The entry id comes from one `<prefix>lastid` key, not
///   from `XADD *` per stream: `max(server time, last id + 1)`. Ids therefore increase across
///   every channel in the order events were published, so a `Last-Event-ID` is a position in the
///   whole history, and merging several channels' replays by id gives publish order.
/// - **Stream and pub/sub agree.** `XADD` and `PUBLISH` happen in one step: no event is stored
///   but never announced (or the reverse) when a connection drops between the two, and pub/sub
///   delivers events in id order.
/// - **Exact gap detection.** Trimming records the highest id it removed in the hash
///   `<prefix>meta:<channel>` (`trimmed`, and `newest`, the stream's newest id, which counts as
///   removed once the stream has expired). A client that resumes after id P lost something
///   exactly when that mark is above P. (Redis's own `max-deleted-entry-id` ignores trimming.)
///
/// History bounds: the count bound trims the oldest entries once a stream holds more than
/// `count + slack` (slack = count / 10, at most 100), back to exactly `count`, so a stream keeps
/// between `count` and `count + slack` events and trimming costs O(1) per publish on average.
/// The age bound removes entries at least `age` old (by the millisecond part of their id, which
/// is Redis's clock) on every publish and every replay; the stream expires `age` after the
/// channel's last publish, its meta hash twice as late but at least 7 days (so a client back after
/// a long quiet period still learns that what it missed expired). Needs Redis 6.2 or newer (`XTRIM MINID`,
/// exclusive ranges).
enum RedisScripts {
    /// Shared helpers: id parsing, formatting, comparison, and trimming one stream.
    private static let helpers = """
        local function parse(id)
          local ms, seq = string.match(id, '^(%d+)-(%d+)$')
          return tonumber(ms), tonumber(seq)
        end
        local function format(ms, seq) return string.format('%.0f-%.0f', ms, seq) end
        local function less(a, b)
          local ams, aseq = parse(a)
          local bms, bseq = parse(b)
          return ams < bms or (ams == bms and aseq < bseq)
        end
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        -- The meta hash: `trimmed` is the highest id removed from the stream, `newest` the id
        -- of its newest entry (everything through it is gone once the stream has expired).
        local function mark(meta, id)
          local trimmed = redis.call('HGET', meta, 'trimmed')
          if not trimmed or less(trimmed, id) then redis.call('HSET', meta, 'trimmed', id) end
        end
        local function trimmed_through(stream, meta)
          local trimmed = redis.call('HGET', meta, 'trimmed')
          if redis.call('EXISTS', stream) == 0 then
            local newest = redis.call('HGET', meta, 'newest')
            if newest and (not trimmed or less(trimmed, newest)) then trimmed = newest end
          end
          return trimmed
        end
        local function trim(stream, meta, count, slack, age, now)
          local cut = nil
          local len = redis.call('XLEN', stream)
          if len > count + slack then
            local doomed = redis.call('XRANGE', stream, '-', '+', 'COUNT', len - count)
            cut = doomed[#doomed][1]
          end
          -- Entries whose millisecond part is at most now - age are too old. (Reading the oldest
          -- entry first keeps the common case O(1); XREVRANGE towards '-' scans the stream.)
          local cutoff = now - age + 1
          local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
          if #oldest > 0 and parse(oldest[1][1]) < cutoff then
            local old = redis.call('XRANGE', stream, '-', '(' .. format(cutoff, 0))
            local newest_old = old[#old][1]
            if cut == nil or less(cut, newest_old) then cut = newest_old end
          end
          if cut then
            local ms, seq = parse(cut)
            redis.call('XTRIM', stream, 'MINID', format(ms, seq + 1))
            mark(meta, cut)
          end
        end

        """

    /// `EVALSHA publish 3 <stream> <meta> <last id> <pub/sub channel> <count> <slack>
    /// <age ms> <message fields> <field> <value> …` → `[<entry id>, <PUBLISH receivers>]`.
    static let publish =
        helpers + """
            local now = now_ms()
            local ms, seq = now, 0
            local last = redis.call('GET', KEYS[3])
            if last then
              local lms, lseq = parse(last)
              if lms >= now then ms, seq = lms, lseq + 1 end
            end
            local id = format(ms, seq)
            if redis.call('EXISTS', KEYS[1]) == 0 then
              -- The stream expired (or never existed): whatever it held is gone.
              local newest = redis.call('HGET', KEYS[2], 'newest')
              if newest then mark(KEYS[2], newest) end
            end
            local added = redis.pcall('XADD', KEYS[1], id, unpack(ARGV, 6))
            if type(added) == 'table' and added.err then
              -- The stream is ahead of the last-id key (the key was deleted): continue after it.
              local info = redis.call('XINFO', 'STREAM', KEYS[1])
              for i = 1, #info, 2 do
                if info[i] == 'last-generated-id' then
                  local sms, sseq = parse(info[i + 1])
                  id = format(sms, sseq + 1)
                end
              end
              redis.call('XADD', KEYS[1], id, unpack(ARGV, 6))
            end
            redis.call('SET', KEYS[3], id)
            redis.call('HSET', KEYS[2], 'newest', id)
            local age = tonumber(ARGV[4])
            trim(KEYS[1], KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[3]), age, now)
            redis.call('PEXPIRE', KEYS[1], age)
            -- The meta hash (what was trimmed) must outlive the stream by far: a client coming back
            -- after a long quiet period must still learn that the history it missed expired.
            redis.call('PEXPIRE', KEYS[2], math.max(2 * age, 604800000))
            local receivers = redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[5])
            return {id, receivers}
            """

    /// `EVALSHA replay <1 + 2n> <last id> (<stream> <meta>)×n <after id or ""> <count>
    /// <slack> <age ms>` → `[<last id issued>, <now ms>, [[<trimmed through or "">, <meta exists>,
    /// <entries after the id, or all of them>] × n]]`. All of them also when the id is newer than
    /// any issued (unknown). Trims by age first, so what it returns is exactly the history the
    /// bounds allow.
    static let replay =
        helpers + """
            local now = now_ms()
            local count, slack, age = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
            local last = redis.call('GET', KEYS[1]) or '0-0'
            local after = ARGV[1]
            -- An id Redis never issued (from the future): unknown, so the whole history is replayed.
            if after ~= '' and less(last, after) then after = '' end
            local channels = {}
            for i = 2, #KEYS, 2 do
              trim(KEYS[i], KEYS[i + 1], count, slack, age, now)
              local entries
              if after == '' then
                entries = redis.call('XRANGE', KEYS[i], '-', '+')
              else
                entries = redis.call('XRANGE', KEYS[i], '(' .. after, '+')
              end
              channels[#channels + 1] = {trimmed_through(KEYS[i], KEYS[i + 1]) or '', redis.call('EXISTS', KEYS[i + 1]), entries}
            end
            return {last, now, channels}
            """
}
