/* spent.h: the signed sids whose session ended here. A signed sid can be adopted by any
 * instance sharing the secret (session.h); once its session ended it must not be adopted
 * again while its signature is still accepted: first use wins, and a third party replaying
 * it gets an unknown session. Bounded by count; entries go when their signature expires. */
#ifndef JG_SPENT_H
#define JG_SPENT_H
#include <stdbool.h>

struct jg_spent_set;

struct jg_spent_set *jg_spent_new(void);
void jg_spent_free(struct jg_spent_set *set);
/* SID ended at NOW; its signature is accepted until UNTIL. */
void jg_spent_add(struct jg_spent_set *set, const char *sid, double until, double now);
bool jg_spent_has(struct jg_spent_set *set, const char *sid, double now);
void jg_spent_clear(struct jg_spent_set *set);

#endif /* JG_SPENT_H */
