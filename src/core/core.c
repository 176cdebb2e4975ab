/* core.c: the core's context (core.h): made once at start by app/server.c. */
#include "core/core.h"

#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "core/backplane.h"
#include "core/channel.h"
#include "core/pubsub.h"
#include "core/session.h"

static struct jg_buf *const_buf(const char *s)
{
    return jg_buf_new(s, strlen(s));
}

void jg_core_init(struct jg_core *core, struct ev_loop *loop, const struct jg_config *cfg, struct jg_stats *stats)
{
    memset(core, 0, sizeof *core);
    core->loop = loop;
    core->cfg = cfg;
    core->stats = stats;
    core->sessions = jg_session_table_new(loop);
    core->channels = jg_channel_registry_new(stats);
    core->session_ending = jg_pubsub_session_ended;
    core->pkts.connect = const_buf("1::");
    core->pkts.heartbeat = const_buf("2::");
    core->pkts.disconnect = const_buf("0::");
    core->pkts.noop = const_buf("8::");
    core->pkts.unknown_sid = const_buf("7:::1+0");
}

void jg_core_set_backplane(struct jg_core *core, const struct jg_backplane_ops *ops, void *bp)
{
    core->bp_ops = ops;
    core->bp = bp;
    core->shared = ops->shared;
}

void jg_core_set_shared_secret(struct jg_core *core, const char *secret)
{
    snprintf(core->shared_secret, sizeof core->shared_secret, "%s", secret);
}

void jg_core_deinit(struct jg_core *core)
{
    if (core->sessions)
        jg_session_end_all(core, "shutdown");
    jg_session_table_free(core->sessions);
    core->sessions = NULL;
    jg_channel_registry_free(core->channels);
    core->channels = NULL;
    struct jg_buf **bufs[] = {
        &core->pkts.connect, &core->pkts.heartbeat, &core->pkts.disconnect, &core->pkts.noop,
        &core->pkts.unknown_sid, &core->pkts.connect_frame, &core->pkts.heartbeat_frame,
        &core->pkts.disconnect_frame,
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        jg_buf_unref(*bufs[i]);
        *bufs[i] = NULL;
    }
}
