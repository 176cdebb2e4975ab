/* fuzz_config.c: the configuration file parser (jg_config_load over a file whose bytes are
 * the input), then what the daemon does with a loaded config: the cross-key checks, the
 * reload path (jg_config_keep_fixed against a second load), the transports list and the
 * origin check. The input is written to a memfd and read through /proc/self/fd, so the
 * real fopen/fgets path runs. Oracles: the sanitizers and LeakSanitizer (every string the
 * parser keeps is freed by jg_config_deinit, including after an error), an error always
 * has a message, a second load of the same file changes no fixed key, and with no
 * "origins" every origin is allowed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/config.h"

#include "fuzz_common.h"

static int memfd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("jg_fuzz_config", 0);
        if (memfd < 0)
            fz_fail("memfd_create");
        snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
    }
    if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
        fz_fail("writing the memfd");

    struct jg_config cfg, again;
    char err[1024] = "";
    jg_config_defaults(&cfg);
    int rc = jg_config_load(&cfg, path, err, sizeof err);
    if (rc != 0 && !err[0])
        fz_fail("jg_config_load failed without a message");
    if (rc == 0) {
        err[0] = '\0';
        if (jg_config_check(&cfg, err, sizeof err) != 0 && !err[0])
            fz_fail("jg_config_check failed without a message");
        char list[128];
        jg_config_transports_list(&cfg, list, sizeof list);
        /* the last line of the input, as an Origin header */
        const uint8_t *nl = size ? memrchr(data, '\n', size) : NULL;
        size_t off = nl ? (size_t)(nl - data) + 1 : 0;
        char origin[256];
        size_t olen = size - off < sizeof origin - 1 ? size - off : sizeof origin - 1;
        memcpy(origin, data + off, olen);
        origin[olen] = '\0';
        bool ok = jg_config_origin_allowed(&cfg, origin);
        if (!ok && !cfg.origins)
            fz_fail("no origins configured, yet %s was refused", origin);
        /* SIGHUP: the file read again, the fixed keys moved over */
        jg_config_defaults(&again);
        if (jg_config_load(&again, path, err, sizeof err) != 0)
            fz_fail("a second load of the same file failed: %s", err);
        char changed[512];
        jg_config_keep_fixed(&again, &cfg, changed, sizeof changed);
        if (changed[0])
            fz_fail("the same file changed fixed keys: %s", changed);
        jg_config_deinit(&again);
    }
    jg_config_deinit(&cfg);
    return 0;
}
