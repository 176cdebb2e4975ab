/* single.c: the single-instance backplane (single.h). */
#include "cluster/single.h"

#include <stdlib.h>

#include "base/xalloc.h"
#include "cluster/broker.h"
#include "core/backplane.h"
#include "core/core.h"
#include "core/pubsub.h"

struct jg_single {
    struct jg_core *core;        /* borrowed */
    struct jg_broker *broker;    /* borrowed */
};

static void event(void *bp, const char *channel, const char *json, size_t len)
{
    struct jg_single *sg = bp;
    jg_broker_publish(sg->broker, channel, json, len);
}

static const struct jg_backplane_ops single_ops = {
    .name = "single",
    .shared = false,
    .event = event,
};

static void message(void *user, const char *channel, const char *text, size_t len)
{
    struct jg_single *sg = user;
    jg_pubsub_message(sg->core, text, len);
}

struct jg_single *jg_single_new(struct jg_core *core, struct jg_broker *broker)
{
    struct jg_single *sg = jg_xcalloc(1, sizeof *sg);
    sg->core = core;
    sg->broker = broker;
    jg_core_set_backplane(core, &single_ops, sg);
    static const char *const channels[] = { "juggernaut" };
    struct jg_broker_hooks hooks = { .user = sg, .message = message };
    jg_broker_start(broker, &hooks, channels, 1);
    return sg;
}

void jg_single_free(struct jg_single *sg)
{
    free(sg);
}
