/* stats.h: the daemon's counters and gauges, one X-macro table, rendered as /stats (JSON)
 * and /metrics (Prometheus text). Counters only grow; gauges go up and down. */
#ifndef JG_STATS_H
#define JG_STATS_H
#include <stdint.h>

#include "base/sb.h"

/* X(name, kind, prom, help): name in /stats (JSON) and in struct jg_stats; kind is counter,
 * gauge, flag (a 0/1 gauge, a boolean in JSON) or ms (a gauge kept in milliseconds, exported
 * to Prometheus in seconds); prom is the /metrics name after "juggernautd_", in Prometheus'
 * conventions (counters end in _total, base units in the name: `promtool check metrics`
 * reports nothing, tests/integration/metrics.test.js). Renaming one breaks dashboards:
 * conf/grafana-juggernautd.json and the README's list use them. */
#define JG_STATS_TABLE(X) \
    X(connections, gauge, connections, "Open client TCP connections") \
    X(connections_total, counter, connections_accepted_total, "Client TCP connections accepted") \
    X(connections_rejected, counter, connections_rejected_total, "Connections refused: max-connections reached or accept failed") \
    X(connections_rejected_per_ip, counter, connections_rejected_per_ip_total, "Connections refused: their address had max-connections-per-ip open") \
    X(sessions, gauge, sessions, "Live socket.io sessions (handshaken or connected)") \
    X(handshakes, counter, handshakes_total, "socket.io handshakes answered") \
    X(unused_sessions, gauge, unused_sessions, "Handshaken sessions no transport request has used yet") \
    X(handshakes_refused, counter, handshakes_refused_total, "Handshakes answered 503: max-unused-sessions or max-unused-sessions-per-ip reached") \
    X(sessions_adopted, counter, sessions_adopted_total, "Sessions taken over from a sid another instance issued") \
    X(ws_connections, gauge, ws_connections, "Open WebSocket transports") \
    X(polls_pending, gauge, polls_pending, "Long-poll GETs held open") \
    X(htmlfile_streams, gauge, htmlfile_streams, "Open htmlfile streams") \
    X(channels, gauge, channels, "Channels with at least one subscriber") \
    X(subscriptions, gauge, subscriptions, "Session-channel subscriptions") \
    X(messages_in, counter, messages_in_total, "Messages received from Redis on the juggernaut channel") \
    X(messages_invalid, counter, messages_invalid_total, "Redis messages dropped: not JSON or not an object") \
    X(messages_oversized, counter, messages_oversized_total, "Redis messages dropped: larger than max-publish-size") \
    X(deliveries, counter, deliveries_total, "Messages queued to a session (one per subscriber per channel)") \
    X(client_messages, counter, client_messages_total, "Juggernaut messages received from clients") \
    X(client_messages_invalid, counter, client_messages_invalid_total, "Client messages ignored: not JSON, unknown type, bad channel") \
    X(auth_refused, counter, auth_refused_total, "Subscribes to private channels and meta refused for a bad or missing auth") \
    X(events_published, counter, events_published_total, "juggernaut:* events published to Redis") \
    X(events_dropped, counter, events_dropped_total, "juggernaut:* events dropped: Redis away and queue full") \
    X(redis_queue_bytes, gauge, redis_queue_bytes, "Bytes of Redis commands queued or awaiting their reply") \
    X(redis_commands_dropped_bytes, counter, redis_commands_dropped_bytes_total, "Redis commands dropped because redis-queue-bytes was reached") \
    X(bytes_out, counter, sent_bytes_total, "Bytes written to clients") \
    X(writev_calls, counter, writev_calls_total, "writev system calls made to clients") \
    X(send_batches, counter, send_batches_total, "io_uring calls that each sent to many clients (io-uring)") \
    X(slow_consumers, counter, slow_consumers_total, "Connections closed because their output buffer passed max-output-buffer") \
    X(output_budget_cuts, counter, output_budget_cuts_total, "Connections closed, slowest first, because all unsent output passed max-output-total") \
    X(session_queue_overflows, counter, session_queue_overflows_total, "Sessions ended because their poll queue passed max-session-queue") \
    X(http_errors, counter, http_errors_total, "HTTP requests answered with an error or dropped as malformed") \
    X(unknown_sid, counter, unknown_sid_total, "Transport requests for unknown or expired session ids") \
    X(sids_replayed, counter, sids_replayed_total, "Signed session ids refused because their session already ended (first use wins)") \
    X(malformed_sid, counter, malformed_sid_total, "Transport requests whose session id has no valid form (answered as unknown)") \
    X(heartbeat_timeouts, counter, heartbeat_timeouts_total, "Sessions ended by heartbeat timeout") \
    X(close_timeouts, counter, close_timeouts_total, "Sessions ended by close timeout") \
    X(redis_connected, flag, redis_connected, "1 while both Redis connections are up") \
    X(redis_reconnects, counter, redis_reconnects_total, "Redis connections (re)established") \
    X(loop_lag_ms, ms, loop_lag_seconds, "How late the event loop last ran its 1 s timer (/stats: milliseconds)") \
    X(draining, flag, draining, "1 while shutting down (slow drain)") \
    X(cluster_leader, flag, cluster_leader, "1 while this instance sequences the messages published on juggernaut") \
    X(messages_sequenced, counter, messages_sequenced_total, "Messages on juggernaut this instance sequenced as the leader") \
    X(sequenced_in, counter, sequenced_in_total, "Sequenced messages received (cluster mode)") \
    X(sequence_gaps, counter, sequence_gaps_total, "Gaps in the sequence filled from the Redis log") \
    X(sequenced_malformed, counter, sequenced_malformed_total, "Messages on juggernaut:sequenced that were not well formed (ignored)") \
    X(legacy_unsequenced, counter, legacy_unsequenced_total, "Messages on juggernaut no leader sequenced in time (dropped)") \
    X(claims, counter, claims_total, "Transport requests that claimed their session in Redis") \
    X(takeovers, counter, takeovers_total, "Sessions taken over from another instance (or rebuilt here)") \
    X(sessions_moved, counter, sessions_moved_total, "Local session copies dropped because another instance took over") \
    X(answers_recorded, counter, answers_recorded_total, "Polling answers recorded in Redis before they went out") \
    X(sessions_reaped, counter, sessions_reaped_total, "Sessions of dead instances ended by this one") \
    X(replay_gaps, counter, replay_gaps_total, "Ranges of messages a moved session missed that neither the ring nor the Redis log held (the client is told)") \
    X(presence_truncated, counter, presence_truncated_total, "Presence reads cut at presence-max-members entries") \
    X(replays_from_log, counter, replays_from_log_total, "Moved sessions whose backlog was older than the ring, read from the Redis log")

struct jg_stats {
#define JG_STATS_FIELD(name, kind, prom, help) int64_t name;
    JG_STATS_TABLE(JG_STATS_FIELD)
#undef JG_STATS_FIELD
};

/* Appends the stats as one JSON object (no trailing newline). */
void jg_stats_json(const struct jg_stats *st, struct jg_sb *out);
/* Appends the stats in Prometheus text exposition format, names prefixed juggernautd_. */
void jg_stats_prometheus(const struct jg_stats *st, struct jg_sb *out);

#endif /* JG_STATS_H */
