/* core.h: making the core (context.h) and wiring its modules together: the session table,
 * the channel registry, the constant packets, and the backplane it is given. */
#ifndef JG_CORE_H
#define JG_CORE_H
#include <ev.h>

#include "core/context.h"

struct jg_backplane_ops;

void jg_core_init(struct jg_core *core, struct ev_loop *loop, const struct jg_config *cfg, struct jg_stats *stats);
/* BP's OPS serve the core from now on (before any session exists). */
void jg_core_set_backplane(struct jg_core *core, const struct jg_backplane_ops *ops, void *bp);
/* The backplane agreed on SECRET (at most 64 characters) with the other instances. */
void jg_core_set_shared_secret(struct jg_core *core, const char *secret);
/* Ends every session (their events go to the backplane), frees what init made. */
void jg_core_deinit(struct jg_core *core);

#endif /* JG_CORE_H */
