/* list.h: intrusive circular doubly linked list (header-only). A node embedded in a struct
 * is unlinked in O(1); an unlinked node points to itself, so removing twice is harmless. */
#ifndef JG_LIST_H
#define JG_LIST_H
#include <stdbool.h>
#include <stddef.h>

struct jg_list {
    struct jg_list *next;
    struct jg_list *prev;
};

#define jg_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

static inline void jg_list_init(struct jg_list *l)
{
    l->next = l->prev = l;
}

static inline bool jg_list_empty(const struct jg_list *l)
{
    return l->next == l;
}

/* True if NODE is linked into some list (init'ed nodes that were removed are not). */
static inline bool jg_list_linked(const struct jg_list *node)
{
    return node->next != node && node->next != NULL;
}

static inline void jg_list_add_tail(struct jg_list *head, struct jg_list *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

static inline void jg_list_remove(struct jg_list *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->next = node->prev = node;
}

/* Iterates allowing removal of the current node: N caches the next one. */
#define jg_list_each_safe(pos, n, head) \
    for ((pos) = (head)->next, (n) = (pos)->next; (pos) != (head); (pos) = (n), (n) = (pos)->next)

#endif /* JG_LIST_H */
