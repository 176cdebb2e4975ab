/* endlater.h: the sessions to end from the loop's check phase (jg_session_end_later), in
 * the order asked, each with its reason. An array kept beside the sessions rather than a
 * list node in each: few sessions ever wait here, and every session would pay for the room
 * (24 bytes of an idle one). An entry's position (1 + its index) stays valid until the
 * array is emptied, so a session that ends first takes its entry out in O(1). Zeroed =
 * empty. Loop thread only. */
#ifndef JG_ENDLATER_H
#define JG_ENDLATER_H
#include <stddef.h>
#include <stdint.h>

struct jg_session;

struct jg_endlater_entry {
    struct jg_session *s;                /* borrowed; NULL: taken out */
    const char *reason;                  /* borrowed (a string literal) */
};

struct jg_endlater {
    struct jg_endlater_entry *v;         /* owned array, NULL when empty */
    size_t n;                            /* entries in V, taken out ones included */
    size_t cap;                          /* room in V */
    size_t done;                         /* entries jg_endlater_next has handed out */
};

/* Appends S with REASON (not copied). Returns its position (never 0). */
uint32_t jg_endlater_add(struct jg_endlater *l, struct jg_session *s, const char *reason);
/* Takes out the entry at POS (from jg_endlater_add, not yet handed out): its session
 * ended by other means. */
void jg_endlater_remove(struct jg_endlater *l, uint32_t pos);
/* The next session, in the order added (entries added meanwhile included), with its
 * *REASON; NULL when none is left, and then the array is freed. */
struct jg_session *jg_endlater_next(struct jg_endlater *l, const char **reason);
/* Frees the array; the entries are forgotten. */
void jg_endlater_deinit(struct jg_endlater *l);

#endif /* JG_ENDLATER_H */
