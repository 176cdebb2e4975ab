/* unused.h: the bounds on handshaken sessions that no transport request has used yet
 * (max-unused-sessions, max-unused-sessions-per-ip): a flood of handshakes is refused instead
 * of stored. Counts in total and per client address. */
#ifndef JG_UNUSED_H
#define JG_UNUSED_H
#include <stdbool.h>
#include <stddef.h>

struct jg_config;
struct jg_unused;
struct jg_unused_addr;

struct jg_unused *jg_unused_new(void);
void jg_unused_free(struct jg_unused *u);
size_t jg_unused_count(const struct jg_unused *u);
/* One more unused session from PEER ("host:port"), within CFG's bounds: true, with *ADDR set
 * to what jg_unused_release needs; false with *LIMIT set to the key's name when over one. */
bool jg_unused_take(struct jg_unused *u, const struct jg_config *cfg, const char *peer,
                    struct jg_unused_addr **addr, const char **limit);
/* That session was used or ended. */
void jg_unused_release(struct jg_unused *u, struct jg_unused_addr *addr);

#endif /* JG_UNUSED_H */
