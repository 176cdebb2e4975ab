/* usage.h: the --help text, doc/usage.txt embedded by the Makefile. The same file feeds
 * the OPTIONS and SIGNALS of juggernautd(8) (scripts/gen-man.sh), so they cannot differ. */
#ifndef JG_USAGE_H
#define JG_USAGE_H

extern const char jg_usage[];

#endif
