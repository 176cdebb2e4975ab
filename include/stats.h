/* stats.h: the daemon's counters and gauges, one X-macro table, rendered as /stats (JSON)
 * and /metrics (Prometheus text). Counters only grow; gauges go up and down. */
#ifndef JG_STATS_H
#define JG_STATS_H
#include <stdint.h>

#include "sb.h"

/* X(name, kind, help); kind is counter, gauge or flag (a 0/1 gauge, a boolean in JSON) */
#define JG_STATS_TABLE(X) \
    X(connections, gauge, "Open client TCP connections") \
    X(connections_total, counter, "Client TCP connections accepted") \
    X(connections_rejected, counter, "Connections refused: max-connections reached or accept failed") \
    X(connections_rejected_per_ip, counter, "Connections refused: their address had max-connections-per-ip open") \
    X(sessions, gauge, "Live socket.io sessions (handshaken or connected)") \
    X(handshakes, counter, "socket.io handshakes answered") \
    X(unused_sessions, gauge, "Handshaken sessions no transport request has used yet") \
    X(handshakes_refused, counter, "Handshakes answered 503: max-unused-sessions or max-unused-sessions-per-ip reached") \
    X(sessions_adopted, counter, "Sessions taken over from a sid another instance issued") \
    X(ws_connections, gauge, "Open WebSocket transports") \
    X(polls_pending, gauge, "Long-poll GETs held open") \
    X(htmlfile_streams, gauge, "Open htmlfile streams") \
    X(channels, gauge, "Channels with at least one subscriber") \
    X(subscriptions, gauge, "Session-channel subscriptions") \
    X(messages_in, counter, "Messages received from Redis on the juggernaut channel") \
    X(messages_invalid, counter, "Redis messages dropped: not JSON or not an object") \
    X(messages_oversized, counter, "Redis messages dropped: larger than max-publish-size") \
    X(deliveries, counter, "Messages queued to a session (one per subscriber per channel)") \
    X(client_messages, counter, "Juggernaut messages received from clients") \
    X(client_messages_invalid, counter, "Client messages ignored: not JSON, unknown type, bad channel") \
    X(auth_refused, counter, "Subscribes to private channels and meta refused for a bad or missing auth") \
    X(events_published, counter, "juggernaut:* events published to Redis") \
    X(events_dropped, counter, "juggernaut:* events dropped: Redis away and queue full") \
    X(redis_queue_bytes, gauge, "Bytes of Redis commands queued or awaiting their reply") \
    X(redis_commands_dropped_bytes, counter, "Redis commands dropped because redis-queue-bytes was reached") \
    X(bytes_out, counter, "Bytes written to clients") \
    X(writev_calls, counter, "writev system calls made to clients") \
    X(slow_consumers, counter, "Connections closed because their output buffer passed max-output-buffer") \
    X(output_budget_cuts, counter, "Connections closed, slowest first, because all unsent output passed max-output-total") \
    X(session_queue_overflows, counter, "Sessions ended because their poll queue passed max-session-queue") \
    X(http_errors, counter, "HTTP requests answered with an error or dropped as malformed") \
    X(unknown_sid, counter, "Transport requests for unknown or expired session ids") \
    X(sids_replayed, counter, "Signed session ids refused because their session already ended (first use wins)") \
    X(malformed_sid, counter, "Transport requests whose session id has no valid form (answered as unknown)") \
    X(heartbeat_timeouts, counter, "Sessions ended by heartbeat timeout") \
    X(close_timeouts, counter, "Sessions ended by close timeout") \
    X(redis_connected, flag, "1 while both Redis connections are up") \
    X(redis_reconnects, counter, "Redis connections (re)established") \
    X(loop_lag_ms, gauge, "How late the event loop ran a 1 s timer, in milliseconds") \
    X(draining, flag, "1 while shutting down (slow drain)") \
    X(cluster_leader, flag, "1 while this instance sequences the messages published on juggernaut") \
    X(messages_sequenced, counter, "Messages on juggernaut this instance sequenced as the leader") \
    X(sequenced_in, counter, "Sequenced messages received (cluster mode)") \
    X(sequence_gaps, counter, "Gaps in the sequence filled from the Redis log") \
    X(legacy_unsequenced, counter, "Messages on juggernaut no leader sequenced in time (dropped)") \
    X(claims, counter, "Transport requests that claimed their session in Redis") \
    X(takeovers, counter, "Sessions taken over from another instance (or rebuilt here)") \
    X(sessions_moved, counter, "Local session copies dropped because another instance took over") \
    X(answers_recorded, counter, "Polling answers recorded in Redis before they went out") \
    X(sessions_reaped, counter, "Sessions of dead instances ended by this one") \
    X(replay_gaps, counter, "Ranges of messages a moved session missed that neither the ring nor the Redis log held (the client is told)") \
    X(presence_truncated, counter, "Presence reads cut at presence-max-members entries") \
    X(replays_from_log, counter, "Moved sessions whose backlog was older than the ring, read from the Redis log")

struct jg_stats {
#define JG_STATS_FIELD(name, kind, help) int64_t name;
    JG_STATS_TABLE(JG_STATS_FIELD)
#undef JG_STATS_FIELD
};

/* Appends the stats as one JSON object (no trailing newline). */
void jg_stats_json(const struct jg_stats *st, struct jg_sb *out);
/* Appends the stats in Prometheus text exposition format, names prefixed juggernautd_. */
void jg_stats_prometheus(const struct jg_stats *st, struct jg_sb *out);

#endif /* JG_STATS_H */
