/* stats.c: renders the counter table of stats.h; the counting happens where things happen. */
#include "base/stats.h"

#include <inttypes.h>
#include <string.h>

void jg_stats_json(const struct jg_stats *st, struct jg_sb *out)
{
    const char *sep = "";
    jg_sb_appendc(out, '{');
#define JG_STATS_JSON(name, kind, prom, help) \
    if (!strcmp(#kind, "flag")) \
        jg_sb_appendf(out, "%s\"" #name "\":%s", sep, st->name ? "true" : "false"); \
    else \
        jg_sb_appendf(out, "%s\"" #name "\":%" PRId64, sep, st->name); \
    sep = ",";
    JG_STATS_TABLE(JG_STATS_JSON)
#undef JG_STATS_JSON
    jg_sb_appendc(out, '}');
}

static void prom_metric(struct jg_sb *out, const char *prom, const char *kind, const char *help, int64_t value)
{
    jg_sb_appendf(out, "# HELP juggernautd_%s %s\n# TYPE juggernautd_%s %s\n", prom, help, prom,
                  strcmp(kind, "counter") ? "gauge" : "counter");
    if (!strcmp(kind, "ms"))
        jg_sb_appendf(out, "juggernautd_%s %" PRId64 ".%03" PRId64 "\n", prom, value / 1000, value % 1000);
    else
        jg_sb_appendf(out, "juggernautd_%s %" PRId64 "\n", prom, value);
}

void jg_stats_prometheus(const struct jg_stats *st, struct jg_sb *out)
{
#define JG_STATS_PROM(name, kind, prom, help) prom_metric(out, #prom, #kind, help, st->name);
    JG_STATS_TABLE(JG_STATS_PROM)
#undef JG_STATS_PROM
}
