/* stats.c: renders the counter table of stats.h; the counting happens where things happen. */
#include "stats.h"

#include <inttypes.h>
#include <string.h>

void jg_stats_json(const struct jg_stats *st, struct jg_sb *out)
{
    const char *sep = "";
    jg_sb_appendc(out, '{');
#define JG_STATS_JSON(name, kind, help) \
    if (!strcmp(#kind, "flag")) \
        jg_sb_appendf(out, "%s\"" #name "\":%s", sep, st->name ? "true" : "false"); \
    else \
        jg_sb_appendf(out, "%s\"" #name "\":%" PRId64, sep, st->name); \
    sep = ",";
    JG_STATS_TABLE(JG_STATS_JSON)
#undef JG_STATS_JSON
    jg_sb_appendc(out, '}');
}

void jg_stats_prometheus(const struct jg_stats *st, struct jg_sb *out)
{
#define JG_STATS_PROM(name, kind, help) \
    jg_sb_appendf(out, "# HELP juggernautd_" #name " " help "\n# TYPE juggernautd_" #name " %s" \
                  "\njuggernautd_" #name " %" PRId64 "\n", strcmp(#kind, "counter") ? "gauge" : "counter", st->name);
    JG_STATS_TABLE(JG_STATS_PROM)
#undef JG_STATS_PROM
}
