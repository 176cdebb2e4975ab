/* channel.c: the channel registry (strtab) and the fan-out loop. The loop does no
 * encoding of its own: one packet, one shared frame, a reference per subscriber. */
#include "core/channel.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/list.h"
#include "base/stats.h"
#include "base/strtab.h"
#include "base/xalloc.h"
#include "core/session.h"
#include "proto/sio.h"

/* The name is in the same allocation: a lookup by name (every delivery) touches the
 * table's slot and this struct, nothing else. */
struct jg_channel {
    struct jg_list subs;         /* struct jg_sub.channel_node, in subscription order */
    size_t nsubs;
    char name[];                 /* NUL-terminated */
};

struct jg_sub {
    struct jg_list channel_node; /* in channel->subs */
    struct jg_sub *session_next; /* the next in the session's ring (jg_session_subs) */
    struct jg_channel *channel;  /* borrowed */
    struct jg_session *session;  /* borrowed */
    /* shared backplane; the three share 8 bytes (set_seq_hi says why 62 bits are enough) */
    uint64_t seq_hi : 62;        /* highest seq delivered on this subscription */
    uint64_t presence : 1;       /* wants presence snapshot/join/leave */
    uint64_t backfilling : 1;    /* history/presence fetch in flight: live messages wait */
};
_Static_assert(sizeof(struct jg_sub) <= 48, "every idle subscriber has one: keep it in jemalloc's 48 class");

/* Largest seq_hi can hold. Seqs are the counter of redis/juggernaut.lua, which starts at the
 * time in microseconds (under 2^51 in 2026) and counts one per message: 2^62 is more than
 * 100,000 years of a million messages a second away. */
#define SEQ_HI_MAX ((UINT64_C(1) << 62) - 1)

/* Stores SEQ in SUB->seq_hi. A seq past SEQ_HI_MAX (a corrupt counter) is kept as
 * SEQ_HI_MAX rather than cut to its low bits, which would make the subscription take the
 * ring's messages again. */
static void set_seq_hi(struct jg_sub *sub, uint64_t seq)
{
    sub->seq_hi = seq < SEQ_HI_MAX ? seq : SEQ_HI_MAX;
}

/* ---- a session's subscriptions: a singly linked ring ----
 * jg_session_subs holds the newest (last); last->session_next is the oldest, so iterating
 * in subscription order and appending are O(1) with one pointer per subscription. Taking
 * one out walks the ring to its predecessor: O(subscriptions of the session), at most
 * max-subscriptions (pubsub.c refuses more; 1000 by default), and O(1) for the oldest, which
 * is how a session's end removes them all (jg_pubsub_session_ended). */

static void session_add(struct jg_sub *sub)
{
    struct jg_session_subs *ss = jg_session_subs(sub->session);
    if (ss->last) {
        sub->session_next = ss->last->session_next;
        ss->last->session_next = sub;
    } else {
        sub->session_next = sub;
    }
    ss->last = sub;
    ss->n++;
}

static void session_remove(struct jg_sub *sub)
{
    struct jg_session_subs *ss = jg_session_subs(sub->session);
    struct jg_sub *prev = ss->last;
    while (prev->session_next != sub)
        prev = prev->session_next;
    prev->session_next = sub->session_next;
    if (ss->last == sub)
        ss->last = prev == sub ? NULL : prev;   /* prev == sub: it was the only one */
    ss->n--;
}

struct jg_channel_registry {
    struct jg_strtab by_name;     /* every channel with a subscriber (.live: how many) */
    struct jg_stats *stats;       /* borrowed, may be NULL */
};

static const char *name_of(const void *channel)
{
    return ((const struct jg_channel *)channel)->name;
}

struct jg_channel_registry *jg_channel_registry_new(struct jg_stats *stats)
{
    struct jg_channel_registry *reg = jg_xcalloc(1, sizeof *reg);
    jg_strtab_init(&reg->by_name, name_of);
    reg->stats = stats;
    return reg;
}

void jg_channel_registry_free(struct jg_channel_registry *reg)
{
    if (!reg)
        return;
    size_t at = 0;
    for (struct jg_channel *ch; (ch = jg_strtab_next(&reg->by_name, &at));) {
        struct jg_list *pos, *n;
        jg_list_each_safe(pos, n, &ch->subs) {
            struct jg_sub *sub = jg_container_of(pos, struct jg_sub, channel_node);
            session_remove(sub);
            free(sub);
        }
        free(ch);
    }
    jg_strtab_free(&reg->by_name);
    free(reg);
}

struct jg_channel *jg_channel_find(struct jg_channel_registry *reg, const char *name)
{
    return jg_strtab_find(&reg->by_name, name);
}

size_t jg_channel_count(const struct jg_channel_registry *reg)
{
    return reg->by_name.live;
}

/* Whether A goes before B in top_channels: more subscribers, or as many and a smaller name
 * (the table's order is its hash's, which differs between processes). */
static bool busier(const struct jg_channel *a, const struct jg_channel *b)
{
    return a->nsubs != b->nsubs ? a->nsubs > b->nsubs : strcmp(a->name, b->name) < 0;
}

void jg_channel_top_json(struct jg_channel_registry *reg, size_t n, struct jg_sb *out)
{
    /* a small insertion-sorted selection: N is tiny, the registry may be large */
    struct jg_channel **top = jg_xcalloc(n ? n : 1, sizeof *top);
    size_t have = 0;
    size_t at = 0;
    for (struct jg_channel *ch; (ch = jg_strtab_next(&reg->by_name, &at));) {
        size_t i = have < n ? have++ : n;
        if (i == n && (n == 0 || !busier(ch, top[n - 1])))
            continue;
        if (i == n)
            i = n - 1;
        while (i > 0 && busier(ch, top[i - 1])) {
            top[i] = top[i - 1];
            i--;
        }
        top[i] = ch;
    }
    jg_sb_appendc(out, '[');
    for (size_t i = 0; i < have; i++) {
        jg_sb_appends(out, i ? ",{\"channel\":" : "{\"channel\":");
        jg_sio_js_string_append(out, top[i]->name, strlen(top[i]->name), false);
        jg_sb_appendf(out, ",\"subscribers\":%zu}", top[i]->nsubs);
    }
    jg_sb_appendc(out, ']');
    free(top);
}

static struct jg_sub *find_sub(struct jg_channel *ch, struct jg_session *s)
{
    /* Walk the shorter list: a session has few channels, a channel may have thousands. */
    if (jg_session_subs(s)->n <= ch->nsubs) {
        for (struct jg_sub *sub = jg_sub_first(s); sub; sub = jg_sub_next(s, sub))
            if (sub->channel == ch)
                return sub;
    } else {
        for (struct jg_list *pos = ch->subs.next; pos != &ch->subs; pos = pos->next) {
            struct jg_sub *sub = jg_container_of(pos, struct jg_sub, channel_node);
            if (sub->session == s)
                return sub;
        }
    }
    return NULL;
}

struct jg_sub *jg_channel_subscribe(struct jg_channel_registry *reg, const char *name, struct jg_session *s,
                                    bool allow_duplicate)
{
    struct jg_channel *ch = jg_channel_find(reg, name);
    if (!ch) {
        size_t len = strlen(name);
        ch = jg_xmalloc(sizeof *ch + len + 1);
        ch->nsubs = 0;
        memcpy(ch->name, name, len + 1);
        jg_list_init(&ch->subs);
        jg_strtab_add(&reg->by_name, ch);
        if (reg->stats)
            reg->stats->channels++;
    } else if (!allow_duplicate && find_sub(ch, s)) {
        return NULL;
    }
    struct jg_sub *sub = jg_xcalloc(1, sizeof *sub);
    sub->channel = ch;
    sub->session = s;
    jg_list_add_tail(&ch->subs, &sub->channel_node);
    session_add(sub);
    ch->nsubs++;
    if (reg->stats)
        reg->stats->subscriptions++;
    return sub;
}

void jg_channel_remove_sub(struct jg_channel_registry *reg, struct jg_sub *sub)
{
    struct jg_channel *ch = sub->channel;
    jg_list_remove(&sub->channel_node);
    session_remove(sub);
    ch->nsubs--;
    free(sub);
    if (reg->stats)
        reg->stats->subscriptions--;
    if (ch->nsubs == 0) {
        jg_strtab_remove(&reg->by_name, ch);
        if (reg->stats)
            reg->stats->channels--;
        free(ch);
    }
}

size_t jg_channel_unsubscribe(struct jg_channel_registry *reg, const char *name, struct jg_session *s)
{
    struct jg_channel *ch = jg_channel_find(reg, name);
    size_t removed = 0;
    struct jg_sub *sub;
    /* A channel survives while it has other subscribers, so CH stays valid until the
     * removal that empties it, which is necessarily the last one. */
    while (ch && (sub = find_sub(ch, s)) != NULL) {
        bool last = ch->nsubs == 1;
        jg_channel_remove_sub(reg, sub);
        removed++;
        if (last)
            break;
    }
    return removed;
}

static bool excepted(const struct jg_session *s, char *const *except, size_t nexcept)
{
    const char *sid = jg_session_sid(s);
    for (size_t i = 0; i < nexcept; i++)
        if (strcmp(except[i], sid) == 0)
            return true;
    return false;
}

size_t jg_channel_publish(struct jg_channel_registry *reg, const char *name, struct jg_buf *pkt,
                          char *const *except, size_t nexcept)
{
    struct jg_channel *ch = jg_channel_find(reg, name);
    return ch ? jg_channel_publish_to(ch, pkt, except, nexcept) : 0;
}

size_t jg_channel_publish_seq(struct jg_channel *ch, struct jg_buf *pkt, char *const *except, size_t nexcept,
                              uint64_t seq, bool presence_only)
{
    struct jg_buf *frame = NULL;
    size_t sent = 0;
    for (struct jg_list *pos = ch->subs.next; pos != &ch->subs; pos = pos->next) {
        struct jg_sub *sub = jg_container_of(pos, struct jg_sub, channel_node);
        if (sub->seq_hi >= seq || sub->backfilling || (presence_only && !sub->presence))
            continue;
        set_seq_hi(sub, seq);
        if (nexcept && excepted(sub->session, except, nexcept))
            continue;
        jg_session_send_seq(sub->session, pkt, &frame, seq);
        sent++;
    }
    jg_buf_unref(frame);
    return sent;
}

struct jg_sub *jg_channel_find_sub(struct jg_channel_registry *reg, const char *name, struct jg_session *s)
{
    struct jg_channel *ch = jg_channel_find(reg, name);
    return ch ? find_sub(ch, s) : NULL;
}

size_t jg_channel_publish_to(struct jg_channel *ch, struct jg_buf *pkt, char *const *except, size_t nexcept)
{
    struct jg_buf *frame = NULL;   /* shared transport encoding, built by the first user */
    size_t sent = 0;
    struct jg_list *pos;
    /* jg_session_send never unsubscribes or ends a session synchronously, so the list
     * cannot change under this loop. */
    for (pos = ch->subs.next; pos != &ch->subs; pos = pos->next) {
        struct jg_sub *sub = jg_container_of(pos, struct jg_sub, channel_node);
        if (nexcept && excepted(sub->session, except, nexcept))
            continue;
        jg_session_send(sub->session, pkt, &frame);
        sent++;
    }
    jg_buf_unref(frame);
    return sent;
}

const char *jg_channel_name(const struct jg_channel *ch) { return ch->name; }
size_t jg_channel_subscribers(const struct jg_channel *ch) { return ch->nsubs; }

/* ---- one subscription ---- */

struct jg_sub *jg_sub_first(struct jg_session *s)
{
    struct jg_sub *last = jg_session_subs(s)->last;
    return last ? last->session_next : NULL;
}

struct jg_sub *jg_sub_next(struct jg_session *s, struct jg_sub *sub)
{
    return sub == jg_session_subs(s)->last ? NULL : sub->session_next;
}

struct jg_session *jg_sub_session(const struct jg_sub *sub) { return sub->session; }
struct jg_channel *jg_sub_channel(const struct jg_sub *sub) { return sub->channel; }
const char *jg_sub_channel_name(const struct jg_sub *sub) { return sub->channel->name; }
uint64_t jg_sub_seq_hi(const struct jg_sub *sub) { return sub->seq_hi; }
void jg_sub_set_seq_hi(struct jg_sub *sub, uint64_t seq) { set_seq_hi(sub, seq); }
bool jg_sub_presence(const struct jg_sub *sub) { return sub->presence; }
void jg_sub_set_presence(struct jg_sub *sub, bool on) { sub->presence = on; }
bool jg_sub_backfilling(const struct jg_sub *sub) { return sub->backfilling; }
void jg_sub_set_backfilling(struct jg_sub *sub, bool on) { sub->backfilling = on; }
