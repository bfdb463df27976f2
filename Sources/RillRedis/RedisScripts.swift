/// The Lua scripts RedisBroker runs on Redis (publish, replay and channelsSince loaded once per
/// connection with `SCRIPT LOAD` and called with `EVALSHA`; the clock, once per interval, with
/// `EVAL`). Scripts run atomically, which gives three properties at once:
///
/// - **One id order for all channels.** The entry id comes from one `<prefix>lastid` key, not
///   from `XADD *` per stream: `max(server time, last id + 1)`. Ids therefore increase across
///   every channel in the order events were published, so an entry id is a position in the
///   whole history, and merging several channels' replays by id gives publish order.
/// - **Stream and pub/sub agree.** `XADD` and `PUBLISH` happen in one step: no event is stored
///   but never announced (or the reverse) when a connection drops between the two, and pub/sub
///   delivers events in id order.
/// - **Exact gap detection.** Trimming records the highest id it removed in the hash
///   `<prefix>meta:<channel>` (`trimmed`, and `newest`, the stream's newest id, which counts as
///   removed once the stream has expired), each with the wire id of that event (`trimmedwire`,
///   `newestwire`), so that a client that had exactly that event is still located. A client
///   that resumes after id P lost something exactly when that mark is above P. (Redis's own
///   `max-deleted-entry-id` ignores trimming.)
///
/// History bounds: the count bound trims the oldest entries once a stream holds more than
/// `count + slack` (slack = count / 10, at most 100), back to exactly `count`, so a stream keeps
/// between `count` and `count + slack` events and trimming costs O(1) per publish on average.
/// The age bound removes entries at least `age` old (by the millisecond part of their id, which
/// is Redis's clock) on every publish and every replay; the stream expires `age` after the
/// channel's last publish, its meta hash twice as late but at least 7 days (so a client back after
/// a long quiet period on a quiet channel is told `complete`, not a false gap), except for the
/// server's own presence-notice channels (`rill-presence/…`), which anyone who may subscribe can
/// name: theirs lives twice the age, no more, so that invented channels cost Redis nothing after
/// that. A channel Redis forgot is a gap after any position older than the age
/// (`ChannelRead.lostEvents`), so a mark is never lost by expiring. Needs Redis 6.2 or newer
/// (`XTRIM MINID`, exclusive ranges).
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
        -- The id subscribers saw for an entry: the publisher's (field `i`), else the entry id.
        local function wire_id(entry)
          local fields = entry[2]
          for i = 1, #fields, 2 do
            if fields[i] == 'i' then return fields[i + 1] end
          end
          return entry[1]
        end
        -- The meta hash: `trimmed` is the highest id removed from the stream and `trimmedwire`
        -- the wire id of that event ('' when unknown), `newest` the id of its newest entry
        -- (everything through it is gone once the stream has expired).
        local function mark(meta, id, wire)
          local trimmed = redis.call('HGET', meta, 'trimmed')
          if not trimmed or less(trimmed, id) then redis.call('HSET', meta, 'trimmed', id, 'trimmedwire', wire or '') end
        end
        -- The id after every one handed out: max(server time, last id + 1).
        local function next_id(last_key, now)
          local ms, seq = now, 0
          local last = redis.call('GET', last_key)
          if last then
            local lms, lseq = parse(last)
            if lms >= now then ms, seq = lms, lseq + 1 end
          end
          return format(ms, seq)
        end
        -- The meta hash (what was trimmed) outlives the stream: `lifetime` is at least twice
        -- the history's age (the caller's choice, see RedisBroker.metaLifetime(of:)).
        local function keep_meta(meta, lifetime)
          redis.call('PEXPIRE', meta, lifetime)
        end
        local function trimmed_through(stream, meta)
          local trimmed = redis.call('HGET', meta, 'trimmed')
          if redis.call('EXISTS', stream) == 0 then
            local newest = redis.call('HGET', meta, 'newest')
            if newest and (not trimmed or less(trimmed, newest)) then trimmed = newest end
          end
          return trimmed
        end
        -- Where this Redis's history begins (`<prefix>since`): set by the first script that runs
        -- on a Redis without it, before anything is added. A Redis that already has a last id
        -- (it served a Rill without this key) vouches for all of its history ('0-0'); one
        -- without (new, or restarted empty, or flushed) for what comes from now on, so that a
        -- position from before it reads as a gap instead of as nothing missed.
        local function history_start(since_key, last_key, now)
          local since = redis.call('GET', since_key)
          if not since then
            since = redis.call('EXISTS', last_key) == 1 and '0-0' or format(now, 0)
            redis.call('SET', since_key, since)
          end
          return since
        end
        -- The publisher-id index (`pids`: publisher id -> entry id) forgets trimmed entries,
        -- unless a newer entry reuses the id.
        local function unindex(pids, entries)
          for _, entry in ipairs(entries) do
            local wire = wire_id(entry)
            if wire ~= entry[1] and redis.call('HGET', pids, wire) == entry[1] then redis.call('HDEL', pids, wire) end
          end
        end
        local function trim(stream, meta, pids, count, slack, age, now)
          local cut, cut_wire = nil, nil
          local len = redis.call('XLEN', stream)
          if len > count + slack then
            local doomed = redis.call('XRANGE', stream, '-', '+', 'COUNT', len - count)
            cut, cut_wire = doomed[#doomed][1], wire_id(doomed[#doomed])
            unindex(pids, doomed)
          end
          -- Entries whose millisecond part is at most now - age are too old. (Reading the oldest
          -- entry first keeps the common case O(1); XREVRANGE towards '-' scans the stream.)
          local cutoff = now - age + 1
          local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
          if #oldest > 0 and parse(oldest[1][1]) < cutoff then
            local old = redis.call('XRANGE', stream, '-', '(' .. format(cutoff, 0))
            local newest_old = old[#old][1]
            if cut == nil or less(cut, newest_old) then cut, cut_wire = newest_old, wire_id(old[#old]) end
            unindex(pids, old)
          end
          if cut then
            local ms, seq = parse(cut)
            redis.call('XTRIM', stream, 'MINID', format(ms, seq + 1))
            mark(meta, cut, cut_wire)
          end
        end

        """

    /// `EVALSHA publish 6 <stream> <meta> <last id> <publisher ids> <channel index> <history
    /// start> <pub/sub channel> <count> <slack> <age ms> <message fields> <meta lifetime ms>
    /// <field> <value> …` →
    /// `[<entry id>, <PUBLISH receivers>]`. The channel index (`<prefix>channels`) scores each stream key by
    /// its last publish, so that a pattern's replay finds the channels published since a
    /// client's event without scanning the keyspace.
    /// An event with a publisher id is indexed in the hash `<publisher ids>` (publisher id →
    /// entry id), which trimming keeps in step with the stream and which expires with it.
    static let publish =
        helpers + """
            local now = now_ms()
            history_start(KEYS[6], KEYS[3], now)
            local id = next_id(KEYS[3], now)
            if redis.call('EXISTS', KEYS[1]) == 0 then
              -- The stream expired (or never existed): whatever it held is gone.
              local newest = redis.call('HMGET', KEYS[2], 'newest', 'newestwire')
              if newest[1] then mark(KEYS[2], newest[1], newest[2]) end
            end
            local added = redis.pcall('XADD', KEYS[1], id, unpack(ARGV, 7))
            if type(added) == 'table' and added.err then
              -- The stream is ahead of the last-id key (the key was deleted): continue after it.
              local info = redis.call('XINFO', 'STREAM', KEYS[1])
              for i = 1, #info, 2 do
                if info[i] == 'last-generated-id' then
                  local sms, sseq = parse(info[i + 1])
                  id = format(sms, sseq + 1)
                end
              end
              redis.call('XADD', KEYS[1], id, unpack(ARGV, 7))
            end
            redis.call('SET', KEYS[3], id)
            local wire = id
            for i = 7, #ARGV - 1, 2 do
              if ARGV[i] == 'i' then wire = ARGV[i + 1] end
            end
            redis.call('HSET', KEYS[2], 'newest', id, 'newestwire', wire)
            local age = tonumber(ARGV[4])
            if wire ~= id then redis.call('HSET', KEYS[4], wire, id) end
            trim(KEYS[1], KEYS[2], KEYS[4], tonumber(ARGV[2]), tonumber(ARGV[3]), age, now)
            redis.call('PEXPIRE', KEYS[4], age)
            redis.call('PEXPIRE', KEYS[1], age)
            keep_meta(KEYS[2], tonumber(ARGV[6]))
            -- The channel index (stream keys by last publish), for pattern replays; what is
            -- older than the history's age has nothing left to replay.
            redis.call('ZADD', KEYS[5], now, KEYS[1])
            redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. string.format('%.0f', now - age))
            redis.call('PEXPIRE', KEYS[5], age)
            local receivers = redis.call('PUBLISH', ARGV[1], id .. ' ' .. ARGV[5])
            return {id, receivers}
            """

    /// `EVAL clock 2 <last id> <history start> <anchor channel>` → the number of receivers: moves
    /// the last-id key
    /// up to Redis's current millisecond (`<now>-0`) when it is behind, and publishes the result
    /// to the process's own anchor channel. An entry published later gets an id above it (ids
    /// are `max(now, last + 1)`), one published earlier is below it and, on that process's
    /// subscriber connection, arrives before the message: so the message's id is a position that
    /// process has reached, with a recent millisecond even when nothing was published for hours
    /// (a position older than the history's age reads as a gap on a channel Redis forgot). No
    /// entry gets the id itself: ids need not be dense.
    static let clock =
        helpers + """
            local now = now_ms()
            history_start(KEYS[2], KEYS[1], now)
            local last = redis.call('GET', KEYS[1])
            local floor = format(now, 0)
            if not last or less(last, floor) then
              redis.call('SET', KEYS[1], floor)
              last = floor
            end
            return redis.call('PUBLISH', ARGV[1], last)
            """

    /// `EVALSHA replay 5 <stream> <meta> <publisher ids> <history start> <last id> <wanted id or
    /// ""> <after id or ""> <count> <slack> <age ms> <limit> <before id or "">` → `[<now ms>,
    /// <trimmed through or "">, <meta exists>, <found id or "">, <entries, newest first>, <the
    /// stream's newest id or "">, <history start>]`, for one channel.
    ///
    /// With a wanted id (a client's `Last-Event-ID`) it finds the entry whose wire id is
    /// exactly that: an id shaped like an entry id is looked up at that position first, and
    /// counts only if that entry carries no publisher id (it was assigned by the broker); any
    /// other id is looked up in the publisher-id index (and checked against its entry) and
    /// compared with the wire ids of the newest trimmed or expired event: O(1) whatever the id.
    /// Without one, `after` is the position to read from. The entries returned are the newest
    /// `limit + 1` after the found position (or after `after`, or from the start) and before
    /// `before` (or up to the newest): one more than asked for tells the caller that more may
    /// be left.
    ///
    /// One channel per call and a bounded read (`COUNT`), so no call keeps Redis busy for long
    /// whatever a client asks for. Trims by age first, so what it returns is exactly the history
    /// the bounds allow.
    static let replay =
        helpers + """
            local now = now_ms()
            local count, slack, age, limit = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
            trim(KEYS[1], KEYS[2], KEYS[3], count, slack, age, now)
            local wanted, found = ARGV[1], ARGV[2]
            if wanted ~= '' then
              found = ''
              if string.match(wanted, '^%d+%-%d+$') then
                -- An entry id out of range makes XRANGE fail: then it is no entry's id.
                local at = redis.pcall('XRANGE', KEYS[1], wanted, wanted)
                if type(at) == 'table' and not at.err and #at == 1 and wire_id(at[1]) == at[1][1] then found = at[1][1] end
              end
              if found == '' then
                -- A publisher's id: through the index, checked against the entry.
                local indexed = redis.call('HGET', KEYS[3], wanted)
                if indexed then
                  local at = redis.call('XRANGE', KEYS[1], indexed, indexed)
                  if #at == 1 and wire_id(at[1]) == wanted then found = indexed end
                end
              end
              if found == '' then
                -- The newest event gone from the history (trimmed, or the whole stream expired).
                local meta = redis.call('HMGET', KEYS[2], 'trimmed', 'trimmedwire', 'newest', 'newestwire')
                if meta[2] == wanted then
                  found = meta[1]
                elseif meta[4] == wanted and redis.call('EXISTS', KEYS[1]) == 0 then
                  found = meta[3]
                end
              end
            end
            local upper = ARGV[7] ~= '' and '(' .. ARGV[7] or '+'
            local lower = found ~= '' and '(' .. found or '-'
            local entries = redis.call('XREVRANGE', KEYS[1], upper, lower, 'COUNT', limit + 1)
            local newest = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
            return {now, trimmed_through(KEYS[1], KEYS[2]) or '', redis.call('EXISTS', KEYS[2]), wanted ~= '' and found or '', entries,
                    #newest > 0 and newest[1][1] or '', history_start(KEYS[4], KEYS[5], now)}
            """

    /// `EVALSHA presenceWrite 2 <this process's hash of the channel> <the channel's set of
    /// processes> <key lifetime ms> <score> <process id> <field> <value> …` → 1: one process's
    /// presence in one channel rewritten at once (the hash replaced, both keys' lifetimes
    /// renewed, the process in the set) — what was `MULTI`, `DEL`, `HSET`, `PEXPIRE`, `ZADD`,
    /// `PEXPIRE`, `EXEC`: one command and one reply per channel instead of seven. The fields go
    /// to `HSET` in slices, so that a channel with many members never unpacks more values than
    /// Lua's stack takes.
    static let presenceWrite = """
        redis.call('DEL', KEYS[1])
        local slice = 400
        for first = 4, #ARGV, slice do
          redis.call('HSET', KEYS[1], unpack(ARGV, first, math.min(first + slice - 1, #ARGV)))
        end
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
        redis.call('PEXPIRE', KEYS[2], ARGV[1])
        return 1
        """

    /// `EVALSHA markLost <2 + n> <last id> <history start> <meta> … <meta lifetime ms> <"1": including
    /// unpublished>` → the number of channels marked: each channel that has had events (its
    /// meta hash has `newest`), or any with "1", gets `trimmed` at a new id, taken from the
    /// last-id key like a publish's and given to no event, so that a client resuming from any
    /// position handed out so far — of this channel or of any other, since ids are one order —
    /// is told `gap`. `trimmedwire` is cleared (no event has that id). One id for the whole
    /// call; the meta hash lives as long as a publish's would (all channels of one call alike).
    static let markLost =
        helpers + """
            local now = now_ms()
            history_start(KEYS[2], KEYS[1], now)
            local include = ARGV[2] == '1'
            local id = nil
            local marked = 0
            for i = 3, #KEYS do
              local meta = KEYS[i]
              if include or redis.call('HEXISTS', meta, 'newest') == 1 then
                if not id then
                  id = next_id(KEYS[1], now)
                  redis.call('SET', KEYS[1], id)
                end
                mark(meta, id, '')
                keep_meta(meta, tonumber(ARGV[1]))
                marked = marked + 1
              end
            end
            return marked
            """

    /// `EVALSHA channelsSince 3 <channel index> <history start> <last id> <since ms or "-inf">
    /// <count>` → `[<now ms>, <history start>, <stream keys published to since, oldest first (at
    /// most count)>]`: the channels a pattern's replay reads, with what tells whether the index
    /// can answer for the client's position at all (Redis's clock against the history's age,
    /// and where the history begins).
    static let channelsSince =
        helpers + """
            local now = now_ms()
            local since = history_start(KEYS[2], KEYS[3], now)
            return {now, since, redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'LIMIT', 0, tonumber(ARGV[2]))}
            """
}
